//! What Microsoft's own connectivity tools ask for, so `verify` probes the same.
//!
//! What Microsoft's own connectivity tools ask for, so `verify` probes
//! the URLs they probe and counts the answers they count: the probe paths
//! of known hosts, the answers that mean "reachable", and a real host to
//! stand for a wildcard. Each row says where it comes from. The ruleset's
//! `[[verify.probes]]` extends or overrides this table.

/// Answers MDEClientAnalyzer counts as a good route for any URL: blob
/// roots answer 400, `events.data.microsoft.com` answers 404.
pub const DEFAULT_EXPECT: &[u16] = &[200, 400, 404];
pub const DEFAULT_EXPECT_SOURCE: &str =
    "MDEClientAnalyzer counts 200, 400 and 404 as a working route";

/// A probe path for hosts matching `host` (one `*` at most, standing for
/// any run of characters inside a name).
pub struct KnownPath {
    pub host: &'static str,
    pub path: &'static str,
    /// Empty: [`DEFAULT_EXPECT`].
    pub expect: &'static [u16],
    pub source: &'static str,
}

const ANALYZER: &str = "MDEClientAnalyzer connectivity test";
const MDATP: &str = "mdatp connectivity test (macOS/Linux)";
const MDI: &str = "Defender for Identity sensor connectivity check";

pub const PATHS: &[KnownPath] = &[
    KnownPath {
        host: "winatp-gw-*.microsoft.com",
        path: "/commands/test",
        expect: &[],
        source: ANALYZER,
    },
    KnownPath {
        host: "winatp-gw-*.microsoft.us",
        path: "/commands/test",
        expect: &[],
        source: ANALYZER,
    },
    KnownPath {
        host: "*-v20.events.data.microsoft.com",
        path: "/ping",
        expect: &[],
        source: ANALYZER,
    },
    KnownPath {
        host: "*.vortex-win.data.microsoft.com",
        path: "/ping",
        expect: &[],
        source: ANALYZER,
    },
    KnownPath {
        host: "settings-win.data.microsoft.com",
        path: "/qos",
        expect: &[],
        source: ANALYZER,
    },
    KnownPath {
        host: "ctldl.windowsupdate.com",
        path: "/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab",
        expect: &[],
        source: ANALYZER,
    },
    KnownPath {
        host: "x.cp.wd.microsoft.com",
        path: "/api/report",
        expect: &[],
        source: MDATP,
    },
    KnownPath {
        host: "cdn.x.cp.wd.microsoft.com",
        path: "/ping",
        expect: &[],
        source: MDATP,
    },
    KnownPath {
        host: "*sensorapi.atp.azure.com",
        path: "/tri/sensor/api/ping",
        // 503 on some older workspaces still means the sensor API answered.
        expect: &[200, 503],
        source: MDI,
    },
];

/// A real host below a wildcard of Microsoft's lists, to probe for it.
pub struct KnownHost {
    /// The policy entry's pattern as the policy writes it.
    pub pattern: &'static str,
    pub url: &'static str,
    pub source: &'static str,
}

const WDSS: &str =
    "Windows Defender SmartScreen connectivity tests (nsacyber/HTTP-Connectivity-Tester)";
const WU: &str = "Learn: Windows Update connection endpoints";

pub const HOSTS: &[KnownHost] = &[
    KnownHost {
        pattern: "*.wd.microsoft.com",
        url: "https://x.cp.wd.microsoft.com/api/report",
        source: MDATP,
    },
    KnownHost {
        pattern: "*.events.data.microsoft.com",
        url: "https://us-v20.events.data.microsoft.com/ping",
        source: ANALYZER,
    },
    KnownHost {
        pattern: ".events.data.microsoft.com",
        url: "https://events.data.microsoft.com/",
        source: ANALYZER,
    },
    KnownHost {
        pattern: "*.smartscreen.microsoft.com",
        url: "https://nav.smartscreen.microsoft.com/",
        source: WDSS,
    },
    KnownHost {
        pattern: "*.urs.microsoft.com",
        url: "https://t.urs.microsoft.com/",
        source: WDSS,
    },
    KnownHost {
        pattern: "*.update.microsoft.com",
        url: "https://sls.update.microsoft.com/",
        source: WU,
    },
    KnownHost {
        pattern: "*.delivery.mp.microsoft.com",
        url: "https://fe3.delivery.mp.microsoft.com/",
        source: WU,
    },
    KnownHost {
        pattern: "*.windowsupdate.com",
        url: "https://download.windowsupdate.com/",
        source: WU,
    },
];

/// Whether `host` matches a table pattern with at most one `*`.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == host,
        Some((head, tail)) => {
            host.len() > head.len() + tail.len() && host.starts_with(head) && host.ends_with(tail)
        }
    }
}

/// The probe path of a known host.
pub fn path_for(host: &str) -> Option<&'static KnownPath> {
    PATHS.iter().find(|k| host_matches(k.host, host))
}

/// The known host standing for a wildcard pattern.
pub fn host_for(pattern: &str) -> Option<&'static KnownHost> {
    HOSTS.iter().find(|k| k.pattern == pattern)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DnsName;
    use crate::model::host::parse_pattern;
    use crate::policy::matching::admits;
    use crate::values::ProbeUrl;

    #[test]
    fn every_known_host_is_a_valid_url_its_pattern_admits() {
        for k in HOSTS {
            let url = ProbeUrl::parse(k.url).unwrap_or_else(|e| panic!("{}: {e}", k.url));
            let pattern = parse_pattern(k.pattern).unwrap();
            assert_eq!(
                pattern.to_string(),
                k.pattern,
                "written as the policy writes it"
            );
            assert!(
                admits(&pattern, &url.host),
                "{} does not admit {}",
                k.pattern,
                k.url
            );
        }
    }

    #[test]
    fn every_known_path_is_a_path_and_every_expected_answer_a_status() {
        for k in PATHS {
            let probe = format!("https://example.com{}", k.path);
            ProbeUrl::parse(&probe).unwrap_or_else(|e| panic!("{e}"));
            assert!(k.expect.iter().all(|s| (100..600).contains(s)));
            let sample = k.host.replace('*', "weu");
            assert!(DnsName::parse(&sample).is_ok(), "{sample}");
            assert!(host_matches(k.host, &sample));
        }
    }

    #[test]
    fn one_star_stands_for_a_non_empty_run() {
        assert!(host_matches(
            "winatp-gw-*.microsoft.com",
            "winatp-gw-weu.microsoft.com"
        ));
        assert!(!host_matches(
            "winatp-gw-*.microsoft.com",
            "winatp-gw-.microsoft.com"
        ));
        assert!(!host_matches(
            "winatp-gw-*.microsoft.com",
            "winatp-gw-weu.microsoft.us"
        ));
        assert!(host_matches(
            "*sensorapi.atp.azure.com",
            "contososensorapi.atp.azure.com"
        ));
        assert!(!host_matches(
            "*sensorapi.atp.azure.com",
            "sensorapi.atp.azure.com"
        ));
    }
}

//! What a host pattern admits, and when one pattern covers another.
//!
//! What a host pattern admits, and when one pattern covers another. The
//! collapse step, the TLS decisions and `explain` all rely on these two
//! relations, so they live in one place.

use crate::model::{DnsName, HostPattern};

/// Whether `pattern` admits the host `host`.
pub fn admits(pattern: &HostPattern, host: &DnsName) -> bool {
    match pattern {
        HostPattern::Exact(x) => host == x,
        HostPattern::Subdomains(x) => host.is_below(x),
        HostPattern::Domain(x) => x.covers(host),
        // `*smartscreen.microsoft.com`: any host whose text ends so.
        HostPattern::SuffixGlob(x) => host.as_str().ends_with(x.as_str()),
        // A placeholder admits nothing until the site fills it in.
        HostPattern::Template(_) => false,
    }
}

/// The name a suffix glob's hosts all lie below: `microsoft.com` for
/// `*smartscreen.microsoft.com`.
fn glob_parent(glob: &DnsName) -> Option<DnsName> {
    let (_, parent) = glob.as_str().split_once('.')?;
    DnsName::parse(parent).ok()
}

/// Whether every host `inner` admits is admitted by `outer`.
pub fn covers(outer: &HostPattern, inner: &HostPattern) -> bool {
    use HostPattern::*;
    match (outer, inner) {
        (Template(_), _) | (_, Template(_)) => false,
        (Exact(x), Exact(y)) => x == y,
        (Exact(_), _) => false,
        (Subdomains(x), Exact(y) | Domain(y)) => y.is_below(x),
        (Subdomains(x), Subdomains(y)) => y == x || y.is_below(x),
        (Domain(x), Exact(y) | Subdomains(y) | Domain(y)) => x.covers(y),
        (Subdomains(x) | Domain(x), SuffixGlob(y)) => {
            glob_parent(y).is_some_and(|p| p == *x || p.is_below(x))
        }
        (SuffixGlob(x), Exact(y) | Subdomains(y) | Domain(y) | SuffixGlob(y)) => {
            y.as_str().ends_with(x.as_str())
        }
    }
}

/// Whether two patterns admit at least one common host. Every kind is a
/// suffix condition on the host name, and two suffix conditions share a
/// host only when one implies the other, so overlap is cover either way.
pub fn overlaps(a: &HostPattern, b: &HostPattern) -> bool {
    covers(a, b) || covers(b, a)
}

/// Whether a path prefix `outer` (none = the whole site) covers `inner`.
pub fn path_covers(outer: Option<&str>, inner: Option<&str>) -> bool {
    match (outer, inner) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(i)) => i.starts_with(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::host::parse_pattern;

    fn p(text: &str) -> HostPattern {
        parse_pattern(text).unwrap()
    }

    fn n(text: &str) -> DnsName {
        DnsName::parse(text).unwrap()
    }

    #[test]
    fn admits_by_kind() {
        assert!(admits(&p("x.example.com"), &n("x.example.com")));
        assert!(!admits(&p("x.example.com"), &n("a.x.example.com")));
        assert!(admits(&p("*.example.com"), &n("a.example.com")));
        assert!(!admits(&p("*.example.com"), &n("example.com")));
        assert!(admits(&p(".example.com"), &n("example.com")));
        assert!(admits(
            &p("*smartscreen.microsoft.com"),
            &n("foosmartscreen.microsoft.com")
        ));
        assert!(!admits(
            &p("*.blob.core.windows.net"),
            &n("blob.core.windows.net.evil.example")
        ));
        assert!(!admits(
            &p("winatp-gw-cus.microsoft.com"),
            &n("xwinatp-gw-cus.microsoft.com")
        ));
    }

    #[test]
    fn covers_by_kind() {
        assert!(covers(&p("*.example.com"), &p("a.example.com")));
        assert!(covers(&p("*.example.com"), &p("*.a.example.com")));
        assert!(covers(&p("*.example.com"), &p("*.example.com")));
        assert!(!covers(&p("*.example.com"), &p("example.com")));
        assert!(!covers(&p("*.example.com"), &p(".example.com")));
        assert!(covers(&p(".example.com"), &p("example.com")));
        assert!(covers(&p(".example.com"), &p("*.example.com")));
        assert!(covers(
            &p("*.microsoft.com"),
            &p("*smartscreen.microsoft.com")
        ));
        assert!(!covers(
            &p("*.smartscreen.microsoft.com"),
            &p("*smartscreen.microsoft.com")
        ));
        assert!(covers(
            &p("*screen.microsoft.com"),
            &p("*smartscreen.microsoft.com")
        ));
        assert!(covers(
            &p("*screen.microsoft.com"),
            &p("a.smartscreen.microsoft.com")
        ));
        assert!(!covers(&p("a.example.com"), &p("*.example.com")));
    }

    #[test]
    fn overlaps_finds_shared_hosts() {
        assert!(overlaps(
            &p("*.blob.core.windows.net"),
            &p("x.blob.core.windows.net")
        ));
        assert!(overlaps(&p("*.windows.net"), &p("*.blob.core.windows.net")));
        assert!(!overlaps(
            &p("*.blob.core.windows.net"),
            &p("*.queue.core.windows.net")
        ));
        assert!(overlaps(&p("*b.example.com"), &p("*.ab.example.com")));
    }

    #[test]
    fn paths() {
        assert!(path_covers(None, Some("/a/")));
        assert!(path_covers(Some("/a/"), Some("/a/b")));
        assert!(!path_covers(Some("/a/"), None));
        assert!(!path_covers(Some("/a/"), Some("/b/")));
    }
}

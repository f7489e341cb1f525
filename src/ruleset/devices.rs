//! Whether the `[devices]` table agrees with the proxy and PAC the ruleset generates.
//!
//! Whether the `[devices]` table agrees with what the generated
//! configuration serves: each proxy a device is told to use must be one
//! the generated proxy serves, and the PAC URL must be where the generated
//! PAC is published. Checked when the ruleset is read, where the site and
//! the outputs are both visible, so a mismatch stops `generate` before
//! anything is written.

use crate::backends::registry::Outputs;
use crate::site::Site;
use crate::site::devices::Devices;
use crate::values::ProxyAddress;

/// The mismatches between what devices are told and what the
/// generated configuration serves, each naming both sides.
pub fn mismatches(site: &Site, outputs: &Outputs) -> Vec<(&'static str, String)> {
    let devices = &site.devices;
    let mut out = Vec::new();
    let proxies = &site.proxy.addresses;
    let named = [
        ("windows_proxy", &devices.windows_proxy),
        ("macos_proxy", &devices.macos_proxy),
        ("linux_proxy", &devices.linux_proxy),
        ("identity_proxy", &devices.identity_proxy),
    ];
    let listed: Vec<&str> = proxies.iter().map(ProxyAddress::as_str).collect();
    for (key, value) in named {
        let Some(p) = value else { continue };
        if !listed.contains(&p.as_str()) {
            out.push((
                key,
                format!(
                    "devices.{key} = {:?} is not one of the [proxy] addresses ({}): the generated configuration serves only those",
                    p.as_str(),
                    if listed.is_empty() { "none".to_string() } else { listed.join(", ") }
                ),
            ));
        }
    }
    // Whether or not device outputs are configured, devices reach the
    // generated Squid only on its own port: every [proxy] address and
    // every proxy the PAC answers must name it.
    if let Some(squid) = &outputs.squid {
        for (key, value) in named {
            let Some(p) = value
                .as_ref()
                .filter(|p| port_of(p.as_str()) != Some(squid.listen.0))
            else {
                continue;
            };
            out.push((
                key,
                format!(
                    "devices.{key} sends devices to {}, but the generated Squid listens on port {} ([outputs.squid] listen)",
                    p.as_str(),
                    squid.listen.0
                ),
            ));
        }
    }
    out.extend(port_mismatches(site, outputs));
    out.extend(pac_mismatch(devices, outputs));
    if devices.ssl_options.is_some() && !devices.offline {
        out.push((
            "ssl_options",
            "devices.ssl_options weakens Defender Antivirus's certificate checks and is only for offline devices: set devices.offline = true, or remove it".to_string(),
        ));
    }
    out
}

/// The port of `host:port`.
fn port_of(address: &str) -> Option<u16> {
    address.rsplit(':').next().and_then(|t| t.parse().ok())
}

/// The [proxy] addresses and the PAC's own answer against the generated
/// Squid's `listen`.
fn port_mismatches(site: &Site, outputs: &Outputs) -> Vec<(&'static str, String)> {
    let Some(squid) = &outputs.squid else {
        return Vec::new();
    };
    let listen = squid.listen.0;
    let mut out: Vec<(&'static str, String)> = site
        .proxy
        .addresses
        .iter()
        .filter(|p| port_of(p.as_str()) != Some(listen))
        .map(|p| {
            (
                "addresses",
                format!(
                    "[proxy] sends devices to {p}, but the generated Squid listens on port {listen} ([outputs.squid] listen): use one port for both",
                    p = p.as_str()
                ),
            )
        })
        .collect();
    let answer = outputs.pac.as_ref().and_then(|pac| pac.proxy.as_ref());
    for part in answer.map(|a| a.as_str().split(';')).into_iter().flatten() {
        let mut words = part.split_whitespace();
        let (Some(kind), Some(address)) = (words.next(), words.next()) else {
            continue;
        };
        if kind.eq_ignore_ascii_case("PROXY") && port_of(address) != Some(listen) {
            out.push((
                "proxy",
                format!(
                    "the PAC ([outputs.pac] proxy) sends devices to {address}, but the generated Squid listens on port {listen} ([outputs.squid] listen)"
                ),
            ));
        }
    }
    out
}

/// The PAC URL must name the PAC file the ruleset generates.
fn pac_mismatch(devices: &Devices, outputs: &Outputs) -> Option<(&'static str, String)> {
    let url = devices.pac_url.as_ref()?;
    let Some(pac) = &outputs.pac else {
        return Some((
            "pac_url",
            format!(
                "devices.pac_url = {:?}, but the ruleset generates no PAC file ([outputs.pac])",
                url.to_string()
            ),
        ));
    };
    let path = url.path.split(['?', '#']).next().unwrap_or("");
    let file = path.rsplit('/').next().unwrap_or("");
    if file == pac.file.as_str() {
        return pac_proxy_mismatch(devices, pac);
    }
    Some({
        (
            "pac_url",
            format!(
                "devices.pac_url = {:?} names {file:?}, but the generated PAC file is {:?} ([outputs.pac] file)",
                url.to_string(),
                pac.file.as_str()
            ),
        )
    })
}

/// A PAC whose answer is set by hand must send Windows devices to
/// the proxy they are told to use.
fn pac_proxy_mismatch(
    devices: &Devices,
    pac: &crate::backends::pac::Settings,
) -> Option<(&'static str, String)> {
    let answer = pac.proxy.as_ref()?;
    let told = devices.windows_proxy.as_ref()?;
    let sends = answer
        .as_str()
        .split(';')
        .any(|part| part.trim() == format!("PROXY {}", told.as_str()));
    (!sends).then(|| {
        (
            "windows_proxy",
            format!(
                "devices.windows_proxy = {:?}, but the published PAC ([outputs.pac] proxy) answers {:?}",
                told.as_str(),
                answer.as_str()
            ),
        )
    })
}

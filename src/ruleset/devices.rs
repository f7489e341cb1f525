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
    // Devices are told a proxy only by the device-side outputs.
    let told = outputs.windows.is_some() || outputs.mdatp.is_some() || outputs.mdi_sensor.is_some();
    if let Some(squid) = outputs.squid.as_ref().filter(|_| told) {
        for (key, value) in named {
            let Some(p) = value.as_ref().or(proxies.first()) else {
                continue;
            };
            let which = if value.is_some() {
                format!("devices.{key}")
            } else {
                format!("devices.{key} (by default the first [proxy] address)")
            };
            let port = p
                .as_str()
                .rsplit(':')
                .next()
                .and_then(|t| t.parse::<u16>().ok());
            if port != Some(squid.listen.0) {
                out.push((
                    if value.is_some() { key } else { "listen" },
                    format!(
                        "{which} sends devices to {p}, but the generated Squid listens on port {} ([outputs.squid] listen)",
                        squid.listen.0
                    ),
                ));
            }
        }
    }
    out.extend(pac_mismatch(devices, outputs));
    if devices.ssl_options.is_some() && !devices.offline {
        out.push((
            "ssl_options",
            "devices.ssl_options weakens Defender Antivirus's certificate checks and is only for offline devices: set devices.offline = true, or remove it".to_string(),
        ));
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

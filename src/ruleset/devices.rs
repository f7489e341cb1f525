//! The `[devices]` table: what only devices need, for the device-side
//! outputs (Windows registry, PowerShell and Group Policy; the Identity
//! sensor's installer; `mdatp` on macOS and Linux). Each proxy a device is
//! told to use must be one the generated proxy configuration serves, and
//! the PAC URL must be where the generated PAC is published: checked when
//! the ruleset is read, so a mismatch stops `generate` before anything is
//! written.

use serde::{Deserialize, Serialize};

use crate::values::ProxyAddress;
use crate::verify::url::ProbeUrl;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Devices {
    /// The proxy Windows devices use (the EDR sensor's
    /// `TelemetryProxyServer`, Defender Antivirus, WinHTTP). Default: the
    /// first `[proxy]` address.
    #[serde(default)]
    pub windows_proxy: Option<ProxyAddress>,
    /// The proxy macOS devices use (`mdatp config proxy`).
    #[serde(default)]
    pub macos_proxy: Option<ProxyAddress>,
    /// The proxy Linux devices use (static only: Linux takes no PAC).
    #[serde(default)]
    pub linux_proxy: Option<ProxyAddress>,
    /// The proxy the Defender for Identity sensor's installer is given.
    #[serde(default)]
    pub identity_proxy: Option<ProxyAddress>,
    /// Where the generated PAC file is published, for Defender
    /// Antivirus's `ProxyPacUrl`; its file name is `[outputs.pac] file`.
    #[serde(default)]
    pub pac_url: Option<ProbeUrl>,
    /// Devices with no other way out than the proxy: the EDR sensor is
    /// told to prefer the static proxy (`PreferStaticProxyForHttpRequest`).
    #[serde(default)]
    pub offline: bool,
    /// Offline devices only: Defender Antivirus `SSLOptions` (Spynet),
    /// 0 no pinning and no revocation check, 1 no pinning, 2 no
    /// revocation check, 3 Microsoft's default. Written only when set.
    #[serde(default)]
    pub ssl_options: Option<SslOptions>,
}

/// `SSLOptions`, 0-3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "i64")]
pub struct SslOptions(pub u8);

impl TryFrom<i64> for SslOptions {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        u8::try_from(v)
            .ok()
            .filter(|v| *v <= 3)
            .map(SslOptions)
            .ok_or_else(|| format!("ssl_options {v} is not 0-3"))
    }
}

/// What the device-side outputs are told, as the policy carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_proxy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macos_proxy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux_proxy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_proxy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pac_url: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_options: Option<u8>,
}

impl DeviceSettings {
    pub fn is_empty(&self) -> bool {
        self == &DeviceSettings::default()
    }
}

impl Devices {
    /// The settings as the ruleset gives them; the outputs fill in the
    /// first `[proxy]` address for a platform it does not name.
    pub fn settings(&self) -> DeviceSettings {
        let text = |p: &Option<ProxyAddress>| p.as_ref().map(|a| a.as_str().to_string());
        DeviceSettings {
            windows_proxy: text(&self.windows_proxy),
            macos_proxy: text(&self.macos_proxy),
            linux_proxy: text(&self.linux_proxy),
            identity_proxy: text(&self.identity_proxy),
            pac_url: self.pac_url.as_ref().map(ProbeUrl::to_string),
            offline: self.offline,
            ssl_options: self.ssl_options.map(|s| s.0),
        }
    }

    /// The mismatches between what devices are told and what the
    /// generated configuration serves, each naming both sides.
    pub fn mismatches(
        &self,
        site: &super::Site,
        outputs: &super::Outputs,
    ) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let proxies = &site.proxy.addresses;
        let named = [
            ("windows_proxy", &self.windows_proxy),
            ("macos_proxy", &self.macos_proxy),
            ("linux_proxy", &self.linux_proxy),
            ("identity_proxy", &self.identity_proxy),
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
        let told =
            outputs.windows.is_some() || outputs.mdatp.is_some() || outputs.mdi_sensor.is_some();
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
        out.extend(self.pac_mismatch(outputs));
        if self.ssl_options.is_some() && !self.offline {
            out.push((
                "ssl_options",
                "devices.ssl_options weakens Defender Antivirus's certificate checks and is only for offline devices: set devices.offline = true, or remove it".to_string(),
            ));
        }
        out
    }

    /// The PAC URL must name the PAC file the ruleset generates.
    fn pac_mismatch(&self, outputs: &super::Outputs) -> Option<(&'static str, String)> {
        let url = self.pac_url.as_ref()?;
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
            return self.pac_proxy_mismatch(pac);
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
        &self,
        pac: &crate::backends::pac::Settings,
    ) -> Option<(&'static str, String)> {
        let answer = pac.proxy.as_ref()?;
        let told = self.windows_proxy.as_ref()?;
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
}

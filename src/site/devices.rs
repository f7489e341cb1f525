//! The `[devices]` table: what the device-side outputs tell devices.
//!
//! What only devices need, for the device-side outputs (Windows registry,
//! PowerShell and Group Policy; the Identity sensor's installer; `mdatp` on
//! macOS and Linux). Whether it agrees with what the generated proxy and
//! PAC serve is checked where both are visible, when the ruleset is read
//! (`crate::ruleset`).

use serde::{Deserialize, Serialize};

use crate::values::{ProbeUrl, ProxyAddress};

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
}

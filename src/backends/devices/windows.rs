//! Windows devices: the EDR sensor's, Defender Antivirus's and WinHTTP's proxy settings.
//!
//! The EDR sensor's static proxy (WinHTTP, LocalSystem, which ignores the
//! browser's proxy), Defender Antivirus's own proxy settings, and the
//! system-wide WinHTTP proxy, as a `.reg` file, an idempotent PowerShell
//! script with `-WhatIf`, and a Group Policy sheet. The bypass list holds
//! exactly the direct-route hosts of the policy.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::super::caps::{Caps, HostCaps, Paths, Ports, Support};
use super::super::loss::plan;
use super::super::{Backend, BackendError, Registered, Rendered, header_lines, loss_report};
use super::{bypass_list, proxy_for, ps_string, reg_string, safe_url};
use crate::model::Via;
use crate::model::text::{md_code, printable_ascii};
use crate::policy::Policy;

const NAME: &str = "windows";
pub const REG_FILE: &str = "defender-proxy.reg";
pub const PS_FILE: &str = "defender-proxy.ps1";
pub const GPO_FILE: &str = "defender-proxy-gpo.md";

const DATA_COLLECTION: &str = r"SOFTWARE\Policies\Microsoft\Windows\DataCollection";
const ATP: &str = r"SOFTWARE\Policies\Microsoft\Windows Advanced Threat Protection";
const DEFENDER: &str = r"SOFTWARE\Policies\Microsoft\Windows Defender";
const SPYNET: &str = r"SOFTWARE\Policies\Microsoft\Windows Defender\Spynet";

/// `[outputs.windows]`: no settings of its own; the `[devices]` table
/// says what devices are told.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {}

pub struct Windows;

impl Registered for Windows {
    type Settings = Settings;
    const NAME: &'static str = NAME;
    const SUMMARY: &'static str = "Windows device settings: EDR sensor and Defender Antivirus proxy, WinHTTP, as a .reg file, a PowerShell script and a Group Policy sheet";
    fn new(_: Settings) -> Self {
        Windows
    }
}

/// One registry value.
#[derive(Clone, Debug)]
pub struct RegValue {
    pub key: &'static str,
    pub name: &'static str,
    pub value: Value,
    /// Why it is set, for comments.
    pub why: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Dword(u32),
    /// A value egressgen manages that this site must not have (devices
    /// no longer offline keep no weakened `SSLOptions`): removed.
    Absent,
}

/// What Windows devices are told, before any syntax.
pub struct Plan {
    pub proxy: String,
    pub values: Vec<RegValue>,
    pub bypass: Vec<String>,
    pub ssl_options: Option<u8>,
}

impl Plan {
    pub fn of(policy: &Policy) -> Result<Plan, BackendError> {
        let d = &policy.ruleset.devices;
        let proxy = proxy_for(policy, d.windows_proxy.as_deref(), NAME, "windows_proxy")?;
        let bypass = bypass_list(policy, NAME)?;
        let mut values = vec![
            RegValue {
                key: DATA_COLLECTION,
                name: "TelemetryProxyServer",
                value: Value::Text(proxy.clone()),
                why: "the EDR sensor's static proxy (host:port, no scheme)",
            },
            RegValue {
                key: DATA_COLLECTION,
                name: "DisableEnterpriseAuthProxy",
                value: Value::Dword(1),
                why: "the sensor runs as LocalSystem and cannot authenticate to a proxy",
            },
        ];
        values.push(RegValue {
            key: ATP,
            name: "PreferStaticProxyForHttpRequest",
            value: if d.offline { Value::Dword(1) } else { Value::Absent },
            why: "offline devices: the sensor uses the static proxy for everything (MsSense 10.8210+ or 10.8049+)",
        });
        values.push(RegValue {
            key: DEFENDER,
            name: "ProxyServer",
            value: Value::Text(format!("http://{proxy}")),
            why: "Defender Antivirus's own proxy (must start with http:// or https://)",
        });
        values.push(RegValue {
            key: DEFENDER,
            name: "ProxyPacUrl",
            value: match &d.pac_url {
                Some(url) => Value::Text(safe_url(NAME, url)?),
                None => Value::Absent,
            },
            why: "the published PAC file",
        });
        values.push(RegValue {
            key: DEFENDER,
            name: "ProxyBypass",
            value: if bypass.is_empty() {
                Value::Absent
            } else {
                Value::Text(bypass.join(";"))
            },
            why: "the hosts Microsoft says must bypass the proxy",
        });
        let ssl_options = d.ssl_options.filter(|_| d.offline);
        values.push(RegValue {
            key: SPYNET,
            name: "SSLOptions",
            value: ssl_options.map_or(Value::Absent, |v| Value::Dword(u32::from(v))),
            why: "offline devices only; below 3 it weakens the cloud connection's certificate checks (0 and 1 turn pinning off)",
        });
        warn(policy, ssl_options, &bypass);
        Ok(Plan {
            proxy,
            values,
            bypass,
            ssl_options,
        })
    }
}

impl Backend for Windows {
    fn name(&self) -> &'static str {
        NAME
    }

    fn caps(&self) -> Caps {
        Caps {
            hosts: HostCaps::EXACT,
            paths: Paths::Widened(
                "a device's proxy setting and bypass list name hosts, not paths: the whole host goes to the {via}, which enforces {path}",
            ),
            ports: Ports::NotFiltered,
            proxy_route: Support::Exact,
            direct_route: Support::Exact,
            prefixes: false,
            tls_bypass: None,
        }
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let plan_ = Plan::of(policy)?;
        let reg = reg_file(policy, &plan_);
        let proxy_line = reg_line("TelemetryProxyServer", &Value::Text(plan_.proxy.clone()));
        let bypass_line = plan_
            .values
            .iter()
            .find(|v| v.name == "ProxyBypass")
            .map(|v| reg_line(v.name, &v.value));
        let caps = self.caps();
        let mut loss = loss_report(NAME);
        for e in &policy.entries {
            let p = plan(e, &caps, &policy.prefixes);
            let expressed = if p.writes.is_empty() {
                Vec::new()
            } else if e.route == Via::Direct {
                bypass_line
                    .iter()
                    .map(|l| format!("{REG_FILE}: {l}"))
                    .collect()
            } else {
                vec![format!("{REG_FILE}: {proxy_line}")]
            };
            loss.entries.push(p.entry(e, expressed));
        }
        let mut files = BTreeMap::new();
        files.insert(REG_FILE.to_string(), reg.into_bytes());
        files.insert(PS_FILE.to_string(), ps_file(policy, &plan_).into_bytes());
        files.insert(GPO_FILE.to_string(), gpo_file(policy, &plan_).into_bytes());
        Ok(Rendered { files, loss })
    }
}

fn reg_line(name: &str, value: &Value) -> String {
    match value {
        Value::Text(t) => format!("\"{name}\"=\"{}\"", reg_string(t)),
        Value::Dword(d) => format!("\"{name}\"=dword:{d:08x}"),
        Value::Absent => format!("\"{name}\"=-"),
    }
}

/// What a person must hear on every run, not only read in a comment.
fn warn(policy: &Policy, ssl_options: Option<u8>, bypass: &[String]) {
    let site = &policy.ruleset.name;
    if let Some(v) = ssl_options.filter(|v| *v < 3) {
        tracing::warn!(
            "{site}: Defender Antivirus SSLOptions = {v} weakens the cloud connection's certificate checks{}",
            if v < 2 {
                " (certificate pinning off)"
            } else {
                " (no revocation check)"
            }
        );
    }
    if policy.ruleset.devices.offline && !bypass.is_empty() {
        tracing::warn!(
            "{site}: devices are offline, but {} host(s) Microsoft says must bypass the proxy go direct ({}): open the firewall for them or they fail",
            bypass.len(),
            bypass.join(", ")
        );
    }
}

/// The `.reg` file, CRLF as regedit writes it.
fn reg_file(policy: &Policy, plan: &Plan) -> String {
    let mut lines = vec![
        "Windows Registry Editor Version 5.00".to_string(),
        String::new(),
    ];
    lines.extend(
        header_lines(policy, "Windows device proxy settings")
            .iter()
            .map(|l| format!("; {}", printable_ascii(l))),
    );
    let mut key = "";
    for v in &plan.values {
        if v.key != key {
            lines.push(String::new());
            lines.push(format!("[HKEY_LOCAL_MACHINE\\{}]", v.key));
            key = v.key;
        }
        if v.value == Value::Absent {
            lines.push(format!("; not for this site, removed: {}", v.why));
        } else {
            lines.push(format!("; {}", v.why));
        }
        lines.push(reg_line(v.name, &v.value));
    }
    lines.push(String::new());
    lines.join("\r\n")
}

/// The PowerShell script: idempotent (a value already right is left
/// alone and said so), every change printed, `-WhatIf` honoured.
fn ps_file(policy: &Policy, plan: &Plan) -> String {
    let mut out = String::new();
    for l in header_lines(
        policy,
        "Windows device proxy settings (run elevated; -WhatIf shows what would change)",
    ) {
        out.push_str(&format!("# {}\n", printable_ascii(&l)));
    }
    out.push_str(PS_PRELUDE);
    for v in &plan.values {
        if v.key == DEFENDER {
            continue;
        }
        let (value, kind) = match &v.value {
            Value::Text(t) => (ps_string(t), "String"),
            Value::Dword(d) => (d.to_string(), "DWord"),
            Value::Absent => {
                out.push_str(&format!("# not for this site: {}\n", v.why));
                out.push_str(&format!(
                    "Remove-EgressgenRegistryValue -Path {} -Name {}\n",
                    ps_string(&format!("HKLM:\\{}", v.key)),
                    ps_string(v.name)
                ));
                continue;
            }
        };
        out.push_str(&format!("# {}\n", v.why));
        out.push_str(&format!(
            "Set-EgressgenRegistryValue -Path {} -Name {} -Value {value} -Kind {kind}\n",
            ps_string(&format!("HKLM:\\{}", v.key)),
            ps_string(v.name)
        ));
    }
    out.push_str("\n# Defender Antivirus's own proxy settings\n");
    for v in plan.values.iter().filter(|v| v.key == DEFENDER) {
        if let Value::Text(t) = &v.value {
            // Set-MpPreference takes the bypass list as an array.
            let value = if v.name == "ProxyBypass" {
                let items: Vec<String> = plan.bypass.iter().map(|b| ps_string(b)).collect();
                format!("@({})", items.join(", "))
            } else {
                ps_string(t)
            };
            out.push_str(&format!(
                "Set-EgressgenMpPreference -Name {} -Value {value}\n",
                ps_string(v.name)
            ));
        }
    }
    out.push_str("\n# The system-wide WinHTTP proxy\n");
    let mut args = vec![ps_string(&format!("proxy-server={}", plan.proxy))];
    if !plan.bypass.is_empty() {
        args.push(ps_string(&format!("bypass-list={}", plan.bypass.join(";"))));
    }
    out.push_str(&format!(
        "Set-EgressgenWinHttpProxy -Arguments @({})\n",
        args.join(", ")
    ));
    out
}

const PS_PRELUDE: &str = r#"#Requires -RunAsAdministrator
[CmdletBinding(SupportsShouldProcess = $true)]
param()

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'

# A 32-bit PowerShell (some deployment agents start one) would reach the
# 32-bit registry view and the 32-bit WinHTTP settings.
if ([Environment]::Is64BitOperatingSystem -and -not [Environment]::Is64BitProcess) {
    throw 'Run this script in 64-bit PowerShell (%SystemRoot%\Sysnative\WindowsPowerShell\v1.0\powershell.exe)'
}

function Set-EgressgenRegistryValue {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][string]$Name,
        [Parameter(Mandatory = $true)]$Value,
        [Parameter(Mandatory = $true)][Microsoft.Win32.RegistryValueKind]$Kind
    )
    $current = $null
    $currentKind = $null
    if (Test-Path -Path $Path) {
        $key = Get-Item -Path $Path
        if ($key.GetValueNames() -contains $Name) {
            $current = $key.GetValue($Name)
            $currentKind = $key.GetValueKind($Name)
        }
    }
    if ($currentKind -eq $Kind -and [string]$current -ceq [string]$Value) {
        Write-Output "unchanged: $Path\$Name = $Value"
        return
    }
    if ($PSCmdlet.ShouldProcess("$Path\$Name", "set to $Value ($Kind)")) {
        if (-not (Test-Path -Path $Path)) {
            New-Item -Path $Path -Force | Out-Null
        }
        New-ItemProperty -Path $Path -Name $Name -Value $Value -PropertyType $Kind -Force | Out-Null
        Write-Output "changed: $Path\$Name = $Value ($Kind; was: $current $currentKind)"
    }
}

function Remove-EgressgenRegistryValue {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][string]$Name
    )
    if (-not (Test-Path -Path $Path) -or -not ((Get-Item -Path $Path).GetValueNames() -contains $Name)) {
        Write-Output "unchanged: $Path\$Name is not set"
        return
    }
    if ($PSCmdlet.ShouldProcess("$Path\$Name", 'remove')) {
        Remove-ItemProperty -Path $Path -Name $Name
        Write-Output "changed: $Path\$Name removed"
    }
}

function Set-EgressgenMpPreference {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)][string]$Name,
        [Parameter(Mandatory = $true)][string[]]$Value
    )
    $current = @((Get-MpPreference).$Name) -join ';'
    $wanted = $Value -join ';'
    if ($current -ceq $wanted) {
        Write-Output "unchanged: Defender Antivirus $Name = $wanted"
        return
    }
    if ($PSCmdlet.ShouldProcess('Defender Antivirus', "Set-MpPreference -$Name $wanted")) {
        $settings = @{ $Name = $Value }
        Set-MpPreference @settings
        Write-Output "changed: Defender Antivirus $Name = $wanted (was: $current)"
    }
}

function Set-EgressgenWinHttpProxy {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([Parameter(Mandatory = $true)][string[]]$Arguments)
    # What netsh shows, field by field: "Proxy Server(s) :  host:port".
    $shown = @{ 'proxy-server' = ''; 'bypass-list' = '' }
    foreach ($line in (& netsh.exe winhttp show proxy)) {
        if ($line -match '^\s*Proxy Server\(s\)\s*:\s*(\S+)\s*$') { $shown['proxy-server'] = $Matches[1] }
        if ($line -match '^\s*Bypass List\s*:\s*(\S+)\s*$') { $shown['bypass-list'] = $Matches[1] }
    }
    $wanted = @{ 'proxy-server' = ''; 'bypass-list' = '' }
    foreach ($argument in $Arguments) {
        $pair = $argument.Split('=', 2)
        $wanted[$pair[0]] = $pair[1]
    }
    if ($shown['proxy-server'] -ceq $wanted['proxy-server'] -and $shown['bypass-list'] -ceq $wanted['bypass-list']) {
        Write-Output "unchanged: WinHTTP proxy $($Arguments -join ' ')"
        return
    }
    if ($PSCmdlet.ShouldProcess('WinHTTP', "netsh winhttp set proxy $($Arguments -join ' ')")) {
        $said = & netsh.exe winhttp set proxy @Arguments
        if ($LASTEXITCODE -ne 0) {
            throw "netsh winhttp set proxy failed ($LASTEXITCODE): $said"
        }
        Write-Output "changed: WinHTTP proxy $($Arguments -join ' ')"
    }
}

"#;

/// The Group Policy sheet: where each setting lives and what to set.
fn gpo_file(policy: &Policy, plan: &Plan) -> String {
    let mut out = String::new();
    for l in header_lines(policy, "Windows device proxy settings by Group Policy") {
        out.push_str(&format!(
            "<!-- {} -->\n",
            printable_ascii(&l).replace("--", "- -")
        ));
    }
    let dc = r"Computer Configuration\Administrative Templates\Windows Components\Data Collection and Preview Builds";
    let av = r"Computer Configuration\Administrative Templates\Windows Components\Microsoft Defender Antivirus";
    out.push_str("\n# Defender device proxy settings by Group Policy\n\n| Policy path | Setting | Value |\n|---|---|---|\n");
    let mut row = |path: &str, setting: &str, value: String| {
        out.push_str(&format!(
            "| {} | {} | {value} |\n",
            md_code_span(path),
            setting
        ));
    };
    row(
        dc,
        "Configure Authenticated Proxy usage for the Connected User Experience and Telemetry Service",
        "Enabled; Disable Authenticated Proxy usage".to_string(),
    );
    row(
        dc,
        "Configure connected user experiences and telemetry",
        format!("Enabled; proxy {}", md_code_span(&plan.proxy)),
    );
    row(
        av,
        "Define proxy server for connecting to the network",
        format!(
            "Enabled; {}",
            md_code_span(&format!("http://{}", plan.proxy))
        ),
    );
    if let Some(v) = plan.values.iter().find(|v| v.name == "ProxyPacUrl")
        && let Value::Text(url) = &v.value
    {
        row(
            av,
            "Define proxy auto-config (.pac) for connecting to the network",
            format!("Enabled; {}", md_code_span(url)),
        );
    }
    if !plan.bypass.is_empty() {
        row(
            av,
            "Define addresses to bypass proxy server",
            format!("Enabled; {}", md_code_span(&plan.bypass.join(";"))),
        );
    }
    out.push_str(
        "\nNo administrative template carries these; set them as registry preferences:\n\n",
    );
    for v in plan
        .values
        .iter()
        .filter(|v| v.key == ATP || v.key == SPYNET)
    {
        let value = match &v.value {
            Value::Text(t) => format!("REG_SZ {}", md_code_span(t)),
            Value::Dword(d) => format!("REG_DWORD {d}"),
            Value::Absent => continue,
        };
        out.push_str(&format!(
            "- {} {} = {value}: {}\n",
            md_code_span(&format!("HKLM\\{}", v.key)),
            md_code_span(v.name),
            v.why
        ));
    }
    if !plan
        .values
        .iter()
        .any(|v| v.key == ATP && v.value != Value::Absent)
    {
        out.push_str("- none for this site (its devices are not offline)\n");
    }
    out.push_str(&format!(
        "\nThe system-wide WinHTTP proxy has no policy either: run `netsh winhttp set proxy proxy-server={}{}` (or {PS_FILE}); `netsh winhttp reset proxy` undoes it.\n",
        md_code(&plan.proxy),
        if plan.bypass.is_empty() {
            String::new()
        } else {
            format!(" bypass-list=\"{}\"", md_code(&plan.bypass.join(";")))
        }
    ));
    out
}

fn md_code_span(text: &str) -> String {
    format!("`{}`", md_code(text))
}

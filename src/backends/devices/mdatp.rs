//! macOS and Linux devices: `mdatp config proxy set`, and Linux's managed settings file.
//!
//! `mdatp config proxy set` for each, and the Linux managed settings file
//! (`/etc/opt/microsoft/mdatp/managed/ mdatp_managed.json`). Both take one
//! static proxy: no PAC, no WPAD, no bypass list, no authentication, so a
//! host that must bypass the proxy is a reported loss.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::super::caps::{Caps, HostCaps, Paths, Ports, Support};
use super::super::loss::plan;
use super::super::{Backend, BackendError, Registered, Rendered, header_lines, loss_report};
use super::{proxy_for, sh_word};
use crate::model::text::printable_ascii;
use crate::policy::Policy;

const NAME: &str = "mdatp";
pub const SCRIPT: &str = "mdatp-proxy.sh";
pub const MANAGED: &str = "mdatp_managed.json";

/// `[outputs.mdatp]`: no settings of its own; `[devices]` names the
/// proxies.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {}

pub struct Mdatp;

impl Registered for Mdatp {
    type Settings = Settings;
    const NAME: &'static str = NAME;
    const SUMMARY: &'static str =
        "macOS and Linux device settings: mdatp proxy commands and the Linux managed settings file";
    fn new(_: Settings) -> Self {
        Mdatp
    }
}

impl Backend for Mdatp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn caps(&self) -> Caps {
        Caps {
            hosts: HostCaps::EXACT,
            paths: Paths::Widened(
                "mdatp names one proxy for everything: the whole host goes to the {via}, which enforces {path}",
            ),
            ports: Ports::NotFiltered,
            proxy_route: Support::Exact,
            direct_route: Support::Cannot(
                "mdatp takes one static proxy and no bypass list: {name} goes to the proxy, not direct",
            ),
            prefixes: false,
            tls_bypass: None,
        }
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let d = &policy.ruleset.devices;
        let macos = format!(
            "http://{}",
            proxy_for(policy, d.macos_proxy.as_deref(), NAME, "macos_proxy")?
        );
        let linux = format!(
            "http://{}",
            proxy_for(policy, d.linux_proxy.as_deref(), NAME, "linux_proxy")?
        );
        let macos_line = format!("mdatp config proxy set --value {}", sh_word(&macos));
        let linux_line = format!("mdatp config proxy set --value {}", sh_word(&linux));
        let mut script = String::from("#!/bin/sh\n");
        for l in header_lines(
            policy,
            "macOS and Linux device proxy settings for Defender for Endpoint",
        ) {
            script.push_str(&format!("# {}\n", printable_ascii(&l)));
        }
        script.push_str(&format!(
            "# One static proxy: mdatp takes no PAC on Linux, no authentication,\n\
             # no bypass list. On Linux, {MANAGED} in /etc/opt/microsoft/mdatp/managed/\n\
             # sets the same proxy and wins over this command.\n\
             set -eu\n\
             case \"$(uname -s)\" in\n\
             Darwin)\n    {macos_line}\n    ;;\n\
             Linux)\n    {linux_line}\n    ;;\n\
             *)\n    echo \"mdatp-proxy.sh: not macOS or Linux\" >&2\n    exit 1\n    ;;\n\
             esac\n"
        ));
        // Only the proxy: other managed settings are the site's own.
        let managed = serde_json::json!({ "cloudService": { "proxy": format!("{linux}/") } });
        let mut json = serde_json::to_string_pretty(&managed).unwrap_or_default();
        json.push('\n');
        let caps = self.caps();
        let mut loss = loss_report(NAME);
        for e in &policy.entries {
            let p = plan(e, &caps, &policy.prefixes);
            let expressed = if p.writes.is_empty() {
                Vec::new()
            } else {
                vec![format!("{SCRIPT}:     {linux_line}")]
            };
            loss.entries.push(p.entry(e, expressed));
        }
        let mut files = BTreeMap::new();
        files.insert(SCRIPT.to_string(), script.into_bytes());
        files.insert(MANAGED.to_string(), json.into_bytes());
        Ok(Rendered { files, loss })
    }
}

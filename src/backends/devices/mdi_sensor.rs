//! The Defender for Identity sensor's silent install, with its proxy on the command line.
//!
//! The Defender for Identity sensor's silent install, with its proxy on
//! the installer's command line. Credentials are never written: the
//! access key comes from the script's argument, and a proxy that needs
//! a user and password is a note, not a value.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::super::caps::Caps;
use super::super::{Backend, BackendError, Registered, Rendered, header_lines, loss_report};
use super::proxy_for;
use crate::model::text::printable_ascii;
use crate::policy::Policy;

const NAME: &str = "mdi-sensor";
pub const FILE: &str = "mdi-sensor-install.cmd";
/// The installer as Microsoft ships it.
pub const INSTALLER: &str = "Azure ATP sensor Setup.exe";

/// `[outputs.mdi_sensor]`: no settings of its own; `[devices]
/// identity_proxy` names the proxy.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {}

pub struct MdiSensor;

impl Registered for MdiSensor {
    type Settings = Settings;
    const NAME: &'static str = NAME;
    const SUMMARY: &'static str =
        "the Defender for Identity sensor's silent install command, with its proxy";
    fn new(_: Settings) -> Self {
        MdiSensor
    }
}

/// The install command; `%ACCESS_KEY%` is the script's argument, and
/// the installer is looked for beside the script (`%~dp0`), since "Run
/// as administrator" starts in System32.
pub fn command(proxy: &str) -> String {
    format!(
        "\"%~dp0{INSTALLER}\" /quiet NetFrameworkCommandLineArguments=\"/q\" AccessKey=\"%ACCESS_KEY%\" ProxyUrl=\"http://{proxy}\""
    )
}

impl Backend for MdiSensor {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The installer carries a proxy, no host of the policy.
    fn caps(&self) -> Caps {
        Caps::NONE
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let d = &policy.ruleset.devices;
        let proxy = proxy_for(policy, d.identity_proxy.as_deref(), NAME, "identity_proxy")?;
        let mut lines = vec!["@echo off".to_string()];
        for l in header_lines(policy, "Defender for Identity sensor install") {
            lines.push(format!("rem {}", cmd_comment(&l)));
        }
        lines.extend([
            "rem Usage: mdi-sensor-install.cmd ACCESS-KEY   (the workspace's sensor access key)".to_string(),
            "rem A proxy that asks for credentials: add ProxyUserName=\"DOMAIN\\user\" ProxyUserPassword=\"...\"".to_string(),
            "rem to the command yourself; egressgen never writes credentials.".to_string(),
            "setlocal".to_string(),
            // The whole argument line: %1 would stop at the `=` that ends
            // an access key; quotes around the key are dropped.
            "set \"ACCESS_KEY=%*\"".to_string(),
            "if defined ACCESS_KEY set \"ACCESS_KEY=%ACCESS_KEY:\"=%\"".to_string(),
            "if not defined ACCESS_KEY goto usage".to_string(),
            command(&proxy),
            "exit /b %ERRORLEVEL%".to_string(),
            ":usage".to_string(),
            "echo usage: \"%~nx0\" ACCESS-KEY 1>&2".to_string(),
            "exit /b 2".to_string(),
            String::new(),
        ]);
        let mut files = BTreeMap::new();
        files.insert(FILE.to_string(), lines.join("\r\n").into_bytes());
        Ok(Rendered {
            files,
            loss: loss_report(NAME),
        })
    }
}

/// A comment line for cmd: printable ASCII without the characters cmd
/// still acts on after `rem` (`&`, `|`, `<`, `>`, `^`, `%`).
fn cmd_comment(text: &str) -> String {
    printable_ascii(text)
        .chars()
        .map(|c| {
            if matches!(c, '&' | '|' | '<' | '>' | '^' | '%') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

//! Device-side settings: what each device is told about the proxy, from the same policy.
//!
//! What each device is told about the proxy, from the same policy and
//! ruleset as the proxy's own configuration. Windows (registry file,
//! PowerShell, Group Policy sheet), the Defender for Identity sensor's
//! installer, and `mdatp` on macOS and Linux. Each value is checked again
//! here and escaped for its syntax: registry strings, PowerShell single
//! quotes, cmd, POSIX shell, JSON.

pub mod mdatp;
pub mod mdi_sensor;
pub mod windows;

use super::BackendError;
use super::spelling::{Syntax, spell};
use crate::model::{HostPattern, Via};
use crate::policy::Policy;

/// The proxy a platform's devices use: the `[devices]` value, else the
/// first `[proxy]` address; refused unless it is `host:port` in plain
/// characters, whatever the ruleset let through.
pub fn proxy_for(
    policy: &Policy,
    named: Option<&str>,
    backend: &'static str,
    key: &str,
) -> Result<String, BackendError> {
    let proxy = named
        .or(policy.ruleset.proxies.first().map(String::as_str))
        .ok_or_else(|| BackendError {
            backend,
            message: format!("no proxy to tell devices: set [proxy] addresses or devices.{key}"),
        })?;
    let plain = proxy.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b':'
    });
    let shaped = proxy.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
    });
    if plain && shaped {
        Ok(proxy.to_string())
    } else {
        Err(BackendError {
            backend,
            message: format!(
                "refusing proxy {:?}: not host:port",
                crate::model::text::display_escape(proxy)
            ),
        })
    }
}

/// A URL as a device setting takes it: printable ASCII without quotes,
/// spaces or the characters any of the device syntaxes treat specially.
pub fn safe_url(backend: &'static str, url: &str) -> Result<String, BackendError> {
    let ok = url.starts_with("http://") || url.starts_with("https://");
    let clean = url.chars().all(|c| {
        c.is_ascii_graphic()
            && !matches!(
                c,
                '"' | '\'' | '`' | '%' | '^' | '&' | '|' | '<' | '>' | '\\' | '$' | ';'
            )
    });
    if ok && clean {
        Ok(url.to_string())
    } else {
        Err(BackendError {
            backend,
            message: format!(
                "refusing URL {:?} for a device setting",
                crate::model::text::display_escape(url)
            ),
        })
    }
}

/// The entries of a bypass list (WinHTTP, Defender Antivirus): one per
/// host pattern of the direct-route entries, as the glob syntax spells
/// them (`x`, `*.x`, `*x`; a domain as `x` and `*.x`), without duplicates.
pub fn bypass_list(policy: &Policy, backend: &'static str) -> Result<Vec<String>, BackendError> {
    let mut out: Vec<String> = Vec::new();
    for e in policy.entries.iter().filter(|e| e.route == Via::Direct) {
        if matches!(e.host, HostPattern::Template(_)) {
            continue;
        }
        super::safe_name(backend, &e.host)?;
        for item in spell(Syntax::Glob, &e.host) {
            if !out.contains(&item) {
                out.push(item);
            }
        }
    }
    Ok(out)
}

/// A `.reg` string value: backslash and quote escaped.
pub fn reg_string(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A PowerShell single-quoted string. PowerShell also closes a string at
/// the typographic single quotes, so they are doubled too.
pub fn ps_string(text: &str) -> String {
    let mut out = String::from("'");
    for c in text.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A POSIX shell single-quoted word.
pub fn sh_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_syntax_escapes_its_own_quotes() {
        assert_eq!(reg_string(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(ps_string("it's"), "'it''s'");
        assert_eq!(ps_string("it\u{2019}s"), "'it\u{2019}\u{2019}s'");
        assert_eq!(sh_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn urls_with_shell_or_cmd_specials_are_refused() {
        assert!(safe_url("t", "http://wpad.contoso.com/proxy.pac").is_ok());
        for bad in [
            "http://a/%PATH%",
            "http://a/x&calc",
            "http://a/\"",
            "ftp://a/",
            "http://a/ b",
            "http://a/$(x)",
        ] {
            assert!(safe_url("t", bad).is_err(), "{bad}");
        }
    }
}

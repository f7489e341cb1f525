//! The small cells of a row: ports, OS flags, Required/Optional, the OS list.
//!
//! Ports, OS flags, Required/Optional, the streamlined workbook's OS list.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::text::collapse_ws;
use crate::model::{Os, OsFlag, Requirement};

/// Parses a Port cell: `443`, `80, 443`, `80/443`, `443.0` (a number cell).
/// A blank cell gives an empty set.
pub fn parse_ports(text: &str) -> Result<BTreeSet<u16>, String> {
    let mut ports = BTreeSet::new();
    for token in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '/')) {
        let token = token.trim();
        if token.is_empty() || token.eq_ignore_ascii_case("and") {
            continue;
        }
        let digits = token.strip_suffix(".0").unwrap_or(token);
        match digits.parse::<u16>() {
            Ok(p) if p > 0 && digits.chars().all(|c| c.is_ascii_digit()) => {
                ports.insert(p);
            }
            _ => return Err(format!("{token:?} is not a TCP port (1-65535)")),
        }
    }
    Ok(ports)
}

/// A cell value the reader does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unrecognized value")]
pub struct Unrecognized;

/// An OS cell: `Yes`, `Yes*`, `No`, or blank. `Err` for anything else.
pub fn parse_os_flag(text: &str) -> Result<Option<OsFlag>, Unrecognized> {
    match collapse_ws(text).to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "yes" | "y" | "x" => Ok(Some(OsFlag::Yes)),
        "yes*" | "yes *" => Ok(Some(OsFlag::Conditional)),
        "no" | "n" => Ok(Some(OsFlag::No)),
        _ => Err(Unrecognized),
    }
}

/// The streamlined workbook's OS column: `All`, `Windows`, `macOS`, `Linux`,
/// or a list of them. `Err` names a value it does not know.
pub fn parse_os_list(text: &str) -> Result<BTreeMap<Os, OsFlag>, String> {
    let mut out = BTreeMap::new();
    for token in text.split([',', '/', ';', '\n', '&']) {
        let token = collapse_ws(token).to_ascii_lowercase();
        let oses: &[Os] = match token.as_str() {
            "" => continue,
            // Streamlined connectivity serves the unified agents only.
            "all" => &[Os::Windows, Os::Macos, Os::Linux],
            "windows" => &[Os::Windows],
            "mac" | "macos" | "mac os" => &[Os::Macos],
            "linux" => &[Os::Linux],
            other => return Err(format!("unknown OS {other:?}")),
        };
        out.extend(oses.iter().map(|&os| (os, OsFlag::Yes)));
    }
    Ok(out)
}

/// `Required`, `Optional`, or blank.
pub fn parse_requirement(text: &str) -> Result<Requirement, Unrecognized> {
    let lower = collapse_ws(text).to_ascii_lowercase();
    match lower.as_str() {
        "" => Ok(Requirement::Unspecified),
        "required" | "yes" | "true" => Ok(Requirement::Required),
        "optional" | "no" | "false" => Ok(Requirement::Optional),
        _ => Err(Unrecognized),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_ports("80, 443").unwrap(), BTreeSet::from([80, 443]));
        assert_eq!(parse_ports("443.0").unwrap(), BTreeSet::from([443]));
        assert_eq!(parse_ports("\t443 ").unwrap(), BTreeSet::from([443]));
        assert!(parse_ports("").unwrap().is_empty());
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("70000").is_err());
        assert!(parse_ports("443 (TCP)").is_err());
    }

    #[test]
    fn os_flags() {
        assert_eq!(parse_os_flag(" Yes"), Ok(Some(OsFlag::Yes)));
        assert_eq!(parse_os_flag("Yes*"), Ok(Some(OsFlag::Conditional)));
        assert_eq!(parse_os_flag("No"), Ok(Some(OsFlag::No)));
        assert_eq!(parse_os_flag("\u{a0}"), Ok(None));
        assert_eq!(
            parse_os_flag("Required for Live Response"),
            Err(Unrecognized)
        );
    }

    #[test]
    fn os_lists() {
        assert_eq!(parse_os_list("All").unwrap().len(), 3);
        assert_eq!(
            parse_os_list("macOS").unwrap(),
            BTreeMap::from([(Os::Macos, OsFlag::Yes)])
        );
        assert!(parse_os_list("Solaris").is_err());
    }

    #[test]
    fn requirement() {
        assert_eq!(parse_requirement(" Required "), Ok(Requirement::Required));
        assert_eq!(parse_requirement("Optional"), Ok(Requirement::Optional));
        assert_eq!(parse_requirement("maybe"), Err(Unrecognized));
    }
}

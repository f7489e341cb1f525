//! `policy.json`: the one serialized form of a policy, written and read back.
//!
//! The one serialized form of a [`Policy`], written by `generate` and read
//! back by anything that consumes a policy without resolving a ruleset
//! (`diff`, `audit`, `verify`). Reading back and writing again gives the
//! same bytes.

use super::{POLICY_VERSION, Policy};

/// Why a `policy.json` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PolicyReadError {
    /// Not JSON of the policy's shape; `path` is the JSON path of the
    /// first value that did not fit.
    #[error("not an egressgen policy at {path}: {message}")]
    Shape { path: String, message: String },
    #[error("policy version {found} is not one this binary reads (it reads {POLICY_VERSION})")]
    Version { found: u32 },
}

impl Policy {
    /// The bytes of `policy.json`: pretty JSON and a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        // A policy is plain data (strings, numbers, maps with string
        // keys), which serde_json always serializes.
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Reads `policy.json` back. Host patterns, names and prefixes are
    /// validated again as they are read, as if they came from a source.
    pub fn from_json(bytes: &[u8]) -> Result<Policy, PolicyReadError> {
        // Format and version first, so a policy of another version is
        // named as such rather than as a shape error deep inside.
        let header: Header = parse(bytes)?;
        if header.version != POLICY_VERSION {
            return Err(PolicyReadError::Version {
                found: header.version,
            });
        }
        parse(bytes)
    }
}

#[derive(serde::Deserialize)]
struct Header {
    // Read only to be checked: any other value is a shape error.
    #[serde(rename = "format")]
    _format: super::PolicyFormat,
    version: u32,
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, PolicyReadError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| PolicyReadError::Shape {
        path: e.path().to_string(),
        message: crate::model::text::display_escape(&e.inner().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Vec<u8> {
        let spec = crate::sources::SourceSpec::Builtin(crate::sources::Builtin::Mdi);
        let catalog = crate::sources::with_builtin_facts(
            crate::sources::read_source(&spec, &Default::default()).unwrap(),
        );
        let ruleset = crate::ruleset::Ruleset::parse(
            "name = \"j\"\n[scope]\ncloud = \"commercial\"\nproducts = [\"mdi\"]\n[site]\nmdi_instances = [\"contoso\"]\n",
            std::path::Path::new("j.toml"),
        )
        .unwrap();
        super::super::resolve(&catalog, &ruleset.site).to_json()
    }

    #[test]
    fn another_format_or_version_is_named() {
        let good = String::from_utf8(minimal()).unwrap();
        assert!(Policy::from_json(good.as_bytes()).is_ok());
        let other = good.replacen("egressgen-policy", "egressgen-catalog", 1);
        let err = Policy::from_json(other.as_bytes()).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "not an egressgen policy at format: unknown variant `egressgen-catalog`"
            ),
            "{err}"
        );
        let newer = good.replacen("\"version\": 1", "\"version\": 2", 1);
        let err = Policy::from_json(newer.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            err,
            "policy version 2 is not one this binary reads (it reads 1)"
        );
    }

    #[test]
    fn hosts_are_validated_as_they_are_read() {
        let good = String::from_utf8(minimal()).unwrap();
        let bad = good.replacen(
            "contososensorapi.atp.azure.com",
            "contoso\\nsensorapi.atp.azure.com",
            2,
        );
        assert_ne!(bad, good);
        let err = Policy::from_json(bad.as_bytes()).unwrap_err().to_string();
        assert!(
            err.starts_with("not an egressgen policy at entries["),
            "{err}"
        );
        assert!(
            err.contains("].host.name: character '\\n' is not allowed in a host name"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}

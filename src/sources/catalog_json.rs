//! Catalog JSON: the stable shape `catalog` and `baseline` write, read back.
//!
//! Read by the built-in baseline and by `diff`; every name and prefix goes
//! through validation again on the way in (docs/catalog-json.md).

use crate::model::{CATALOG_FORMAT, CATALOG_VERSION, Catalog};

/// Text that is not a catalog this version reads.
#[derive(Debug, thiserror::Error)]
#[error("not catalog JSON egressgen can read: {detail}")]
pub struct CatalogJsonError {
    pub detail: String,
}

/// The stable JSON shape, pretty-printed, with a final newline.
pub fn to_json(catalog: &Catalog) -> String {
    let mut text = serde_json::to_string_pretty(catalog).unwrap_or_else(|e| {
        // Serializing plain data structures cannot fail; say so if it does.
        format!("{{\"error\": {:?}}}", e.to_string())
    });
    text.push('\n');
    text
}

/// Reads a catalog in the stable JSON shape, of this format and version.
pub fn parse(json: &str) -> Result<Catalog, CatalogJsonError> {
    let catalog: Catalog = serde_json::from_str(json).map_err(|e| CatalogJsonError {
        detail: e.to_string(),
    })?;
    if catalog.format != CATALOG_FORMAT || catalog.version != CATALOG_VERSION {
        return Err(CatalogJsonError {
            detail: format!(
                "format {:?} version {}, expected {CATALOG_FORMAT:?} version {CATALOG_VERSION}",
                catalog.format, catalog.version
            ),
        });
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_and_names_what_is_wrong() {
        let catalog = crate::sources::builtin::mdi();
        assert_eq!(parse(&to_json(&catalog)).unwrap(), catalog);
        let e = parse("{\"format\": \"x\"}").unwrap_err().to_string();
        assert!(
            e.starts_with("not catalog JSON egressgen can read: "),
            "{e}"
        );
        let other = to_json(&catalog).replace(CATALOG_FORMAT, "egressgen-policy");
        let e = parse(&other).unwrap_err().to_string();
        assert!(e.contains("expected \"egressgen-catalog\""), "{e}");
    }
}

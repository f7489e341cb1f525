//! The one list of backends: one line per format, from which everything else iterates.
//!
//! The one list of backends. Each line names the ruleset key of its
//! `[outputs.*]` table and the type that renders it; from that list come
//! the typed `Outputs` table of a ruleset (so a bad setting is still an
//! error at its file, line and column), the backends a ruleset configures,
//! and the rows every cross-backend test, the README's capability table and
//! `--only` iterate. Adding a backend is one file plus one line here.

use std::path::PathBuf;

use super::{Backend, Registered};

/// One registered backend.
#[derive(Clone, Copy)]
pub struct Row {
    /// The key of its `[outputs.KEY]` table.
    pub key: &'static str,
    /// Its name in `--only`, loss reports and `explain`.
    pub name: &'static str,
    pub summary: &'static str,
    /// The backend a ruleset configures, if it does.
    pub configured: fn(&Outputs) -> Option<Box<dyn Backend>>,
    /// The backend with its default settings (an empty table); `None`
    /// only if a setting had no default, which the tests refuse.
    pub default: fn() -> Option<Box<dyn Backend>>,
    /// How `audit` reads this format back, if it can.
    pub reader: Option<crate::backends::reader::Reader>,
}

/// The settings of an empty `[outputs.KEY]` table: every field has a
/// default, which the registry's test checks for every backend.
pub fn defaults<S: serde::de::DeserializeOwned>() -> Option<S> {
    toml::Table::new().try_into().ok()
}

fn boxed<F: Registered>(settings: F::Settings) -> Box<dyn Backend> {
    Box::new(F::new(settings))
}

macro_rules! registry {
    ($($key:ident => $format:ty),* $(,)?) => {
        /// The `[outputs]` table of a ruleset.
        #[derive(Clone, Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Outputs {
            /// Output directory; `generate --out` overrides it. Default
            /// `out/<name>`.
            #[serde(default)]
            pub dir: Option<PathBuf>,
            $(
                #[serde(default)]
                pub $key: Option<<$format as Registered>::Settings>,
            )*
        }

        /// Every backend, in the order their files are written.
        pub static REGISTRY: &[Row] = &[$(
            Row {
                key: stringify!($key),
                name: <$format as Registered>::NAME,
                summary: <$format as Registered>::SUMMARY,
                configured: |o: &Outputs| o.$key.clone().map(boxed::<$format>),
                default: || defaults::<<$format as Registered>::Settings>().map(boxed::<$format>),
                reader: <$format as Registered>::READER,
            },
        )*];
    };
}

registry! {
    plain => super::plain::Plain,
    squid => super::squid::Squid,
    pac => super::pac::Pac,
    tls_bypass => super::tls_bypass::TlsBypass,
    pfsense => super::pfsense::Pfsense,
    azure_firewall => super::azure_firewall::AzureFirewall,
    nftables => super::nftables::Nftables,
    windows => super::devices::windows::Windows,
    mdi_sensor => super::devices::mdi_sensor::MdiSensor,
    mdatp => super::devices::mdatp::Mdatp,
}

/// The backends a ruleset configures, in registry order.
pub fn configured(outputs: &Outputs) -> Vec<Box<dyn Backend>> {
    REGISTRY
        .iter()
        .filter_map(|row| (row.configured)(outputs))
        .collect()
}

/// The README's capability table: one row per backend, with its default
/// settings.
pub fn capability_table(rows: &[Row]) -> String {
    let mut out = String::from(super::caps::TABLE_HEADER);
    for row in rows {
        if let Some(backend) = (row.default)() {
            out.push_str(&backend.caps().table_row(row.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_has_defaults_and_a_unique_name() {
        let mut names = std::collections::BTreeSet::new();
        for row in REGISTRY {
            let b = (row.default)().expect("every setting has a default");
            assert_eq!(b.name(), row.name, "{}", row.key);
            assert!(names.insert(row.name), "{} twice", row.name);
            assert_eq!(row.key.replace('_', "-"), row.name);
        }
    }
}

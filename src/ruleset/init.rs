//! A new ruleset from a few answers: the questions `init` asks, their checks and the commented file.
//!
//! `egressgen init` fills a [`Draft`] from its flags, asks on a terminal
//! for what is missing ([`Draft::next_question`]), and writes the file
//! [`Answers::text`] makes, never over an existing one ([`create`]). Each
//! answer is checked by the ruleset's own value types (a geography with its
//! "did you mean"), so what is written reads back as written; the caller
//! also passes the check `generate` would run, since this module sits
//! below the pipeline.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Ruleset, RulesetError, words};
use crate::backends::registry::REGISTRY;
use crate::model::{Cloud, Os, Product};
use crate::values::{GeoName, InstanceName, ProxyAddress, RulesetName, WorkspaceId};

/// The clouds a ruleset names, in the order they are offered.
const CLOUDS: [Cloud; 4] = [Cloud::Commercial, Cloud::Gcc, Cloud::GccHigh, Cloud::Dod];

/// The products a ruleset names, in the order they are offered.
const PRODUCTS: [Product; 7] = [
    Product::Mde,
    Product::Mdav,
    Product::SmartScreen,
    Product::Mma,
    Product::Mdi,
    Product::Portal,
    Product::M365,
];

/// The products of a scope that names none (as [`crate::site::Scope`]).
const DEFAULT_PRODUCTS: [Product; 3] = [Product::Mde, Product::Mdav, Product::SmartScreen];

/// The outputs written when none is asked for.
pub const DEFAULT_OUTPUTS: [&str; 3] = ["squid", "pac", "tls_bypass"];

/// Outputs that tell devices which proxy to use: they cannot be rendered
/// without one (checked against the backends by a test).
const TELL_DEVICES: [&str; 4] = ["pac", "windows", "mdi_sensor", "mdatp"];

/// One value `init` needs: a flag, or a question on a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Name,
    Cloud,
    Geographies,
    Products,
    WorkspaceIds,
    MdiInstances,
    Outputs,
    Proxy,
}

impl Key {
    /// Its flag on the command line.
    pub fn flag(self) -> &'static str {
        match self {
            Key::Name => "--name",
            Key::Cloud => "--cloud",
            Key::Geographies => "--geography",
            Key::Products => "--product",
            Key::WorkspaceIds => "--workspace-id",
            Key::MdiInstances => "--mdi-instance",
            Key::Outputs => "--output",
            Key::Proxy => "--proxy",
        }
    }

    /// Takes several values (a repeated flag, a comma-separated answer).
    fn many(self) -> bool {
        !matches!(self, Key::Name | Key::Cloud | Key::Proxy)
    }
}

/// One question of the prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub key: Key,
    /// What is asked, with the accepted values.
    pub text: String,
    /// The answer an empty line gives, if there is one.
    pub default: Option<String>,
}

impl Question {
    /// The line the prompt shows: `Cloud (commercial, gcc, ...) [commercial]: `.
    pub fn prompt(&self) -> String {
        match &self.default {
            Some(d) => format!("{} [{d}]: ", self.text),
            None => format!("{}: ", self.text),
        }
    }
}

/// What `init` knows so far: each value checked when it is given.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    name: Option<RulesetName>,
    cloud: Option<Cloud>,
    geographies: Option<Vec<GeoName>>,
    products: Option<BTreeSet<Product>>,
    workspace_ids: Option<Vec<WorkspaceId>>,
    mdi_instances: Option<Vec<InstanceName>>,
    outputs: Option<Vec<&'static str>>,
    proxy: Option<Option<ProxyAddress>>,
}

/// Splits an answer or flag values: commas separate values (a geography
/// may hold a space, `US Gov`).
fn split(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// `x` checked by a ruleset value type.
fn checked<T: TryFrom<String, Error = String>>(values: &[String]) -> Result<Vec<T>, String> {
    values.iter().map(|v| T::try_from(v.clone())).collect()
}

/// One of `choices` by its name, with a "did you mean" as in a ruleset.
fn choice<T: Copy>(
    what: &str,
    given: &str,
    choices: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T, String> {
    let key = given.trim().to_ascii_lowercase();
    if let Some(c) = choices.iter().find(|c| name(**c) == key) {
        return Ok(*c);
    }
    let names: Vec<&str> = choices.iter().map(|c| name(*c)).collect();
    let hint = words::closest(&key, &names)
        .map(|c| format!(" (did you mean {c}?)"))
        .unwrap_or_default();
    Err(format!(
        "unknown {what} {given:?}{hint}; accepted: {}",
        names.join(", ")
    ))
}

/// An output by its `[outputs.KEY]` key or its `--only` name
/// (`tls_bypass`, `tls-bypass`).
fn output(given: &str) -> Result<&'static str, String> {
    let key = given.trim().to_ascii_lowercase().replace('-', "_");
    let keys: Vec<&'static str> = REGISTRY.iter().map(|r| r.key).collect();
    if let Some(k) = keys.iter().find(|k| **k == key) {
        return Ok(k);
    }
    let hint = words::closest(&key, &keys)
        .map(|c| format!(" (did you mean {c}?)"))
        .unwrap_or_default();
    Err(format!(
        "unknown output {given:?}{hint}; accepted: {}",
        keys.join(", ")
    ))
}

/// "none" (or nothing) for an empty list or no proxy.
fn is_none(values: &[String]) -> bool {
    values.is_empty() || (values.len() == 1 && values[0].eq_ignore_ascii_case("none"))
}

impl Draft {
    /// Sets `key` from flag values or an answer; an invalid value, or one
    /// that contradicts what is already set, is refused with the reason and
    /// the draft is unchanged.
    pub fn set(&mut self, key: Key, values: &[String]) -> Result<(), String> {
        let values = if key.many() {
            split(values)
        } else {
            values.iter().map(|v| v.trim().to_string()).collect()
        };
        let one = || -> Result<&String, String> {
            match values.as_slice() {
                [v] => Ok(v),
                [] => Err(format!("{} needs a value", key.flag())),
                _ => Err(format!("{} takes one value", key.flag())),
            }
        };
        match key {
            Key::Name => self.name = Some(RulesetName::try_from(one()?.clone())?),
            Key::Cloud => {
                let given = one()?;
                self.cloud = Some(choice("cloud", given, &CLOUDS, Cloud::as_str)?);
            }
            Key::Geographies => {
                let list = if is_none(&values) {
                    Vec::new()
                } else {
                    checked(&values)?
                };
                self.geographies = Some(list);
            }
            Key::Products => {
                if values.is_empty() {
                    return Err("name at least one product".to_string());
                }
                let list: BTreeSet<Product> = values
                    .iter()
                    .map(|v| choice("product", v, &PRODUCTS, Product::as_str))
                    .collect::<Result<_, _>>()?;
                self.check_ids(&list)?;
                self.products = Some(list);
            }
            Key::WorkspaceIds => {
                self.needs(Product::Mma, key)?;
                let ids = checked(&values)?;
                if ids.is_empty() {
                    return Err(format!("{}: name at least one", key.flag()));
                }
                self.workspace_ids = Some(ids);
            }
            Key::MdiInstances => {
                self.needs(Product::Mdi, key)?;
                let names = checked(&values)?;
                if names.is_empty() {
                    return Err(format!("{}: name at least one", key.flag()));
                }
                self.mdi_instances = Some(names);
            }
            Key::Outputs => {
                if values.is_empty() {
                    return Err("name at least one output".to_string());
                }
                let mut list: Vec<&'static str> = Vec::new();
                for v in &values {
                    let key = output(v)?;
                    if !list.contains(&key) {
                        list.push(key);
                    }
                }
                if let Some(Option::None) = self.proxy {
                    proxy_for(&list)?;
                }
                self.outputs = Some(list);
            }
            Key::Proxy => {
                if is_none(&values) {
                    proxy_for(self.outputs())?;
                    self.proxy = Some(None);
                } else {
                    self.proxy = Some(Some(ProxyAddress::try_from(one()?.clone())?));
                }
            }
        }
        Ok(())
    }

    /// The products chosen so far, else the default ones.
    fn products(&self) -> BTreeSet<Product> {
        self.products
            .clone()
            .unwrap_or_else(|| DEFAULT_PRODUCTS.into_iter().collect())
    }

    /// The outputs chosen so far, else the default ones.
    fn outputs(&self) -> &[&'static str] {
        self.outputs.as_deref().unwrap_or(&DEFAULT_OUTPUTS)
    }

    /// IDs for `product` are only accepted once it is chosen (or while the
    /// products are still to be asked).
    fn needs(&self, product: Product, key: Key) -> Result<(), String> {
        match &self.products {
            Some(p) if !p.contains(&product) => Err(not_chosen(product, key)),
            _ => Ok(()),
        }
    }

    /// Products that leave out one whose IDs are already given.
    fn check_ids(&self, products: &BTreeSet<Product>) -> Result<(), String> {
        for (product, key, given) in [
            (
                Product::Mma,
                Key::WorkspaceIds,
                self.workspace_ids.is_some(),
            ),
            (
                Product::Mdi,
                Key::MdiInstances,
                self.mdi_instances.is_some(),
            ),
        ] {
            if given && !products.contains(&product) {
                return Err(not_chosen(product, key));
            }
        }
        Ok(())
    }

    /// Whether `key` still needs a value: it has none and no default.
    fn wants(&self, key: Key) -> bool {
        match key {
            Key::Name => self.name.is_none(),
            Key::Cloud => self.cloud.is_none(),
            Key::WorkspaceIds => {
                self.workspace_ids.is_none() && self.products().contains(&Product::Mma)
            }
            Key::MdiInstances => {
                self.mdi_instances.is_none() && self.products().contains(&Product::Mdi)
            }
            Key::Proxy => self.proxy.is_none() && proxy_for(self.outputs()).is_err(),
            Key::Geographies | Key::Products | Key::Outputs => false,
        }
    }

    /// The values with no default that are still missing, in the order
    /// they would be asked: what a run without a terminal must be given.
    pub fn missing(&self) -> Vec<Key> {
        ORDER.into_iter().filter(|k| self.wants(*k)).collect()
    }

    /// The next question for a value not yet given, with the accepted
    /// values and the default an empty answer takes; `None` when nothing
    /// is left to ask.
    pub fn next_question(&self) -> Option<Question> {
        let key = ORDER.into_iter().find(|k| match k {
            Key::Geographies => self.geographies.is_none(),
            Key::Products => self.products.is_none(),
            Key::Outputs => self.outputs.is_none(),
            Key::Proxy => self.proxy.is_none(),
            k => self.wants(*k),
        })?;
        let list = |names: Vec<&str>| names.join(", ");
        let (text, default) = match key {
            Key::Name => (
                "Name of the site (lower-case letters, digits, '-', '_'; names the output directory)"
                    .to_string(),
                None,
            ),
            Key::Cloud => (
                format!(
                    "Cloud ({})",
                    list(CLOUDS.iter().map(|c| c.as_str()).collect())
                ),
                Some("commercial".to_string()),
            ),
            Key::Geographies => (
                format!(
                    "Geographies of your Defender data beyond WW, comma-separated ({}), or none",
                    crate::model::geography::SITE_CHOICES.join(", ")
                ),
                Some("none".to_string()),
            ),
            Key::Products => (
                format!(
                    "Products, comma-separated ({})",
                    list(PRODUCTS.iter().map(|p| p.as_str()).collect())
                ),
                Some(list(DEFAULT_PRODUCTS.iter().map(|p| p.as_str()).collect())),
            ),
            Key::WorkspaceIds => (
                "Log Analytics workspace IDs of the MMA agent, comma-separated (GUIDs)".to_string(),
                None,
            ),
            Key::MdiInstances => (
                "Defender for Identity instance names, comma-separated (the name before .atp.azure.com)"
                    .to_string(),
                None,
            ),
            Key::Outputs => (
                format!(
                    "Outputs, comma-separated ({})",
                    list(REGISTRY.iter().map(|r| r.key).collect())
                ),
                Some(list(DEFAULT_OUTPUTS.to_vec())),
            ),
            Key::Proxy => {
                let needed = proxy_for(self.outputs()).is_err();
                (
                    format!(
                        "Proxy devices are sent to, host:port{}",
                        if needed { "" } else { ", or none" }
                    ),
                    (!needed).then(|| "none".to_string()),
                )
            }
        };
        Some(Question { key, text, default })
    }

    /// The answers, defaults filled in; a value still missing or two that
    /// contradict each other are refused, naming the flags.
    pub fn finish(self) -> Result<Answers, String> {
        let missing = self.missing();
        if !missing.is_empty() {
            let flags: Vec<&str> = missing.iter().map(|k| k.flag()).collect();
            return Err(format!("missing {}", flags.join(", ")));
        }
        let products = self.products();
        self.check_ids(&products)?;
        let outputs = self.outputs().to_vec();
        let proxy = self.proxy.flatten();
        if proxy.is_none() {
            proxy_for(&outputs)?;
        }
        let (Some(name), Some(cloud)) = (self.name, self.cloud) else {
            return Err("missing --name, --cloud".to_string());
        };
        Ok(Answers {
            name,
            cloud,
            geographies: self.geographies.unwrap_or_default(),
            products,
            workspace_ids: self.workspace_ids.unwrap_or_default(),
            mdi_instances: self.mdi_instances.unwrap_or_default(),
            outputs,
            proxy,
        })
    }
}

/// The order of the questions.
const ORDER: [Key; 8] = [
    Key::Name,
    Key::Cloud,
    Key::Geographies,
    Key::Products,
    Key::WorkspaceIds,
    Key::MdiInstances,
    Key::Outputs,
    Key::Proxy,
];

/// IDs given for a product that is not chosen.
fn not_chosen(product: Product, key: Key) -> String {
    format!(
        "{} is only for the {} product, which is not chosen: add --product {}, or leave {} out",
        key.flag(),
        product.as_str(),
        product.as_str(),
        key.flag()
    )
}

/// Refuses outputs that need a proxy when there is none.
fn proxy_for(outputs: &[&str]) -> Result<(), String> {
    let needy: Vec<&str> = outputs
        .iter()
        .copied()
        .filter(|o| TELL_DEVICES.contains(o))
        .collect();
    if needy.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the {} output{} tell{} devices which proxy to use: give --proxy HOST:PORT",
            needy.join(", "),
            if needy.len() > 1 { "s" } else { "" },
            if needy.len() > 1 { "" } else { "s" },
        ))
    }
}

/// Everything a new ruleset needs, checked.
#[derive(Clone, Debug)]
pub struct Answers {
    pub name: RulesetName,
    pub cloud: Cloud,
    pub geographies: Vec<GeoName>,
    pub products: BTreeSet<Product>,
    pub workspace_ids: Vec<WorkspaceId>,
    pub mdi_instances: Vec<InstanceName>,
    /// `[outputs.KEY]` keys, in the order given.
    pub outputs: Vec<&'static str>,
    pub proxy: Option<ProxyAddress>,
}

/// A TOML string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A TOML list of strings.
fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(quoted).collect();
    format!("[{}]", items.join(", "))
}

/// A setting with its comment aligned as in the example rulesets.
fn line(setting: &str, comment: &str) -> String {
    format!("{setting:<33} # {comment}\n")
}

impl Answers {
    /// The ruleset file `file`: every key with a short comment, in the
    /// layout of the example rulesets.
    pub fn text(&self, file: &Path) -> String {
        let name = self.name.as_str();
        let file = file.file_name().unwrap_or_default().to_string_lossy();
        let file = if file.contains(|c: char| c.is_whitespace() || c.is_control()) {
            "FILE".into()
        } else {
            file
        };
        let mut t = String::new();
        t.push_str(&format!(
            "# The ruleset of the site {name}, written by `egressgen init`. Edit it,\n\
             # check it with `egressgen check {file}`, then write its outputs with\n\
             # `egressgen generate {file}`. Every key is in the book (docs/rulesets.md).\n\n"
        ));
        t.push_str(&line(
            &format!("name = {}", quoted(name)),
            &format!("names the output directory (out/{name}) and every file's header"),
        ));
        t.push_str("# description = \"what this site is\"\n\n");
        t.push_str(
            "[sources]\n\
             # \"baseline\" is the catalog built into egressgen. Add Microsoft's files\n\
             # (paths relative to this file), or \"live:\" sources that `egressgen refresh`\n\
             # keeps current (see the book, docs/sources.md).\n\
             files = [\"baseline\"]\n\n",
        );
        t.push_str("[scope]\n");
        t.push_str(&line(
            &format!("cloud = {}", quoted(self.cloud.as_str())),
            "commercial | gcc | gcc-high | dod",
        ));
        t.push_str(&line(
            &format!(
                "geographies = {}",
                list(self.geographies.iter().map(|g| g.as_str()))
            ),
            "where Defender data lives, beyond WW (always in): US, EU, UK, ...",
        ));
        t.push_str(&line(
            &format!(
                "products = {}",
                list(self.products.iter().map(|p| p.as_str()))
            ),
            "mde | mdav | smart-screen | mma | mdi | portal | m365",
        ));
        t.push_str(&line(
            &format!("os = {}", list(Os::ALL.iter().map(|o| o.as_str()))),
            "drop the systems the site does not run",
        ));
        t.push_str(&line(
            "connectivity = \"standard\"",
            "or \"streamlined\" (*.endpoint.security.microsoft.com)",
        ));
        t.push_str(&line(
            "include_optional = true",
            "keep the endpoints Microsoft marks optional",
        ));
        if !self.workspace_ids.is_empty() || !self.mdi_instances.is_empty() {
            t.push_str("\n[site]\n");
        }
        if !self.workspace_ids.is_empty() {
            t.push_str(&line(
                &format!(
                    "workspace_ids = {}",
                    list(self.workspace_ids.iter().map(|w| w.as_str()))
                ),
                "the MMA agent's Log Analytics workspaces",
            ));
        }
        if !self.mdi_instances.is_empty() {
            t.push_str(&line(
                &format!(
                    "mdi_instances = {}",
                    list(self.mdi_instances.iter().map(|i| i.as_str()))
                ),
                "Defender for Identity instances (NAME.atp.azure.com)",
            ));
        }
        t.push_str("\n[proxy]\n");
        match &self.proxy {
            Some(p) => t.push_str(&line(
                &format!("addresses = {}", list([p.as_str()])),
                "host:port devices are sent to, in order of preference",
            )),
            None => t.push_str(&line(
                "# addresses = [\"proxy.contoso.com:3128\"]",
                "host:port devices are sent to",
            )),
        }
        t.push_str(
            "\n# The outputs: one [outputs.KIND] table each, written by `egressgen generate`\n\
             # into out/NAME next to this file (every setting: docs/outputs.md).\n",
        );
        for key in &self.outputs {
            let summary = REGISTRY
                .iter()
                .find(|r| r.key == *key)
                .map(|r| r.summary)
                .unwrap_or("");
            t.push_str(&format!("\n# {key}: {summary}.\n[outputs.{key}]\n"));
            match *key {
                "squid" => {
                    t.push_str(&line(
                        &format!(
                            "# install_dir = {}",
                            quoted(&format!("/etc/squid/egressgen/{name}"))
                        ),
                        "where the files live on the proxy (the default)",
                    ));
                    let port = self.proxy.as_ref().map_or(3128, ProxyAddress::port);
                    t.push_str(&line(
                        &format!("listen = {port}"),
                        "the port of the [proxy] address devices are told",
                    ));
                }
                "pac" => {
                    t.push_str(&line(
                        "# proxy = \"PROXY proxy.contoso.com:3128; DIRECT\"",
                        "default: the [proxy] addresses",
                    ));
                    t.push_str(&line(
                        "# default = \"DIRECT\"",
                        "for every other host; default: same as proxy",
                    ));
                }
                _ => {}
            }
        }
        t
    }
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError<E> {
    #[error("{}: exists; init never overwrites a file (remove it, or choose another name)", .0.display())]
    Exists(PathBuf),
    #[error("{}: cannot write: {detail}", path.display())]
    Write { path: PathBuf, detail: String },
    /// The text does not read back as a ruleset (a bug: every value was
    /// checked).
    #[error("the ruleset init would write is invalid: {0}")]
    Invalid(RulesetError),
    /// The check `generate` would run refused it.
    #[error(transparent)]
    Check(E),
}

/// Refuses a path that exists, before any question is asked.
pub fn refuse_existing<E>(path: &Path) -> Result<(), InitError<E>> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Err(InitError::Exists(path.to_path_buf())),
        Err(_) => Ok(()),
    }
}

/// Writes the ruleset of `answers` to `path`, which must not exist: the
/// text is read back with [`Ruleset::parse`] and given to `check` (the
/// `check` command's pipeline) first; on any failure nothing is written.
pub fn create<E>(
    path: &Path,
    answers: &Answers,
    check: impl FnOnce(&Ruleset) -> Result<(), E>,
) -> Result<Ruleset, InitError<E>> {
    refuse_existing(path)?;
    let text = answers.text(path);
    let ruleset = Ruleset::parse(&text, path).map_err(InitError::Invalid)?;
    check(&ruleset).map_err(InitError::Check)?;
    let write_error = |e: std::io::Error| InitError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    // The whole text goes to a file of our own beside FILE first, then is
    // linked in under FILE's name: a link never replaces a file made since
    // the first look, and a kill or a full disk never leaves half a ruleset.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.egressgen-init-{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(write_error)?;
    let linked = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::hard_link(&tmp, path));
    // Only the temporary file, which this call created, is removed.
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => InitError::Exists(path.to_path_buf()),
        _ => write_error(e),
    })?;
    Ok(ruleset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(d: &mut Draft, key: Key, values: &[&str]) -> Result<(), String> {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        d.set(key, &values)
    }

    fn full() -> Draft {
        let mut d = Draft::default();
        set(&mut d, Key::Name, &["site"]).unwrap();
        set(&mut d, Key::Cloud, &["commercial"]).unwrap();
        set(&mut d, Key::Proxy, &["proxy.contoso.com:8080"]).unwrap();
        d
    }

    #[test]
    fn the_text_reads_back_as_the_answers() {
        let mut d = full();
        set(&mut d, Key::Geographies, &["EU", "uk"]).unwrap();
        set(&mut d, Key::Products, &["mde,mma", "mdi"]).unwrap();
        set(
            &mut d,
            Key::WorkspaceIds,
            &["0E2B1D6C-1111-2222-3333-444455556666"],
        )
        .unwrap();
        set(&mut d, Key::MdiInstances, &["contoso-corp"]).unwrap();
        set(
            &mut d,
            Key::Outputs,
            &["squid", "tls-bypass", "pac", "mdi_sensor"],
        )
        .unwrap();
        let a = d.finish().unwrap();
        let text = a.text(Path::new("site.toml"));
        assert!(text.contains("`egressgen check site.toml`"), "{text}");
        let r = Ruleset::parse(&text, Path::new("site.toml")).unwrap();
        assert_eq!(r.site.name.as_str(), "site");
        assert_eq!(r.site.scope.cloud, Cloud::Commercial);
        let geos: Vec<&str> = r
            .site
            .scope
            .geographies
            .iter()
            .map(|g| g.as_str())
            .collect();
        assert_eq!(geos, ["EU", "UK"]);
        assert_eq!(
            r.site.scope.products,
            [Product::Mde, Product::Mma, Product::Mdi].into()
        );
        assert_eq!(
            r.site.values.workspace_ids[0].as_str(),
            "0e2b1d6c-1111-2222-3333-444455556666"
        );
        assert_eq!(r.site.values.mdi_instances[0].as_str(), "contoso-corp");
        assert_eq!(r.site.proxy.addresses[0].as_str(), "proxy.contoso.com:8080");
        assert_eq!(r.outputs.squid.as_ref().unwrap().listen.0, 8080);
        assert!(r.outputs.tls_bypass.is_some() && r.outputs.pac.is_some());
        assert!(r.outputs.mdi_sensor.is_some() && r.outputs.plain.is_none());
        // Every line is a comment, blank, a table or a key with its comment.
        for l in text.lines() {
            let bare = !l.is_empty() && !l.starts_with('#') && !l.starts_with('[');
            if bare && !l.starts_with("files") {
                assert!(l.contains(" # "), "no comment: {l}");
            }
        }
    }

    #[test]
    fn missing_values_are_named_by_their_flags() {
        let d = Draft::default();
        assert_eq!(d.missing(), [Key::Name, Key::Cloud, Key::Proxy]);
        assert_eq!(d.finish().unwrap_err(), "missing --name, --cloud, --proxy");
        let mut d = Draft::default();
        set(&mut d, Key::Outputs, &["squid", "nftables"]).unwrap();
        set(&mut d, Key::Products, &["mma"]).unwrap();
        assert_eq!(d.missing(), [Key::Name, Key::Cloud, Key::WorkspaceIds]);
    }

    #[test]
    fn ids_only_with_their_product() {
        let mut d = full();
        set(&mut d, Key::Products, &["mde"]).unwrap();
        let e = set(
            &mut d,
            Key::WorkspaceIds,
            &["0e2b1d6c-1111-2222-3333-444455556666"],
        )
        .unwrap_err();
        assert!(
            e.starts_with("--workspace-id is only for the mma product"),
            "{e}"
        );
        // Given before the products: the products are refused, and so is
        // a draft that keeps the default ones.
        let mut d = full();
        set(&mut d, Key::MdiInstances, &["x"]).unwrap();
        let e = set(&mut d, Key::Products, &["mde"]).unwrap_err();
        assert!(
            e.contains("--mdi-instance is only for the mdi product"),
            "{e}"
        );
        let e = d.finish().unwrap_err();
        assert!(
            e.contains("--mdi-instance is only for the mdi product"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_say_what_is_accepted() {
        let mut d = Draft::default();
        let e = set(&mut d, Key::Geographies, &["Europe"]).unwrap_err();
        assert!(e.contains("did you mean EU?"), "{e}");
        let e = set(&mut d, Key::Cloud, &["gcc-hihg"]).unwrap_err();
        assert!(e.contains("did you mean gcc-high?"), "{e}");
        let e = set(&mut d, Key::Products, &["mdavv"]).unwrap_err();
        assert!(e.contains("did you mean mdav?"), "{e}");
        let e = set(&mut d, Key::Outputs, &["tls-bypas"]).unwrap_err();
        assert!(
            e.contains("\"tls-bypas\" (did you mean tls_bypass?)"),
            "{e}"
        );
        let e = set(&mut d, Key::Proxy, &["proxy.contoso.com"]).unwrap_err();
        assert!(e.contains("host:port"), "{e}");
        let e = set(&mut d, Key::Name, &["My Site"]).unwrap_err();
        assert!(e.contains("lower-case"), "{e}");
        set(&mut d, Key::Outputs, &["nftables"]).unwrap();
        set(&mut d, Key::Proxy, &["none"]).unwrap();
        let e = set(&mut d, Key::Outputs, &["pac"]).unwrap_err();
        assert!(e.contains("the pac output tells devices"), "{e}");
    }

    #[test]
    fn questions_come_in_order_with_their_defaults() {
        let mut d = Draft::default();
        let mut asked = Vec::new();
        while let Some(q) = d.next_question() {
            asked.push((q.key, q.default.clone()));
            let answer = match q.key {
                Key::Name => "site".to_string(),
                Key::Products => "mde, mma".to_string(),
                Key::WorkspaceIds => "0e2b1d6c-1111-2222-3333-444455556666".to_string(),
                Key::Proxy => "p.contoso.com:3128".to_string(),
                _ => q.default.clone().unwrap(),
            };
            d.set(q.key, &[answer]).unwrap();
        }
        let keys: Vec<Key> = asked.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                Key::Name,
                Key::Cloud,
                Key::Geographies,
                Key::Products,
                Key::WorkspaceIds,
                Key::Outputs,
                Key::Proxy
            ]
        );
        assert_eq!(asked[3].1.as_deref(), Some("mde, mdav, smart-screen"));
        assert_eq!(asked[5].1.as_deref(), Some("squid, pac, tls_bypass"));
        assert_eq!(asked[6].1, None);
        let a = d.finish().unwrap();
        assert!(a.geographies.is_empty());
        assert_eq!(a.outputs, DEFAULT_OUTPUTS);
    }

    /// The outputs said to need a proxy are exactly those that cannot be
    /// rendered without one.
    #[test]
    fn the_outputs_that_need_a_proxy_are_those_the_backends_refuse_without() {
        let text = "name = \"t\"\n[scope]\ncloud = \"commercial\"\nproducts = [\"mde\", \"mdi\"]\n[site]\nmdi_instances = [\"x\"]\n";
        let r = Ruleset::parse(text, Path::new("t.toml")).unwrap();
        let policy = crate::generate::policy_for(&r).unwrap();
        for row in REGISTRY {
            let backend = (row.default)().unwrap();
            let refused = backend.render(&policy).is_err();
            assert_eq!(refused, TELL_DEVICES.contains(&row.key), "{}", row.key);
        }
    }

    /// The names serde accepts for `T`, from its error for an unknown one.
    fn accepted<T: serde::de::DeserializeOwned>() -> Vec<String> {
        let e = toml::Value::String("?".to_string())
            .try_into::<T>()
            .err()
            .unwrap()
            .to_string();
        e.split('`')
            .skip(3)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_product_and_cloud_is_offered() {
        let offered: Vec<&str> = PRODUCTS.iter().map(|p| p.as_str()).collect();
        assert_eq!(accepted::<Product>(), offered);
        let offered: Vec<&str> = CLOUDS.iter().map(|c| c.as_str()).collect();
        assert_eq!(accepted::<Cloud>(), offered);
    }
}

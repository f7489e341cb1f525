//! Squid: ACL files, an include of `acl` and `http_access` lines, and ssl-bump rules.
//!
//! ACL files (`dstdomain -n`, anchored `dstdom_regex` for suffix globs,
//! anchored `url_regex` for path prefixes on port 80), an include snippet
//! of `acl` and `http_access` lines to put before the site's own final
//! deny, an ssl-bump snippet that splices the must-not-inspect hosts, and
//! standalone configurations using them.
//!
//! Squid 5/6 abort on overlapping `dstdomain` entries (`x` with `.x`, or
//! `.a.x` with `.x`), so each ACL file is collapsed once more with Squid's
//! own semantics (`.x` admits `x`).

pub mod directives;
pub mod read;

use std::collections::BTreeMap;

use serde::Deserialize;

use super::caps::{Caps, Host, HostCaps, Paths, Ports, Support};
use super::loss::{Form, plan, plan_bypass};
use super::spelling::{Syntax, spell, url_regex};
use super::{
    Backend, BackendError, LossEntry, Registered, Rendered, comment_block, header_lines,
    loss_report, provenance_comment, safe_name, safe_path,
};
use crate::model::HostPattern;
use crate::policy::{Policy, PolicyEntry, TlsEntry};
use crate::values::{AbsPath, Cidr, PortNumber};

const NAME: &str = "squid";
const DEFAULT_BUMP_CERT: &str = "/etc/squid/egressgen-bump.pem";
const DEFAULT_SSL_DB: &str = "/var/lib/squid/ssl_db";
/// Where the files go on the proxy when `install_dir` is not set: a
/// folder per ruleset under Squid's own configuration directory.
const DEFAULT_INSTALL_ROOT: &str = "/etc/squid/egressgen";
/// The script that copies the files to `install_dir` on the proxy.
pub const INSTALL_SCRIPT: &str = "install-squid.sh";

/// One ACL file and the lines it will hold.
#[derive(Default)]
struct AclFile {
    /// Line -> comments (which entries it serves).
    lines: BTreeMap<String, Vec<String>>,
}

impl AclFile {
    fn add(&mut self, line: String, comment: String) {
        let slot = self.lines.entry(line).or_default();
        if !slot.contains(&comment) {
            slot.push(comment);
        }
    }

    fn text(&self, header: &str) -> String {
        let mut out = String::from(header);
        for (line, comments) in &self.lines {
            for c in comments {
                out.push_str(&format!("# {c}\n"));
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// What the files of one port hold.
#[derive(Default)]
struct PortAcls {
    domains: AclFile,
    globs: AclFile,
    urls: AclFile,
}

/// `[outputs.squid]`: ACL files, an include snippet and standalone
/// configurations.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Absolute directory the files will be installed in on the proxy,
    /// which every path in them names (`acl_dir` is its older name).
    /// Default `/etc/squid/egressgen/<ruleset name>`, never the output
    /// directory as such: files made on one machine are read on another.
    /// A proxy that generates its own files sets it to the output
    /// directory, and Squid reads them where they are published.
    #[serde(default, alias = "acl_dir")]
    pub install_dir: Option<AbsPath>,
    /// Port of the standalone configuration's `http_port`.
    #[serde(default = "default_listen")]
    pub listen: PortNumber,
    /// Client networks allowed to use the proxy for these destinations.
    #[serde(default = "default_clients")]
    pub clients: Vec<Cidr>,
    /// PEM file (certificate and key) for the ssl-bump configuration's
    /// `http_port ... ssl-bump`. Default `/etc/squid/egressgen-bump.pem`.
    #[serde(default)]
    pub bump_cert: Option<AbsPath>,
    /// Certificate database of `security_file_certgen` for the ssl-bump
    /// configuration. Default `/var/lib/squid/ssl_db` (Debian's).
    #[serde(default)]
    pub ssl_db: Option<AbsPath>,
}

fn default_listen() -> PortNumber {
    PortNumber(3128)
}

fn default_clients() -> Vec<Cidr> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
        "fe80::/10",
    ]
    .iter()
    .map(|c| Cidr::fixed(c))
    .collect()
}

pub struct Squid {
    cfg: Settings,
}

impl Registered for Squid {
    type Settings = Settings;
    const NAME: &'static str = NAME;
    const SUMMARY: &'static str =
        "Squid ACL files, include snippets (plain and ssl-bump) and standalone configurations";
    const READER: Option<crate::backends::reader::Reader> = Some(crate::backends::reader::Reader {
        kind: "squid",
        recognise: read::recognise,
        read: read::read,
    });
    fn new(cfg: Settings) -> Self {
        Squid { cfg }
    }
}

/// `.x` admits x itself: Squid has no "below x only".
const SUBTREE_ADMITS_APEX: Support = Support::Broadened(".{name} also admits {name} itself");

const CAPS: Caps = Caps {
    hosts: HostCaps {
        exact: Host::Written(Support::Exact),
        subdomains: Host::Written(SUBTREE_ADMITS_APEX),
        domain: Host::Written(Support::Exact),
        suffix_glob: Host::Written(Support::Exact),
    },
    paths: Paths::HttpOnly(
        "CONNECT cannot see paths: {path} widened to the whole host on port {port}",
    ),
    ports: Ports::Only {
        ports: &[80, 443],
        why: "port {port} is not carried: the Squid output allows CONNECT to 443 and HTTP on 80",
    },
    proxy_route: Support::Exact,
    direct_route: Support::Cannot(
        "direct route: left out of the proxy allow (the client must bypass the proxy)",
    ),
    prefixes: false,
    tls_bypass: Some(SPLICE),
};

/// The `ssl::server_name` splice list: `.x` admits x itself here too.
const SPLICE: HostCaps = HostCaps {
    exact: Host::Written(Support::Exact),
    subdomains: Host::Written(Support::Broadened(
        "splice .{name} also admits {name} itself",
    )),
    domain: Host::Written(Support::Exact),
    suffix_glob: Host::Written(Support::Exact),
};

/// Drops dstdomain lines another line of the same file covers under
/// Squid's semantics, where `.x` admits `x` and everything below. A line
/// is covered by `.y` for its own name (an exact line) or any ancestor.
fn squid_collapse(file: &mut AclFile) {
    let subtrees: std::collections::HashSet<String> = file
        .lines
        .keys()
        .filter_map(|l| l.strip_prefix('.').map(str::to_string))
        .collect();
    let lines: Vec<String> = file.lines.keys().cloned().collect();
    for line in lines {
        let (name, is_subtree) = match line.strip_prefix('.') {
            Some(rest) => (rest.to_string(), true),
            None => (line.clone(), false),
        };
        // The outermost covering subtree, so chains end at the top.
        let mut outer = None;
        let mut rest = name.as_str();
        if !is_subtree && subtrees.contains(rest) {
            outer = Some(rest.to_string());
        }
        while let Some((_, parent)) = rest.split_once('.') {
            if subtrees.contains(parent) {
                outer = Some(parent.to_string());
            }
            rest = parent;
        }
        let Some(outer) = outer.map(|o| format!(".{o}")) else {
            continue;
        };
        let comments = file.lines.remove(&line).unwrap_or_default();
        let slot = file.lines.entry(outer.clone()).or_default();
        for c in comments {
            let c = format!("{c} (within {outer})");
            if !slot.contains(&c) {
                slot.push(c);
            }
        }
    }
}

impl Backend for Squid {
    fn name(&self) -> &'static str {
        NAME
    }

    fn caps(&self) -> Caps {
        CAPS
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let mut https = PortAcls::default();
        let mut http = PortAcls::default();
        let mut loss = loss_report(NAME);
        for e in &policy.entries {
            let plan = plan(e, &CAPS, &policy.prefixes);
            let expressed = express(e, &plan.writes, &mut https, &mut http)?;
            loss.entries.push(plan.entry(e, expressed));
        }
        squid_collapse(&mut https.domains);
        squid_collapse(&mut http.domains);
        let mut nobump = PortAcls::default();
        for t in &policy.tls.bypass {
            loss.entries.push(express_nobump(t, &mut nobump)?);
        }
        squid_collapse(&mut nobump.domains);

        let dir = self.install_dir(policy);
        let mut files = BTreeMap::new();
        let mut acls = Vec::new();
        let header = comment_block(&header_lines(policy, "Squid ACL file"));
        let mut put = |file: &str, acl: &str, kind: &str, content: &AclFile| {
            if content.lines.is_empty() {
                return false;
            }
            files.insert(file.to_string(), content.text(&header).into_bytes());
            acls.push(format!("acl {acl} {kind} \"{dir}/{file}\""));
            true
        };
        let https_dom = put(
            "squid-https.dstdomain",
            "egressgen_https",
            "dstdomain -n",
            &https.domains,
        );
        let https_glob = put(
            "squid-https.dstdom_regex",
            "egressgen_https_glob",
            "dstdom_regex -n -i",
            &https.globs,
        );
        let http_dom = put(
            "squid-http.dstdomain",
            "egressgen_http",
            "dstdomain -n",
            &http.domains,
        );
        let http_glob = put(
            "squid-http.dstdom_regex",
            "egressgen_http_glob",
            "dstdom_regex -n -i",
            &http.globs,
        );
        let http_url = put(
            "squid-http.url_regex",
            "egressgen_http_url",
            "url_regex",
            &http.urls,
        );
        let nobump_dom = put(
            "squid-nobump.ssl_server_name",
            "egressgen_nobump",
            "ssl::server_name",
            &nobump.domains,
        );
        let nobump_glob = put(
            "squid-nobump.ssl_server_name_regex",
            "egressgen_nobump_glob",
            "ssl::server_name_regex -i",
            &nobump.globs,
        );

        let mut snippet = comment_block(&header_lines(
            policy,
            "Squid include: allow the policy's destinations",
        ));
        snippet.push_str("# Include before your own final \"http_access deny all\".\n");
        snippet.push_str(&format!("acl egressgen_clients src {}\n", self.clients()));
        snippet.push_str("acl egressgen_connect method CONNECT\nacl egressgen_port443 port 443\nacl egressgen_port80 port 80\n");
        for a in acls.iter().filter(|a| !a.contains("ssl::server_name")) {
            snippet.push_str(a);
            snippet.push('\n');
        }
        let allow = |acl: &str, tls: bool| {
            if tls {
                format!(
                    "http_access allow egressgen_clients egressgen_connect egressgen_port443 {acl}\n"
                )
            } else {
                format!(
                    "http_access allow egressgen_clients !egressgen_connect egressgen_port80 {acl}\n"
                )
            }
        };
        for (present, acl, tls) in [
            (https_dom, "egressgen_https", true),
            (https_glob, "egressgen_https_glob", true),
            (http_dom, "egressgen_http", false),
            (http_glob, "egressgen_http_glob", false),
            (http_url, "egressgen_http_url", false),
        ] {
            if present {
                snippet.push_str(&allow(acl, tls));
            }
        }

        let mut bump = comment_block(&header_lines(
            policy,
            "Squid include: ssl_bump that splices must-not-inspect hosts",
        ));
        bump.push_str("acl egressgen_step1 at_step SslBump1\n");
        for a in acls.iter().filter(|a| a.contains("ssl::server_name")) {
            bump.push_str(a);
            bump.push('\n');
        }
        bump.push_str("ssl_bump peek egressgen_step1\n");
        if nobump_dom {
            bump.push_str("ssl_bump splice egressgen_nobump\n");
        }
        if nobump_glob {
            bump.push_str("ssl_bump splice egressgen_nobump_glob\n");
        }
        bump.push_str("ssl_bump bump all\n");
        // A bumped tunnel's requests come back through http_access as
        // plain requests to port 443: allow those to the same hosts, or
        // every inspected destination is refused once decrypted.
        bump.push_str(
            "# Decrypted requests inside bumped tunnels (include after squid-egressgen.conf).\n",
        );
        bump.push_str("acl egressgen_bumped proto HTTPS\n");
        for (present, acl) in [
            (https_dom, "egressgen_https"),
            (https_glob, "egressgen_https_glob"),
        ] {
            if present {
                bump.push_str(&format!(
                    "http_access allow egressgen_clients egressgen_bumped egressgen_port443 {acl}\n"
                ));
            }
        }

        files.insert("squid-egressgen.conf".into(), snippet.into_bytes());
        files.insert("squid-egressgen-sslbump.conf".into(), bump.into_bytes());
        files.insert(
            "squid.conf".into(),
            self.standalone(policy, &dir, false).into_bytes(),
        );
        files.insert(
            "squid-sslbump.conf".into(),
            self.standalone(policy, &dir, true).into_bytes(),
        );
        let names: Vec<String> = files.keys().cloned().collect();
        files.insert(
            INSTALL_SCRIPT.into(),
            install_script(policy, &dir, &names).into_bytes(),
        );
        Ok(Rendered { files, loss })
    }
}

impl Squid {
    /// Where the files live on the proxy: a checked absolute path (or one
    /// made of a checked ruleset name), safe unquoted in Squid and sh.
    fn install_dir(&self, policy: &Policy) -> String {
        match &self.cfg.install_dir {
            Some(d) => d.to_string(),
            None => format!("{DEFAULT_INSTALL_ROOT}/{}", policy.ruleset.name),
        }
    }

    fn clients(&self) -> String {
        self.cfg
            .clients
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A complete squid.conf around the snippet (and the ssl-bump one).
    fn standalone(&self, policy: &Policy, dir: &str, bump: bool) -> String {
        let what = if bump {
            "standalone Squid configuration with ssl-bump"
        } else {
            "standalone Squid configuration"
        };
        let mut c = comment_block(&header_lines(policy, what));
        let port = self.cfg.listen.0;
        if bump {
            let cert = self
                .cfg
                .bump_cert
                .as_ref()
                .map_or(DEFAULT_BUMP_CERT, |p| p.as_str());
            c.push_str(&format!(
                "http_port {port} ssl-bump tls-cert={cert} generate-host-certificates=on dynamic_cert_mem_cache_size=4MB\n"
            ));
            let db = self
                .cfg
                .ssl_db
                .as_ref()
                .map_or(DEFAULT_SSL_DB, |p| p.as_str());
            c.push_str(&format!(
                "sslcrtd_program /usr/lib/squid/security_file_certgen -s {db} -M 4MB\n"
            ));
        } else {
            c.push_str(&format!("http_port {port}\n"));
        }
        c.push_str(
            "acl SSL_ports port 443\n\
             acl Safe_ports port 80\n\
             acl Safe_ports port 443\n\
             acl CONNECT method CONNECT\n\
             http_access deny !Safe_ports\n\
             http_access deny CONNECT !SSL_ports\n",
        );
        c.push_str(&format!("include {dir}/squid-egressgen.conf\n"));
        if bump {
            c.push_str(&format!("include {dir}/squid-egressgen-sslbump.conf\n"));
        }
        c.push_str("http_access deny all\ncache deny all\n");
        c
    }
}

/// A POSIX sh script that installs `names` from its own directory into
/// `dir`, each by a rename so Squid never reads half a file. `dir` is a
/// checked path and `names` are ours: nothing in it needs quoting.
fn install_script(policy: &Policy, dir: &str, names: &[String]) -> String {
    let mut s = String::from("#!/bin/sh\n");
    s.push_str(&comment_block(&header_lines(
        policy,
        "Squid install script",
    )));
    s.push_str(&format!(
        "# Installs these Squid files in {dir}, where every path in them points.\n\
         # Run it as root on the proxy, from a copy of this directory:\n\
         #   sh {INSTALL_SCRIPT}\n\
         # then include {dir}/squid-egressgen.conf from squid.conf (or start\n\
         # squid -f {dir}/squid.conf), check with squid -k parse, and load the\n\
         # change with squid -k reconfigure.\n\
         set -eu\n\
         here=$(CDPATH= cd -- \"$(dirname -- \"$0\")\" && pwd)\n\
         dir={dir}\n\
         mkdir -p -- \"$dir\"\n\
         for f in {}; do\n\
         \x20   cp -- \"$here/$f\" \"$dir/.$f.tmp\"\n\
         \x20   chmod 0644 -- \"$dir/.$f.tmp\"\n\
         \x20   mv -f -- \"$dir/.$f.tmp\" \"$dir/$f\"\n\
         done\n\
         echo \"egressgen: {} files installed in $dir\"\n",
        names.join(" "),
        names.len()
    ));
    s
}

/// Puts one allow entry into the port-443 and port-80 files, as planned.
fn express(
    e: &PolicyEntry,
    writes: &[(u16, Form)],
    https: &mut PortAcls,
    http: &mut PortAcls,
) -> Result<Vec<String>, BackendError> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    safe_name(NAME, &e.host)?;
    if let Some(p) = &e.path {
        safe_path(NAME, p)?;
    }
    let comment = format!(
        "{} <- {}",
        super::loss::entry_label(e),
        provenance_comment(&e.provenance)
    );
    let mut expressed = Vec::new();
    for &(port, form) in writes {
        let (acls, file) = if port == 443 {
            (&mut *https, "https")
        } else {
            (&mut *http, "http")
        };
        if let (Form::Url, Some(path)) = (form, &e.path)
            && let Some(line) = url_regex(&e.host, path)
        {
            expressed.push(format!("squid-{file}.url_regex: {line}"));
            acls.urls.add(line, comment.clone());
            continue;
        }
        let (lines, target, kind) = match &e.host {
            HostPattern::SuffixGlob(_) => (
                spell(Syntax::HostRegex, &e.host),
                &mut acls.globs,
                "dstdom_regex",
            ),
            host => (
                spell(Syntax::Dstdomain, host),
                &mut acls.domains,
                "dstdomain",
            ),
        };
        for line in lines {
            expressed.push(format!("squid-{file}.{kind}: {line}"));
            target.add(line, comment.clone());
        }
    }
    Ok(expressed)
}

/// Puts one must-not-inspect host into the splice ACL.
fn express_nobump(t: &TlsEntry, acls: &mut PortAcls) -> Result<LossEntry, BackendError> {
    let (plan, write) = plan_bypass(t, &SPLICE);
    if !write {
        return Ok(plan.bypass_entry(&t.host, Vec::new()));
    }
    safe_name(NAME, &t.host)?;
    let comment = format!("{} <- {}", t.host, provenance_comment(&t.provenance));
    let (lines, target, file) = match &t.host {
        HostPattern::SuffixGlob(_) => (
            spell(Syntax::HostRegex, &t.host),
            &mut acls.globs,
            "squid-nobump.ssl_server_name_regex",
        ),
        host => (
            spell(Syntax::Dstdomain, host),
            &mut acls.domains,
            "squid-nobump.ssl_server_name",
        ),
    };
    let mut expressed = Vec::new();
    for line in lines {
        expressed.push(format!("{file}: {line}"));
        target.add(line, comment.clone());
    }
    Ok(plan.bypass_entry(&t.host, expressed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_uses_squid_semantics() {
        let mut f = AclFile::default();
        f.add(".blob.core.windows.net".into(), "a".into());
        f.add("x.blob.core.windows.net".into(), "b".into());
        f.add(".a.x.example.com".into(), "c".into());
        f.add(".x.example.com".into(), "d".into());
        f.add("x.example.com".into(), "e".into());
        squid_collapse(&mut f);
        let lines: Vec<&String> = f.lines.keys().collect();
        assert_eq!(lines, [".blob.core.windows.net", ".x.example.com"]);
    }
}

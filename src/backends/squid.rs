//! Squid: ACL files (`dstdomain -n`, anchored `dstdom_regex` for suffix
//! globs, anchored `url_regex` for path prefixes on port 80), an include
//! snippet of `acl` and `http_access` lines to put before the site's own
//! final deny, an ssl-bump snippet that splices the must-not-inspect hosts,
//! and standalone configurations using them.
//!
//! Squid 5/6 abort on overlapping `dstdomain` entries (`x` with `.x`, or
//! `.a.x` with `.x`), so each ACL file is collapsed once more with Squid's
//! own semantics (`.x` admits `x`).

use std::collections::BTreeMap;

use super::{
    Backend, BackendError, Capabilities, LossEntry, LossReport, Outcome, OutputOptions, Rendered,
    comment_block, header_lines, provenance_comment, safe_name, safe_path,
};
use crate::model::{HostPattern, Route};
use crate::policy::{Policy, PolicyEntry, TlsEntry};
use crate::ruleset::SquidOutput;

const NAME: &str = "squid";
const DEFAULT_BUMP_CERT: &str = "/etc/squid/egressgen-bump.pem";
const DEFAULT_SSL_DB: &str = "/var/lib/squid/ssl_db";

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

pub struct Squid {
    cfg: SquidOutput,
}

impl Squid {
    pub fn new(cfg: SquidOutput) -> Self {
        Squid { cfg }
    }
}

/// `x` for an exact host, `.x` for a subtree: Squid's dstdomain syntax.
fn domain_line(host: &HostPattern, name: &str) -> Option<String> {
    match host {
        HostPattern::Exact(_) => Some(name.to_string()),
        HostPattern::Subdomains(_) | HostPattern::Domain(_) => Some(format!(".{name}")),
        _ => None,
    }
}

/// POSIX extended regex with every metacharacter escaped.
fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if ".[]{}()\\*+?^$|".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The host part of an anchored regex: the same hosts the pattern admits.
fn host_regex(host: &HostPattern, name: &str) -> Option<String> {
    let n = regex_escape(name);
    Some(match host {
        HostPattern::Exact(_) => n,
        HostPattern::Subdomains(_) => format!("[a-z0-9.-]+\\.{n}"),
        HostPattern::Domain(_) => format!("([a-z0-9.-]+\\.)?{n}"),
        HostPattern::SuffixGlob(_) => format!("[a-z0-9.-]*{n}"),
        HostPattern::Template(_) => return None,
    })
}

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

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            exact: true,
            subdomains: false,
            domain: true,
            suffix_glob: true,
            paths: true,
            prefixes: false,
        }
    }

    fn render(&self, policy: &Policy, opts: &OutputOptions) -> Result<Rendered, BackendError> {
        let mut https = PortAcls::default();
        let mut http = PortAcls::default();
        let mut loss = LossReport {
            backend: NAME.to_string(),
            entries: Vec::new(),
        };
        for e in &policy.entries {
            loss.entries.push(express(e, &mut https, &mut http)?);
        }
        squid_collapse(&mut https.domains);
        squid_collapse(&mut http.domains);
        let mut nobump = PortAcls::default();
        for t in &policy.tls.bypass {
            loss.entries.push(express_nobump(t, &mut nobump)?);
        }
        squid_collapse(&mut nobump.domains);

        let dir = match &self.cfg.acl_dir {
            Some(d) => d.to_string(),
            None => opts.out_dir.display().to_string(),
        };
        if !dir.starts_with('/') || dir.chars().any(|c| c.is_whitespace() || c == '"') {
            return Err(BackendError {
                backend: NAME,
                message: format!(
                    "ACL directory {dir:?} must be absolute, without spaces or quotes"
                ),
            });
        }
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
        Ok(Rendered { files, loss })
    }
}

impl Squid {
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

/// Puts one allow entry into the port-443 and port-80 files.
fn express(
    e: &PolicyEntry,
    https: &mut PortAcls,
    http: &mut PortAcls,
) -> Result<LossEntry, BackendError> {
    if e.route == Route::Direct {
        return Ok(LossEntry::new(
            e,
            Outcome::Dropped,
            Vec::new(),
            "direct route: left out of the proxy allow (the client must bypass the proxy)",
        ));
    }
    let name = safe_name(NAME, &e.host)?;
    if let Some(p) = &e.path {
        safe_path(NAME, p)?;
    }
    let comment = format!(
        "{} <- {}",
        super::loss::entry_label(e),
        provenance_comment(&e.provenance)
    );
    let mut expressed = Vec::new();
    let mut why = Vec::new();
    let mut outcome = Outcome::Exact;
    for &port in &e.ports {
        let acls = match port {
            443 => &mut *https,
            80 => &mut *http,
            other => {
                why.push(format!("port {other} is not carried: the Squid output allows CONNECT to 443 and HTTP on 80"));
                outcome = outcome.max(Outcome::Narrowed);
                continue;
            }
        };
        match (&e.path, port) {
            (Some(path), 80) => {
                let host = host_regex(&e.host, name).unwrap_or_default();
                let line = format!("^http://{host}(:80)?{}", regex_escape(path));
                expressed.push(format!("squid-http.url_regex: {line}"));
                acls.urls.add(line, comment.clone());
                continue;
            }
            (Some(path), _) => {
                why.push(format!(
                    "CONNECT cannot see paths: {path} widened to the whole host on port {port}"
                ));
                outcome = outcome.max(Outcome::Broadened);
            }
            (None, _) => {}
        }
        let file = if port == 443 { "https" } else { "http" };
        match &e.host {
            HostPattern::SuffixGlob(_) => {
                let line = format!("^{}$", host_regex(&e.host, name).unwrap_or_default());
                expressed.push(format!("squid-{file}.dstdom_regex: {line}"));
                acls.globs.add(line, comment.clone());
            }
            host => {
                let Some(line) = domain_line(host, name) else {
                    continue;
                };
                if matches!(host, HostPattern::Subdomains(_)) {
                    why.push(format!("{line} also admits {name} itself"));
                    outcome = outcome.max(Outcome::Broadened);
                }
                expressed.push(format!("squid-{file}.dstdomain: {line}"));
                acls.domains.add(line, comment.clone());
            }
        }
    }
    if expressed.is_empty() {
        outcome = Outcome::Dropped;
    }
    why.dedup();
    Ok(LossEntry::new(e, outcome, expressed, &why.join("; ")))
}

/// Puts one must-not-inspect host into the splice ACL.
fn express_nobump(t: &TlsEntry, acls: &mut PortAcls) -> Result<LossEntry, BackendError> {
    let name = safe_name(NAME, &t.host)?;
    let comment = format!("{} <- {}", t.host, provenance_comment(&t.provenance));
    let label = |file: &str, line: &str| vec![format!("{file}: {line}")];
    let loss = match &t.host {
        HostPattern::SuffixGlob(_) => {
            let line = format!("^{}$", host_regex(&t.host, name).unwrap_or_default());
            let l = label("squid-nobump.ssl_server_name_regex", &line);
            acls.globs.add(line, comment);
            LossEntry::for_host(&t.host, Outcome::Exact, l, "")
        }
        host => {
            let Some(line) = domain_line(host, name) else {
                return Ok(LossEntry::for_host(
                    &t.host,
                    Outcome::Dropped,
                    Vec::new(),
                    "an unfilled placeholder",
                ));
            };
            let l = label("squid-nobump.ssl_server_name", &line);
            acls.domains.add(line.clone(), comment);
            if matches!(host, HostPattern::Subdomains(_)) {
                LossEntry::for_host(
                    &t.host,
                    Outcome::Broadened,
                    l,
                    &format!("splice {line} also admits {name} itself"),
                )
            } else {
                LossEntry::for_host(&t.host, Outcome::Exact, l, "")
            }
        }
    };
    Ok(loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_escape_and_anchor() {
        let h = |t: &str| crate::normalize::host::parse_pattern(t).unwrap();
        assert_eq!(regex_escape("a.b+c"), "a\\.b\\+c");
        assert_eq!(
            host_regex(&h("*.x.com"), "x.com").unwrap(),
            "[a-z0-9.-]+\\.x\\.com"
        );
        assert_eq!(
            host_regex(&h("*ss.x.com"), "ss.x.com").unwrap(),
            "[a-z0-9.-]*ss\\.x\\.com"
        );
    }

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

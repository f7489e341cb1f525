//! `audit` against a real Squid. For our generated configurations and
//! seven hand-written ones (fixtures/audit/squid), the audit's answer for
//! every one of more than 300 host:port:path requests equals what a live
//! Squid on loopback does: 403 or not, and for TLS, spliced or bumped as
//! told by the certificate the client is shown. For every configuration we
//! have (the stock Debian squid.conf in place, the documented defaults,
//! generated files, fixtures) and for written cases Squid refuses or reads
//! past, the audit reads a file exactly when `squid -k parse` accepts it,
//! refuses it at the line Squid names, and reports as ignored the lines
//! Squid says it ignores.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::squid::{
    Bump, ProxyCa, Wrapper, ask, chmod, free_port, get, live_outputs, origin, start_squid,
    trust_origin,
};
use common::tls::{BumpCerts, bump_certs, probe as tls_probe, start_origin};
use egressgen::audit::probe::sample_hosts;
use egressgen::backends::reader::{
    Access, Config, IgnoredLine, Options, Probe, ReadError, TlsSeen, read_config,
};
use egressgen::generate;
use egressgen::model::Scheme;
use egressgen::policy::Policy;
use egressgen::ruleset::Ruleset;
use serde_json::Value;

const ADDR: &str = "127.0.0.4";
const ORIGIN_CN: &str = "egressgen audit origin";
const PROXY_CN: &str = "egressgen audit proxy CA";
const WORKSPACE: &str = "3f2a9c1e-7b4d-4e8a-9f10-2c6d8e4b1a57";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/audit/squid")
}

/// The site every configuration is audited against: commercial EU with
/// the Monitoring Agent and Defender for Identity.
fn ruleset_text(port: u16, bump: Option<&Bump>, tmp: &Path) -> String {
    format!(
        "name = \"audit-live\"\n[sources]\nfiles = [{:?}, \"builtin:mma\", \"builtin:mdi\"]\n\
         [scope]\ncloud = \"commercial\"\ngeographies = [\"EU\"]\n\
         products = [\"mde\", \"mdav\", \"smart-screen\", \"mma\", \"mdi\"]\n\
         [site]\nworkspace_ids = [\"{WORKSPACE}\"]\nmdi_instances = [\"contoso-corp\"]\n{}",
        common::data("mde/standard-device-connectivity-urls-commercial.urltables.md")
            .display()
            .to_string(),
        live_outputs(port, bump, tmp)
    )
}

/// Generates the site and installs its Squid files as on a proxy: the
/// directory returned is the installed one, which the audit reads.
fn generate_into(dir: &Path, text: &str) -> (Policy, PathBuf) {
    let path = dir.join("audit-live.toml");
    std::fs::write(&path, text).unwrap();
    let r = Ruleset::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.join("out");
    let backends = generate::select_backends(&r, None).unwrap();
    let done = generate::generate(&r, &backends, &out).unwrap_or_else(|e| panic!("{e}"));
    (done.policy, common::squid::install(&out))
}

/// A copy of the fixtures with their placeholders filled in.
fn fixture_copy(dir: &Path, port: u16, bump: &Bump) -> PathBuf {
    let to = dir.join("fixtures");
    copy_filled(
        &fixtures(),
        &to,
        &[
            ("@DIR@", to.display().to_string()),
            ("@PORT@", port.to_string()),
            ("@PEM@", bump.pem.display().to_string()),
            ("@SSLDB@", bump.ssl_db.display().to_string()),
        ],
    );
    to
}

fn copy_filled(from: &Path, to: &Path, subs: &[(&str, String)]) {
    std::fs::create_dir_all(to).unwrap();
    chmod(to, 0o755);
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_filled(&e.path(), &target, subs);
        } else {
            let mut text = std::fs::read_to_string(e.path()).unwrap();
            for (k, v) in subs {
                text = text.replace(k, v);
            }
            std::fs::write(&target, text).unwrap();
            chmod(&target, 0o644);
        }
    }
}

/// Requests that stand for the policy and its near misses: every sample
/// host of every entry on 80 and 443, a host glued to each name, one two
/// levels below it, the name under a foreign domain, paths inside and outside the entries' paths.
fn probes(policy: &Policy) -> Vec<Probe> {
    let client: IpAddr = "127.0.0.1".parse().unwrap();
    let mut hosts = common::audit_hosts(policy);
    let mut paths = BTreeSet::new();
    for e in &policy.entries {
        hosts.insert(e.host.name().as_str().to_string());
        if let Some(p) = &e.path {
            for h in sample_hosts(&e.host) {
                paths.insert((h.clone(), format!("{p}probe")));
                paths.insert((h, "/outside/the/paths".to_string()));
            }
        }
    }
    for n in &policy.tls.never_bypass {
        hosts.extend(sample_hosts(&n.host));
    }
    hosts.extend(
        [
            "microsoft.com",
            "azure.com",
            "anything.windows.net",
            "evil.example.com",
        ]
        .map(String::from),
    );
    let mut out = Vec::new();
    for h in &hosts {
        for port in [80, 443] {
            out.push(Probe {
                host: h.clone(),
                port,
                scheme: if port == 80 {
                    Scheme::Http
                } else {
                    Scheme::Https
                },
                path: "/".to_string(),
                client,
            });
        }
    }
    for (h, p) in paths {
        out.push(Probe {
            host: h,
            port: 80,
            scheme: Scheme::Http,
            path: p,
            client,
        });
    }
    out
}

/// What Squid did with one request, in the audit's terms.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Denied,
    Allowed(Option<bool>),
}

fn live_http(port: u16, p: &Probe) -> Result<Seen, String> {
    let (code, denied) = ask(port, &get(&format!("http://{}{}", p.host, p.path)));
    match (code, denied) {
        (403, true) => Ok(Seen::Denied),
        (200, false) => Ok(Seen::Allowed(None)),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

fn live_tls(r: &Value) -> Result<Seen, String> {
    let denied = r["status"] == 403
        || (r["http"] == 403
            && r["squid_error"]
                .as_str()
                .unwrap_or("")
                .starts_with("ERR_ACCESS_DENIED"));
    if denied {
        return Ok(Seen::Denied);
    }
    if r["status"] == 200 && r["http"] == 200 && r["from_origin"] == true {
        if r["issuer"] == ORIGIN_CN {
            return Ok(Seen::Allowed(Some(false)));
        }
        if r["issuer"] == PROXY_CN {
            return Ok(Seen::Allowed(Some(true)));
        }
    }
    Err(format!("unexpected answer {r}"))
}

fn audited(c: &dyn Config, p: &Probe) -> Result<Seen, String> {
    let v = c.decide(p);
    match v.access {
        Access::Denied => Ok(Seen::Denied),
        Access::Allowed => Ok(Seen::Allowed(match (p.scheme, &v.tls) {
            (Scheme::Http, _) => None,
            (Scheme::Https, TlsSeen::Spliced) => Some(false),
            (Scheme::Https, TlsSeen::Inspected) => Some(true),
            (_, other) => return Err(format!("TLS {other:?}")),
        })),
        Access::Undecidable(why) => Err(format!("undecidable: {why}")),
    }
}

struct Case {
    name: &'static str,
    /// The directory holding the configuration, and its file name.
    dir: PathBuf,
    conf: &'static str,
}

#[test]
fn the_audit_answers_every_request_as_a_live_squid_does() {
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let BumpCerts {
        origin: origin_cert,
        proxy,
        trust,
    } = bump_certs(tmp.path(), ORIGIN_CN, PROXY_CN);
    origin(ADDR, false);
    let _tls_origin = start_origin(ADDR, &origin_cert);

    let port = free_port();
    let bump = Bump::new(tmp.path(), &proxy);
    let (policy, out) = generate_into(tmp.path(), &ruleset_text(port, Some(&bump), tmp.path()));
    let fixtures = fixture_copy(tmp.path(), port, &bump);
    let cases = [
        Case {
            name: "generated",
            dir: out.clone(),
            conf: "squid.conf",
        },
        Case {
            name: "generated ssl-bump",
            dir: out.clone(),
            conf: "squid-sslbump.conf",
        },
        Case {
            name: "wholesale",
            dir: fixtures.clone(),
            conf: "wholesale.conf",
        },
        Case {
            name: "deny first",
            dir: fixtures.clone(),
            conf: "deny-first.conf",
        },
        Case {
            name: "include",
            dir: fixtures.clone(),
            conf: "include.conf",
        },
        Case {
            name: "bump everything",
            dir: fixtures.clone(),
            conf: "bump-everything.conf",
        },
        Case {
            name: "overlapping paths",
            dir: fixtures.clone(),
            conf: "overlapping-paths.conf",
        },
        Case {
            name: "habits",
            dir: fixtures.clone(),
            conf: "habits.conf",
        },
        Case {
            name: "conditionals",
            dir: fixtures.clone(),
            conf: "conditionals.conf",
        },
    ];
    let probes = probes(&policy);
    assert!(probes.len() >= 300, "{} probes", probes.len());
    let hosts: BTreeSet<String> = probes.iter().map(|p| p.host.clone()).collect();
    let tls_hosts: BTreeSet<String> = probes
        .iter()
        .filter(|p| p.scheme == Scheme::Https)
        .map(|p| p.host.clone())
        .collect();

    let mut failures = Vec::new();
    for case in &cases {
        let conf = case.dir.join(case.conf);
        let config = read_config(&conf, None, &Options::default())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let squid = start_squid(
            tmp.path(),
            &case.dir,
            port,
            &Wrapper {
                conf: case.conf,
                address: ADDR,
                hosts: &hosts,
                extra: &trust_origin(&origin_cert.crt),
            },
        );
        let tls = tls_probe(port, &trust, &tls_hosts);
        let mut kinds = BTreeSet::new();
        let mut mismatches = Vec::new();
        for p in &probes {
            let live = match p.scheme {
                Scheme::Http => live_http(port, p),
                Scheme::Https => live_tls(&tls[&p.host]),
            };
            let ours = audited(config.as_ref(), p);
            kinds.insert(format!("{ours:?}"));
            if live != ours || live.is_err() {
                mismatches.push(format!("{p}: squid {live:?}, audit {ours:?}"));
            }
        }
        eprintln!("{}: {} probes, kinds {kinds:?}", case.name, probes.len());
        // Each configuration lets something through and refuses something.
        assert!(
            kinds.contains("Ok(Denied)") && kinds.len() > 1,
            "{}: {kinds:?}",
            case.name
        );
        if !mismatches.is_empty() {
            let log = std::fs::read_to_string(&squid.log).unwrap_or_default();
            failures.push(format!(
                "{}: {} of {} requests differ:\n{}\ncache.log:\n{log}",
                case.name,
                mismatches.len(),
                probes.len(),
                mismatches.join("\n")
            ));
        }
        drop(squid);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// What `squid -k parse` said about a configuration, sorted into what the
/// audit must match.
#[derive(Debug, Default)]
struct Said {
    /// Its FATAL lines: Squid refused the configuration.
    fatal: Vec<String>,
    /// `FILE:LINE` of `FATAL: Bungled FILE line N: ...`, when it names one.
    bungled: Option<String>,
    /// The last statement it read (`Processing: ...`).
    last: Option<String>,
    /// What it read past while saying so, as keys the audit's ignored
    /// lines share ([`ignored_key`]).
    complaints: BTreeSet<String>,
    /// Any other ERROR or WARNING line: none is expected of a
    /// configuration Squid accepts.
    other: Vec<String>,
    text: String,
}

impl Said {
    fn refused(&self) -> bool {
        !self.fatal.is_empty()
    }

    /// One line of Squid's output, without its time stamp.
    fn read(&mut self, l: &str) {
        if let Some(statement) = l.strip_prefix("Processing: ") {
            self.last = Some(statement.to_string());
        } else if let Some(rest) = l.strip_prefix("FATAL: ") {
            if let Some((file, after)) = rest
                .strip_prefix("Bungled ")
                .and_then(|b| b.split_once(" line "))
            {
                let n = after.split(':').next().unwrap_or_default();
                self.bungled = Some(format!("{file}:{n}"));
            }
            self.fatal.push(rest.to_string());
        } else if let Some((head, _)) = l.split_once("): unrecognized: ") {
            let (file, line) = head.rsplit_once('(').expect("FILE(LINE)");
            self.complaints
                .insert(format!("unrecognized {file}:{line}"));
        } else if let Some(rest) = l.strip_prefix("WARNING: You should remove '") {
            let (value, acl) = rest
                .split_once("' from the ACL named '")
                .expect("value and ACL");
            let acl = acl.trim_end_matches('\'');
            self.complaints.insert(format!("covered {acl} {value}"));
        } else if l.starts_with("WARNING: '") && l.contains("' is a subdomain of '") {
            // Said again by the line above.
        } else if l.starts_with("ERROR: Directive '")
            || (l.starts_with("ERROR: '") && l.contains("' requires "))
        {
            self.complaints.insert(format!("ignored {l}"));
        } else if let Some(rest) = l.strip_prefix("aclParseAccessLine: ") {
            // `FILE line N: TEXT`, then the reason on a line of its own.
            if let Some((file, after)) = rest.split_once(" line ")
                && file.starts_with('/')
            {
                let n = after.split(':').next().unwrap_or_default();
                self.complaints.insert(format!("skipped {file}:{n}"));
            }
        } else if l.contains("ERROR") || l.contains("WARNING") || l.contains("Warning") {
            self.other.push(l.to_string());
        }
    }
}

/// `squid -k parse` run from `cwd`, reading as the master process does
/// (`${process_number}` 0), or as worker 1 (`--kid squid-1`), the process
/// that serves requests with Squid's default `workers 1`.
fn squid_says(conf: &Path, worker: bool, cwd: &Path) -> Said {
    let mut cmd = std::process::Command::new("squid");
    if worker {
        cmd.args(["--kid", "squid-1"]);
    }
    let out = cmd
        .args(["-k", "parse", "-f"])
        .arg(conf)
        .current_dir(cwd)
        .output()
        .expect("run squid -k parse");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut said = Said::default();
    for line in text.lines() {
        said.read(line.split_once("| ").map_or(line, |(_, l)| l));
    }
    said.text = text;
    said
}

/// An ignored line of the audit as the key Squid's complaint about the same
/// line has.
fn ignored_key(i: &IgnoredLine) -> String {
    let why = &i.why;
    if why.contains(" is not a Squid directive") {
        return format!("unrecognized {}", i.at);
    }
    if let Some((acl, after)) = why
        .strip_prefix("acl ")
        .and_then(|r| r.split_once(": Squid ignores '"))
    {
        let value = after.split('\'').next().unwrap_or_default();
        return format!("covered {acl} {value}");
    }
    if let Some((_, words)) = why.split_once("Squid ignores this line: ") {
        return format!("ignored {words}");
    }
    if why.starts_with("Squid skips this line: aclParseAccessLine") {
        return format!("skipped {}", i.at);
    }
    format!("unexpected {}: {why}", i.at)
}

/// How the audit and Squid read one configuration, when they agree.
#[derive(Debug)]
enum Outcome {
    /// Both refuse it; the audit's error names `at` (`FILE:LINE`).
    Refused {
        at: String,
        message: String,
        squid: Said,
    },
    /// Both read it; what Squid read past, the audit reports as ignored.
    Read {
        keys: BTreeSet<String>,
        ignored: Vec<IgnoredLine>,
    },
}

/// The audit reads `conf` exactly when Squid (the master's reading and
/// worker 1's) accepts it; a refusal names the line Squid names (or, when
/// Squid names none, the statement it stopped at); and the lines Squid
/// reads past while saying so are the audit's ignored lines, no more.
fn agree(conf: &Path, cwd: &Path) -> Result<Outcome, String> {
    let master = squid_says(conf, false, cwd);
    let worker = squid_says(conf, true, cwd);
    let ours = read_config(conf, Some("squid"), &Options::default());
    let shown = conf.display();
    match (master.refused() || worker.refused(), ours) {
        (true, Err(e)) => {
            let at = match &e {
                ReadError::Syntax { at, .. } => at.to_string(),
                ReadError::Limit { file, .. } | ReadError::Read { file, .. } => file.clone(),
                other => other.to_string(),
            };
            let squid = if master.refused() { master } else { worker };
            Ok(Outcome::Refused {
                at,
                message: e.to_string(),
                squid,
            })
        }
        (false, Ok(c)) => {
            let ignored = c.ignored();
            let keys: BTreeSet<String> = ignored.iter().map(ignored_key).collect();
            let mut said = master.complaints.clone();
            said.extend(worker.complaints.iter().cloned());
            if keys != said || !master.other.is_empty() || !worker.other.is_empty() {
                return Err(format!(
                    "{shown}: squid complained of {said:#?} (and {:?} {:?}), the audit ignored {keys:#?}\n{}",
                    master.other, worker.other, master.text
                ));
            }
            Ok(Outcome::Read { keys, ignored })
        }
        (true, Ok(_)) => Err(format!(
            "{shown}: squid refuses it, the audit reads it:\n{}\n{}",
            master.text, worker.text
        )),
        (false, Err(e)) => Err(format!(
            "{shown}: squid accepts it, the audit refuses it: {e}\n{}",
            master.text
        )),
    }
}

/// The statement at `FILE:LINE`, as written (empty when `at` names no line).
fn statement_at(at: &str) -> String {
    let Some((file, n)) = at
        .rsplit_once(':')
        .and_then(|(f, l)| Some((f, l.parse::<usize>().ok()?)))
    else {
        return String::new();
    };
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .nth(n.saturating_sub(1))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A refusal names the line Squid names: its `Bungled FILE line N`, or,
/// when it names none, the statement it stopped at.
fn same_line(outcome: &Outcome) -> Result<(), String> {
    let Outcome::Refused { at, message, squid } = outcome else {
        return Err(format!("not refused: {outcome:?}"));
    };
    let same = match &squid.bungled {
        Some(line) => line == at,
        // Said at the end of the file, naming no statement: the audit names
        // the `if` left open.
        None if squid
            .fatal
            .iter()
            .any(|f| f.contains("if-statement without 'endif'")) =>
        {
            statement_at(at).starts_with("if")
        }
        None => squid.last.as_deref() == Some(statement_at(at).as_str()),
    };
    if same {
        Ok(())
    } else {
        Err(format!(
            "the audit refuses at {at} ({message}), squid at {:?} after {:?}: {:?}",
            squid.bungled, squid.last, squid.fatal
        ))
    }
}

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A real configuration from squid.conf.documented (the one the installed
/// package ships): every directive's documented default line (`#Default:`
/// followed by `# NAME VALUE`) and the configuration at its end.
fn documented_defaults(dir: &Path) -> PathBuf {
    let gz = Path::new("/usr/share/doc/squid-common/squid.conf.documented.gz");
    assert!(gz.is_file(), "squid-common installs {}", gz.display());
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(gz)
        .output()
        .expect("gzip");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut conf = String::new();
    let mut tag = "";
    let mut defaults = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#  TAG: ") {
            tag = rest.split_whitespace().next().unwrap_or_default();
        }
        if line == "#Default:" {
            defaults = true;
            continue;
        }
        match line.strip_prefix("# ") {
            Some(body) if defaults => {
                if body.split(' ').next() == Some(tag) {
                    conf.push_str(body);
                    conf.push('\n');
                }
                continue;
            }
            _ => defaults = false,
        }
        if !line.is_empty() && !line.starts_with('#') {
            conf.push_str(line);
            conf.push('\n');
        }
    }
    let path = dir.join("documented-defaults.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// The configuration Debian's squid package installs, read where the
/// package put it (not a copy): Squid accepts it and so does the audit,
/// which answers its own rules. It holds comments after the words of a
/// line, one quoting a word.
#[test]
fn the_stock_debian_squid_conf_is_read_as_squid_reads_it() {
    let stock = Path::new("/etc/squid/squid.conf");
    assert!(
        stock.is_file(),
        "the squid package installs {}",
        stock.display()
    );
    let outcome = agree(stock, crate_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&outcome, Outcome::Read { keys, .. } if keys.is_empty()),
        "{outcome:?}"
    );
    let text = std::fs::read_to_string(stock).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("acl ") && l.contains('#') && l.contains('"')),
        "the stock file still has a trailing comment quoting a word"
    );
    let config = read_config(stock, None, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    // Its own rules: localhost may use the proxy, the rest of the world not.
    let probe = |host: &str, client: &str| Probe {
        host: host.to_string(),
        port: 80,
        scheme: Scheme::Http,
        path: "/".to_string(),
        client: client.parse().unwrap(),
    };
    assert_eq!(
        config.decide(&probe("example.com", "127.0.0.1")).access,
        Access::Allowed
    );
    assert_eq!(
        config.decide(&probe("example.com", "192.0.2.1")).access,
        Access::Denied
    );
}

/// Every configuration we have is read by the audit exactly when Squid
/// accepts it, with the lines Squid reads past reported as ignored: the
/// documented defaults of the installed squid.conf.documented, both
/// generated configurations and every hand-written fixture.
#[test]
fn the_audit_reads_a_file_exactly_when_squid_accepts_it() {
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let bump = Bump::new(tmp.path(), &ProxyCa::new(tmp.path(), "accept test CA"));
    let port = free_port();
    let (_, out) = generate_into(tmp.path(), &ruleset_text(port, Some(&bump), tmp.path()));
    let fixtures = fixture_copy(tmp.path(), port, &bump);
    let defaults = documented_defaults(tmp.path());
    let mut confs: Vec<PathBuf> = vec![
        defaults.clone(),
        out.join("squid.conf"),
        out.join("squid-sslbump.conf"),
    ];
    for e in std::fs::read_dir(&fixtures).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "conf") {
            confs.push(e.path());
        }
    }
    assert!(confs.len() >= 11, "{confs:?}");
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for conf in &confs {
        match agree(conf, crate_dir()) {
            Ok(Outcome::Read { keys, .. }) => seen.extend(keys),
            Ok(refused) => failures.push(format!("{}: refused: {refused:?}", conf.display())),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // What the corpus holds that Squid reads past: directives Debian's
    // build lacks (in the documented defaults), a misspelt directive only
    // worker 1 reads (conditionals.conf), entries covered by others
    // (redundant.conf).
    let kinds: BTreeSet<&str> = seen.iter().filter_map(|k| k.split(' ').next()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["covered", "ignored", "unrecognized"]),
        "{seen:#?}"
    );
}

/// One hand-written case: its whole text (`@DIR@` is its directory) and
/// whether Squid refuses it.
struct Written {
    name: &'static str,
    text: String,
    refused: bool,
}

/// A case whose statements sit between an `http_port` and a final `deny all`.
fn written(name: &'static str, body: &str, refused: bool) -> Written {
    Written {
        name,
        text: format!("http_port 3128\n{body}http_access deny all\n"),
        refused,
    }
}

/// Statements, conditions, includes and ACL lines Squid refuses or reads
/// past, each against `squid -k parse`: the audit refuses the same ones at
/// the same line and reports the same ignored lines.
#[test]
fn conditions_includes_and_statements_are_read_as_squid_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir(d.join("a dir")).unwrap();
    std::fs::write(d.join("hosts.txt"), ".a.com\n").unwrap();
    std::fs::write(d.join("inc.conf"), "acl inc src 10.0.0.0/8\n").unwrap();
    let long: String = (0..1000).map(|i| format!(" h{i:05}.example.com")).collect();
    let cases = [
        written("endif.conf", "endif\n", true),
        written("else.conf", "else\n", true),
        written("open-if.conf", "if true\nacl x src all\n", true),
        written("comment-if.conf", "if true # a comment\nendif\n", true),
        written("empty-if.conf", "if\nendif\n", true),
        written("text-if.conf", "if 1 = one\nendif\n", true),
        written(
            "untaken.conf",
            "if false\nhttp_acess allow all\nendif\n",
            false,
        ),
        written(
            "taken.conf",
            "if 2 = 0x2\nhttp_acess allow all\nendif\n",
            false,
        ),
        written(
            "nested.conf",
            "if false\nif true\nnested_bogus x\nendif\nelse\nelse_bogus x\nendif\n",
            false,
        ),
        written(
            "per-process.conf",
            "if ${process_number} = 1\nworker_bogus x\nelse\nmaster_bogus x\nendif\n",
            false,
        ),
        written(
            "master-only.conf",
            "if ${process_number} = 0\ninclude /nonexistent/master-only.conf\nendif\n",
            true,
        ),
        written("missing.conf", "include /nonexistent/x.conf\n", true),
        written(
            "no-match.conf",
            "include @DIR@/inc.conf /nonexistent/*.conf\n",
            true,
        ),
        written("comment.conf", "include @DIR@/inc.conf # a comment\n", true),
        written(
            "quoted.conf",
            "include \"@DIR@/inc.conf\"\nacl y src 10.0.0.0/8\n",
            false,
        ),
        written("directory.conf", "include \"@DIR@/a dir\"\n", false),
        written("bare.conf", "include\n", false),
        written("continued.conf", "acl x src all\nbogus_last \\\n", false),
        Written {
            name: "continued-at-end.conf",
            text: "http_port 3128\nhttp_access deny all\nbogus_last \\\n".to_string(),
            refused: false,
        },
        written("long.conf", &format!("acl big dstdomain{long}\n"), false),
        written(
            "obsolete.conf",
            "dns_v4_first on\nesi_parser libxml2\n",
            false,
        ),
        written(
            "skipped.conf",
            "acl x src all\nhttp_access\nhttp_access permit x\nhttp_access allow\n",
            false,
        ),
        written(
            "later.conf",
            "http_access deny later\nacl later src all\n",
            true,
        ),
        written(
            "later-any.conf",
            "acl x any-of later\nacl later src all\n",
            true,
        ),
        written("type.conf", "acl x nosuchtype y\n", true),
        written("option.conf", "acl x dstdomain -i .a.com\n", true),
        written("backslash.conf", "acl x url_regex ab\\ \n", true),
        written("regex-pair.conf", "acl x url_regex a\\ b c\\\\d\n", false),
        written("no-name.conf", "acl\n", true),
        written(
            "kinds.conf",
            "acl x src all\nacl x dstdomain .a.com\n",
            true,
        ),
        written("bump.conf", "ssl_bump foo all\n", true),
        written(
            "params-off.conf",
            "acl x dstdomain parameters(\"@DIR@/hosts.txt\") x.a.com\n",
            false,
        ),
        written(
            "params-on.conf",
            "configuration_includes_quoted_values on\nacl x dstdomain parameters(\"@DIR@/hosts.txt\") \"x.a.com\" \".b.com c\"\n",
            false,
        ),
        written(
            "params-missing.conf",
            "configuration_includes_quoted_values on\nacl x dstdomain parameters(\"@DIR@/none.txt\")\n",
            true,
        ),
        written(
            "quoted-regex.conf",
            "configuration_includes_quoted_values on\nacl x url_regex a\n",
            true,
        ),
        written(
            "quoted-value.conf",
            "configuration_includes_quoted_values maybe\n",
            true,
        ),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let path = d.join(case.name);
        let body = case.text.replace("@DIR@", &d.display().to_string());
        std::fs::write(&path, &body).unwrap();
        let checked =
            agree(&path, crate_dir()).and_then(|outcome| match (&outcome, case.refused) {
                (Outcome::Refused { .. }, true) => same_line(&outcome),
                (Outcome::Read { .. }, false) => Ok(()),
                _ => Err(format!(
                    "expected refused: {}, got {outcome:?}",
                    case.refused
                )),
            });
        if let Err(e) = checked {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// An include loop: Squid follows it 16 levels deep and stops, naming a
/// file of the loop and no line; the audit refuses it at the include line
/// that closes the loop, naming the lines of the loop. A chain of includes
/// 16 deep is read by both, 17 deep refused by both.
#[test]
fn include_loops_and_depth_end_where_squid_ends_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let a = d.join("a.conf");
    let b = d.join("b.conf");
    std::fs::write(
        &a,
        format!(
            "http_port 3128\ninclude {}\nhttp_access deny all\n",
            b.display()
        ),
    )
    .unwrap();
    std::fs::write(&b, format!("acl x src all\ninclude {}\n", a.display())).unwrap();
    let outcome = agree(&a, crate_dir()).unwrap_or_else(|e| panic!("{e}"));
    let Outcome::Refused { at, message, squid } = &outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(at, &format!("{}:2", b.display()), "{message}");
    assert!(
        message.contains(&format!("{}:2 includes {}", a.display(), b.display())),
        "{message}"
    );
    let named = squid
        .fatal
        .iter()
        .find_map(|f| f.strip_prefix("WARNING: can't include "))
        .and_then(|f| f.split(':').next())
        .expect("squid names the file it stopped at");
    assert!(message.contains(named), "{named}: {message}");
    // Depth: chain[i] includes chain[i + 1]; the last one is 17 below the
    // first and 16 below the second.
    let chain: Vec<PathBuf> = (0..18).map(|i| d.join(format!("c{i:02}.conf"))).collect();
    for (i, c) in chain.iter().enumerate() {
        let text = match chain.get(i + 1) {
            Some(next) => format!("include {}\n", next.display()),
            None => "http_port 3128\nhttp_access deny all\n".to_string(),
        };
        std::fs::write(c, text).unwrap();
    }
    let deep = agree(&chain[0], crate_dir()).unwrap_or_else(|e| panic!("{e}"));
    same_line(&deep).unwrap();
    assert!(matches!(
        agree(&chain[1], crate_dir()),
        Ok(Outcome::Read { .. })
    ));
}

/// Squid opens a relative include from its working directory, not from the
/// including file's directory: a path relative to the tests' working
/// directory (the crate) is found by both, and not by Squid run elsewhere;
/// a path relative to the configuration's own directory is found by
/// neither.
#[test]
fn a_relative_include_is_opened_from_the_working_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let from_cwd = d.join("from-cwd.conf");
    std::fs::write(
        &from_cwd,
        "http_port 3128\ninclude fixtures/audit/squid/conditionals.d/10-extra.conf\nhttp_access deny all\n",
    )
    .unwrap();
    assert!(matches!(
        agree(&from_cwd, crate_dir()),
        Ok(Outcome::Read { .. })
    ));
    assert!(squid_says(&from_cwd, false, d).refused());
    std::fs::create_dir(d.join("beside.d")).unwrap();
    std::fs::write(d.join("beside.d/x.conf"), "acl x src all\n").unwrap();
    let beside = d.join("beside.conf");
    std::fs::write(
        &beside,
        "http_port 3128\ninclude beside.d/x.conf\nhttp_access deny all\n",
    )
    .unwrap();
    let outcome = agree(&beside, crate_dir()).unwrap_or_else(|e| panic!("{e}"));
    same_line(&outcome).unwrap();
    assert!(
        matches!(&outcome, Outcome::Refused { message, .. } if message.contains("working directory")),
        "{outcome:?}"
    );
}

/// Entries Squid drops because an earlier entry of the same ACL covers
/// them (`WARNING: You should remove 'x' from the ACL named 'y'`) are the
/// audit's ignored lines, each at the line of the entry dropped: inline,
/// across acl lines, from an ACL file, with -n and without, for dstdomain
/// and ssl::server_name. In the other order Squid refuses the file, and so
/// does the audit, at the same line.
#[test]
fn entries_squid_drops_as_covered_are_ignored_lines_where_it_warns() {
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let bump = Bump::new(tmp.path(), &ProxyCa::new(tmp.path(), "covered test CA"));
    let fixtures = fixture_copy(tmp.path(), free_port(), &bump);
    let outcome =
        agree(&fixtures.join("redundant.conf"), crate_dir()).unwrap_or_else(|e| panic!("{e}"));
    let Outcome::Read { keys, ignored } = &outcome else {
        panic!("{outcome:?}");
    };
    let files: BTreeSet<&str> = ignored
        .iter()
        .map(|i| i.at.file.rsplit('/').next().unwrap_or_default())
        .collect();
    assert_eq!(
        files,
        BTreeSet::from(["redundant.conf", "redundant-hosts.txt"])
    );
    assert!(keys.len() >= 6, "{keys:#?}");
    for i in ignored {
        let value = ignored_key(i).rsplit(' ').next().unwrap().to_string();
        let line = statement_at(&i.at.to_string()).to_ascii_lowercase();
        assert!(line.contains(&value), "{}: {line:?} lacks {value}", i.at);
    }
    let d = tmp.path();
    std::fs::write(d.join("narrow-first.txt"), "x.example.com\n.example.com\n").unwrap();
    let refused = [
        "acl d dstdomain y.example.org .example.org\n",
        "acl d dstdomain -n a.com\nacl d dstdomain -n .com\n",
        "acl d dstdomain c.d .c.d\n",
        "acl d ssl::server_name x.example.com .example.com\n",
        &format!(
            "acl d dstdomain \"{}\"\n",
            d.join("narrow-first.txt").display()
        ),
    ];
    for (i, text) in refused.iter().enumerate() {
        let path = d.join(format!("wide-after-{i}.conf"));
        std::fs::write(
            &path,
            format!("http_port 3128\n{text}http_access deny all\n"),
        )
        .unwrap();
        let outcome = agree(&path, crate_dir()).unwrap_or_else(|e| panic!("{e}"));
        same_line(&outcome).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

/// Squid's rule for domain lists over random lists of related names, both
/// orders and with and without a leading dot: the audit refuses exactly the
/// lists Squid refuses, at the same line, and drops exactly the entries
/// Squid warns about.
#[test]
fn random_domain_lists_are_kept_dropped_and_refused_as_squid_does() {
    let tmp = tempfile::tempdir().unwrap();
    let mut seed: u64 = 24;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let labels = ["a", "b", "x"];
    let (mut refused, mut dropped) = (0, 0);
    for case in 0..40 {
        let count = 2 + next(8);
        let values: Vec<String> = (0..count)
            .map(|_| {
                let depth = 1 + next(3);
                let name: Vec<&str> = (0..depth).map(|_| labels[next(3) as usize]).collect();
                let dot = if next(5) < 2 { "." } else { "" };
                format!("{dot}{}.test", name.join("."))
            })
            .collect();
        let path = tmp.path().join(format!("list-{case}.conf"));
        std::fs::write(
            &path,
            format!(
                "http_port 3128\nacl d dstdomain {}\nhttp_access deny d\nhttp_access deny all\n",
                values.join(" ")
            ),
        )
        .unwrap();
        match agree(&path, crate_dir()) {
            Ok(outcome @ Outcome::Refused { .. }) => {
                same_line(&outcome).unwrap_or_else(|e| panic!("{values:?}: {e}"));
                refused += 1;
            }
            Ok(Outcome::Read { keys, .. }) => dropped += usize::from(!keys.is_empty()),
            Err(e) => panic!("{values:?}: {e}"),
        }
    }
    assert!(
        refused > 0 && dropped > 0,
        "{refused} refused, {dropped} with drops"
    );
}

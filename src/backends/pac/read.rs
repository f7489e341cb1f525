//! Reading a PAC file back, for `audit`: evaluated in QuickJS, not parsed.
//!
//! Evaluated, not parsed. Each request runs `FindProxyForURL(url, host)` in
//! an embedded QuickJS with the standard PAC helpers, under a time and a
//! memory limit per call, as a sloppy-mode script (as browsers and
//! pactester run it). Name lookups (`dnsResolve`, `isInNet` on a name,
//! `isResolvable`) are answered from a fixed table, never the network. A
//! lookup the table cannot answer is tried each way that can matter (see
//! `lookups`): the route is decided when every answer gives the same, and
//! otherwise undecidable, naming the line that asks and where each answer
//! leads. A time-dependent helper (`timeRange`, …) makes the answer
//! undecidable instead of a guess. A decision names the `return` that
//! answered (see `returns`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::{Context, Function, Runtime};

mod lookups;
mod returns;

use lookups::{Assignment, Run, Trace, Verdict};

use crate::backends::reader::{
    Access, Config, Decision, Grant, Options, Origin, Probe, ReadError, TlsSeen, Undecidable, shown,
};
use crate::model::Scheme;

/// Chromium refuses PAC files larger than this.
pub const MAX_PAC_BYTES: u64 = 1 << 20;
/// Time one `FindProxyForURL` call may take.
const CALL_TIME: Duration = Duration::from_secs(2);
/// Memory the script may allocate.
const MEMORY: usize = 64 << 20;
const STACK: usize = 1 << 20;

/// Recognises a PAC file by its name or its entry point.
pub fn recognise(path: &Path, head: &[u8]) -> bool {
    let name = path.to_string_lossy().to_lowercase();
    name.ends_with(".pac")
        || name.ends_with(".dat")
        || String::from_utf8_lossy(head).contains("FindProxyForURL")
}

/// Reads a PAC file: it must load and define `FindProxyForURL`.
pub fn read(path: &Path, options: &Options) -> Result<Box<dyn Config>, ReadError> {
    let limit = options.limits.file_bytes.min(MAX_PAC_BYTES);
    let bytes = crate::input::read_limited(path, limit).map_err(|e| ReadError::Read {
        file: shown(path),
        detail: match e {
            crate::input::ReadError::TooLarge { .. } => {
                format!("is larger than {limit} bytes (Chromium refuses PAC files over 1 MiB)")
            }
            other => other.to_string(),
        },
    })?;
    let source = String::from_utf8(bytes).map_err(|_| ReadError::Read {
        file: shown(path),
        detail: "is not UTF-8 text".to_string(),
    })?;
    let config = PacConfig::from_source(&shown(path), source, options.resolve.clone()).map_err(
        |detail| ReadError::Syntax {
            at: Origin {
                file: shown(path),
                line: 1,
            },
            detail,
        },
    )?;
    Ok(Box::new(config))
}

/// The standard PAC helpers, written for this project after the
/// Netscape/Mozilla definitions that pactester (pacparser) also follows:
/// `shExpMatch` escapes only dots, `dnsDomainIs` is a plain suffix test.
/// Lookups go to the fixed table `__egressgen_hosts`, then to the run's
/// answers `__egressgen_answers`; what neither answers is recorded with
/// the script's line that asked, and answers null.
///
/// It is loaded by an indirect `eval`, so its functions' stack frames
/// name the file `<input>` while the script's name `eval_script`: the
/// first frame of another file is the script's line.
const PRELUDE: &str = r#"
var __egressgen_hosts = {};
var __egressgen_answers = {};
var __egressgen_client = "127.0.0.1";
var __egressgen_state = null;
// Kept from before the script runs, which may replace the globals.
var __egressgen_stringify = JSON.stringify;
var __egressgen_Error = Error;
function __egressgen_reset(client, answers) {
    __egressgen_client = client;
    __egressgen_answers = answers;
    __egressgen_state = { line: 0, notes: [], lookups: [], ranges: [], patterns: [], misses: [] };
}
function __egressgen_ret(line) { __egressgen_state.line = line; }
function __egressgen_note(what) {
    if (__egressgen_state.notes.length < 8) { __egressgen_state.notes.push(String(what)); }
}
function __egressgen_where() {
    var frames = String(new __egressgen_Error().stack).split("\n"), via = "";
    for (var i = 0; i < frames.length; i++) {
        var m = /^\s*at (.*) \((.*):(\d+):\d+\)$/.exec(frames[i]);
        if (m === null) { continue; }
        if (m[2] != "<input>") { return [Number(m[3]), via]; }
        via = m[1];
    }
    return [0, via];
}
function __egressgen_own(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }
function __egressgen_answered(a) {
    for (var k in __egressgen_answers) {
        if (__egressgen_own(__egressgen_answers, k) && __egressgen_answers[k] === a) { return true; }
    }
    return false;
}
function __egressgen_miss(test, host) {
    var s = __egressgen_state.misses;
    if (s.length < 8) { s.push({ line: __egressgen_where()[0], test: test, host: host }); }
}
function __egressgen_is_ipv4(s) {
    var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(String(s));
    return m !== null && m[1] <= 255 && m[2] <= 255 && m[3] <= 255 && m[4] <= 255;
}
function dnsDomainIs(host, domain) {
    host = String(host); domain = String(domain);
    var hit = host.length >= domain.length &&
        host.substring(host.length - domain.length) == domain;
    if (!hit && domain.charAt(0) == "." && host == domain.substring(1)) {
        __egressgen_miss("dnsDomainIs(host, \"" + domain + "\")", host);
    }
    return hit;
}
function dnsDomainLevels(host) { return String(host).split(".").length - 1; }
function isPlainHostName(host) { return String(host).indexOf(".") == -1; }
function localHostOrDomainIs(host, hostdom) {
    host = String(host); hostdom = String(hostdom);
    return host == hostdom || hostdom.lastIndexOf(host + ".", 0) == 0;
}
function shExpMatch(url, pattern) {
    var p = __egressgen_state.patterns;
    if ((url === null || __egressgen_answered(url)) && p.length < 64) { p.push(String(pattern)); }
    url = String(url); pattern = String(pattern);
    var re = pattern.replace(/\./g, "\\.").replace(/\*/g, ".*").replace(/\?/g, ".");
    var hit = new RegExp("^" + re + "$").test(url);
    if (!hit && pattern.substring(0, 2) == "*." && url == pattern.substring(2)) {
        __egressgen_miss("shExpMatch(host, \"" + pattern + "\")", url);
    }
    return hit;
}
function dnsResolve(host) {
    host = String(host);
    if (__egressgen_is_ipv4(host)) { return host; }
    if (__egressgen_own(__egressgen_hosts, host)) { return __egressgen_hosts[host]; }
    if (__egressgen_own(__egressgen_answers, host)) { return __egressgen_answers[host]; }
    var w = __egressgen_where(), l = __egressgen_state.lookups;
    if (l.length < 16) { l.push({ name: host, line: w[0], via: w[1] }); }
    return null;
}
function dnsResolveEx(host) { var a = dnsResolve(host); return a === null ? "" : a; }
function isResolvable(host) { return dnsResolve(host) !== null; }
function isResolvableEx(host) { return isResolvable(host); }
function myIpAddress() { return __egressgen_client; }
function myIpAddressEx() { return __egressgen_client; }
function __egressgen_addr(a) {
    var b = String(a).split(".");
    return (((b[0] & 255) << 24) | ((b[1] & 255) << 16) | ((b[2] & 255) << 8) | (b[3] & 255)) >>> 0;
}
function isInNet(ipaddr, pattern, mask) {
    // What a lookup answered (or failed to): the range is worth trying.
    var looked = ipaddr === null || ipaddr === undefined ||
        !__egressgen_is_ipv4(ipaddr) || __egressgen_answered(ipaddr);
    var r = __egressgen_state.ranges;
    if (looked && r.length < 64) { r.push([String(pattern), String(mask)]); }
    // A failed lookup passed on: pacparser looks up "null", which has no
    // address; answered here without asking the table for it.
    if (ipaddr === null || ipaddr === undefined) { return false; }
    if (!__egressgen_is_ipv4(ipaddr)) {
        ipaddr = dnsResolve(ipaddr);
        if (ipaddr === null || !__egressgen_is_ipv4(ipaddr)) { return false; }
    }
    var m = __egressgen_addr(mask);
    return ((__egressgen_addr(ipaddr) & m) >>> 0) == ((__egressgen_addr(pattern) & m) >>> 0);
}
function isInNetEx(ipaddr, prefix) {
    var p = String(prefix).split("/");
    var bits = p.length > 1 ? Number(p[1]) : 32;
    if (!(bits >= 0 && bits <= 32)) { return false; }
    var mask = bits == 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    var m = [mask >>> 24, (mask >>> 16) & 255, (mask >>> 8) & 255, mask & 255].join(".");
    return isInNet(ipaddr, p[0], m);
}
function weekdayRange() { __egressgen_note("weekdayRange depends on the time"); return false; }
function dateRange() { __egressgen_note("dateRange depends on the date"); return false; }
function timeRange() { __egressgen_note("timeRange depends on the time"); return false; }
function alert() {}
"#;

/// A loaded script in its own runtime.
struct Engine {
    /// Kept alive for the context's sake.
    _runtime: Runtime,
    context: Context,
    deadline: Arc<Mutex<Instant>>,
}

pub struct PacConfig {
    file: String,
    /// The script as loaded: its returns marked when that was possible
    /// (see `returns`).
    source: String,
    /// The line of `function FindProxyForURL`, for an answer no marked
    /// `return` gave.
    defined_at: Option<usize>,
    resolve: BTreeMap<String, IpAddr>,
    /// Built on first use and again after a call that failed.
    engine: RefCell<Option<Engine>>,
    /// Calls that hit the time or memory limit: after a few, the script
    /// is not asked again, so a hostile one costs seconds, not hours.
    limit_hits: Cell<u32>,
}

/// Limit hits after which a script is not called again.
const MAX_LIMIT_HITS: u32 = 3;

/// The answer of one call: the route text, or why there is none.
type Answer = Result<String, String>;

impl PacConfig {
    /// A script held in memory (read from `name`, fetched from it, or
    /// rendered): it must load and define `FindProxyForURL`.
    pub fn from_source(
        name: &str,
        source: String,
        resolve: BTreeMap<String, IpAddr>,
    ) -> Result<PacConfig, String> {
        // A marked script that does not load (where the lexer was wrong)
        // gives way to the original; one that hit a limit is not loaded
        // twice.
        if let Some(m) = returns::mark(&source) {
            match PacConfig::load(name, m.source, m.defined_at, resolve.clone()) {
                Err(e) if !e.starts_with(LIMIT) => {}
                loaded => return loaded,
            }
        }
        PacConfig::load(name, source, None, resolve)
    }

    /// Loads a script as given, so that one that does not load is an
    /// error here and not at the first call.
    fn load(
        name: &str,
        source: String,
        defined_at: Option<usize>,
        resolve: BTreeMap<String, IpAddr>,
    ) -> Result<PacConfig, String> {
        let config = PacConfig {
            file: name.to_string(),
            source,
            defined_at,
            resolve,
            engine: RefCell::new(None),
            limit_hits: Cell::new(0),
        };
        config.with_engine(|_| Ok(()))?;
        Ok(config)
    }

    /// What `FindProxyForURL(url, host)` answers, or why there is no
    /// answer (a limit hit, a lookup whose answer changes the route).
    pub fn find_proxy(&self, url: &str, host: &str, client: IpAddr) -> Answer {
        self.verdict(url, host, client).answer
    }

    /// The answer over every kind of answer to the lookups the table
    /// cannot answer (see `lookups`).
    fn verdict(&self, url: &str, host: &str, client: IpAddr) -> Verdict {
        lookups::settle(|answers| self.run(url, host, client, answers))
    }

    fn build(&self) -> Result<Engine, String> {
        let runtime = Runtime::new().map_err(|e| format!("JavaScript engine: {e}"))?;
        runtime.set_memory_limit(MEMORY);
        runtime.set_max_stack_size(STACK);
        let deadline = Arc::new(Mutex::new(Instant::now() + CALL_TIME));
        let watch = Arc::clone(&deadline);
        runtime.set_interrupt_handler(Some(Box::new(move || {
            watch.lock().map(|d| Instant::now() > *d).unwrap_or(true)
        })));
        let context = Context::full(&runtime).map_err(|e| format!("JavaScript engine: {e}"))?;
        let hosts: serde_json::Map<String, serde_json::Value> = self
            .resolve
            .iter()
            .map(|(h, ip)| (h.clone(), serde_json::Value::String(ip.to_string())))
            .collect();
        let table = format!("__egressgen_hosts = {};", serde_json::Value::Object(hosts));
        let prelude = format!(
            "(0, eval)({});",
            serde_json::Value::String(PRELUDE.to_string())
        );
        // PAC scripts are sloppy-mode scripts, as in browsers and
        // pactester (`x = 1` without `var` is no error).
        let mut sloppy = EvalOptions::default();
        sloppy.strict = false;
        context.with(|ctx| -> Result<(), String> {
            ctx.eval::<(), _>(prelude)
                .map_err(|e| format!("prelude: {e}"))?;
            ctx.eval::<(), _>(table)
                .map_err(|e| format!("lookup table: {e}"))?;
            ctx.eval_with_options::<(), _>(self.source.as_str(), sloppy)
                .map_err(|e| script_error(&ctx, e))?;
            let f: Result<Function, _> = ctx.globals().get("FindProxyForURL");
            f.map(|_| ())
                .map_err(|_| "the script defines no function FindProxyForURL".to_string())
        })?;
        Ok(Engine {
            _runtime: runtime,
            context,
            deadline,
        })
    }

    /// Runs `f` with a loaded engine, building one if needed.
    fn with_engine<T>(&self, f: impl FnOnce(&Engine) -> Result<T, String>) -> Result<T, String> {
        let mut slot = self.engine.borrow_mut();
        if slot.is_none() {
            *slot = Some(self.build()?);
        }
        match slot.as_ref() {
            Some(engine) => f(engine),
            None => Err("no engine".to_string()),
        }
    }

    /// Calls `FindProxyForURL` once, with `answers` for the lookups the
    /// table lacks. A script error is the run's answer (another answer
    /// to a lookup may avoid it); a limit hit is the error that ends
    /// every run. After a failed call the engine is
    /// dropped, so a call that hit a limit never leaves a broken runtime
    /// to the next.
    fn run(
        &self,
        url: &str,
        host: &str,
        client: IpAddr,
        answers: &Assignment,
    ) -> Result<Run, String> {
        if self.limit_hits.get() >= MAX_LIMIT_HITS {
            return Err(format!(
                "not evaluated: FindProxyForURL hit its time or memory limit {MAX_LIMIT_HITS} times"
            ));
        }
        let result = self.with_engine(|engine| {
            if let Ok(mut d) = engine.deadline.lock() {
                *d = Instant::now() + CALL_TIME;
            }
            engine
                .context
                .with(|ctx| call(&ctx, url, host, client, answers))
        });
        let failed = !matches!(&result, Ok(run) if run.answer.is_ok());
        if failed {
            *self.engine.borrow_mut() = None;
        }
        match result {
            Err(why) if why.starts_with(LIMIT) => {
                self.limit_hits.set(self.limit_hits.get() + 1);
                Err(why)
            }
            Err(why) => Ok(Run {
                answer: Err(why),
                trace: Trace::default(),
            }),
            ok => ok,
        }
    }
}

/// One call in a loaded context: the answer and what the helpers saw.
fn call(
    ctx: &rquickjs::Ctx<'_>,
    url: &str,
    host: &str,
    client: IpAddr,
    answers: &Assignment,
) -> Result<Run, String> {
    let table: serde_json::Map<String, serde_json::Value> = answers
        .iter()
        .map(|(l, reply)| (l.name.clone(), reply.js()))
        .collect();
    let setup = format!(
        "__egressgen_reset({}, {});",
        serde_json::Value::String(client.to_string()),
        serde_json::Value::Object(table)
    );
    ctx.eval::<(), _>(setup).map_err(|e| script_error(ctx, e))?;
    let f: Function = ctx
        .globals()
        .get("FindProxyForURL")
        .map_err(|_| "FindProxyForURL is gone".to_string())?;
    let answer = match f.call::<_, rquickjs::Value>((url, host)) {
        Ok(value) => answer_text(&value),
        Err(e) => Err(script_error(ctx, e)),
    };
    if let Err(why) = &answer
        && why.starts_with(LIMIT)
    {
        // A context over a limit is not asked anything more.
        return Err(why.clone());
    }
    let state: String = ctx
        .eval("__egressgen_stringify(__egressgen_state)")
        .map_err(|e| script_error(ctx, e))?;
    let trace = serde_json::from_str(&state).map_err(|e| format!("helper state: {e}"))?;
    Ok(Run { answer, trace })
}

/// The route text `FindProxyForURL` returned (null and undefined: none).
fn answer_text(value: &rquickjs::Value<'_>) -> Answer {
    match value.as_string() {
        Some(s) => s.to_string().map_err(|e| e.to_string()),
        None if value.is_null() || value.is_undefined() => Ok(String::new()),
        None => Err("FindProxyForURL returned a non-string".to_string()),
    }
}

/// How the message of a call that hit a limit starts.
const LIMIT: &str = "over the limit";

/// A script error with its message (QuickJS keeps the exception in the
/// context); the time and memory limits say which.
fn script_error(ctx: &rquickjs::Ctx<'_>, e: rquickjs::Error) -> String {
    let message = match e {
        rquickjs::Error::Exception => {
            let exc = ctx.catch();
            exc.as_object()
                .and_then(|o| o.get::<_, String>("message").ok())
                .unwrap_or_else(|| "out of memory".to_string())
        }
        other => other.to_string(),
    };
    match message.as_str() {
        "interrupted" => format!(
            "{LIMIT}: FindProxyForURL did not answer within {} s",
            CALL_TIME.as_secs()
        ),
        "out of memory" => format!("{LIMIT}: the script used more than {} MiB", MEMORY >> 20),
        "stack overflow" | "Maximum call stack size exceeded" => {
            format!("{LIMIT}: the script recursed too deep")
        }
        m => format!(
            "JavaScript error: {}",
            crate::model::text::display_escape(m)
        ),
    }
}

/// The URL a browser hands `FindProxyForURL` for a request: for https
/// only the origin (browsers strip the path), for http the whole URL.
pub fn url_of(probe: &Probe) -> String {
    match probe.scheme {
        Scheme::Https if probe.port == 443 => format!("https://{}/", probe.host),
        Scheme::Https => format!("https://{}:{}/", probe.host, probe.port),
        Scheme::Http if probe.port == 80 => format!("http://{}{}", probe.host, probe.path),
        Scheme::Http => format!("http://{}:{}{}", probe.host, probe.port, probe.path),
    }
}

impl Config for PacConfig {
    fn kind(&self) -> &'static str {
        "pac"
    }

    fn files(&self) -> Vec<String> {
        vec![self.file.clone()]
    }

    /// The deciding line is the `return` that answered (marked in the
    /// script, see `returns`); for an answer that depends on a lookup,
    /// the line that asks it.
    fn decide(&self, probe: &Probe) -> Decision {
        let url = url_of(probe);
        let v = self.verdict(&url, &probe.host, probe.client);
        let line = match v.line {
            0 => self.defined_at.unwrap_or(1),
            n => n,
        };
        let by = Some(Origin {
            file: self.file.clone(),
            line,
        });
        let (access, route) = match v.answer {
            Ok(route) => (Access::Allowed, Some(route)),
            Err(why) => (Access::Undecidable(why), None),
        };
        Decision {
            access,
            by,
            rank: None,
            granted_by: None,
            tls: TlsSeen::NotApplicable,
            tls_by: None,
            route,
            notes: v.notes,
        }
    }

    fn grants(&self) -> Vec<Grant> {
        // Evaluated, not parsed: a script has no lines to judge alone.
        Vec::new()
    }

    fn rule_matches(&self, _grant: &Grant, _probe: &Probe) -> bool {
        false
    }

    fn undecidable(&self) -> Vec<Undecidable> {
        Vec::new()
    }

    fn inspects(&self) -> bool {
        false
    }

    fn size(&self) -> usize {
        1
    }

    fn routes(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    fn script(body: &str) -> String {
        format!("function FindProxyForURL(url, host) {{\n{body}\n}}\n")
    }

    #[test]
    fn marked_returns_answer_as_the_unmarked_script_and_name_their_line() {
        let cases = [
            ("return 'a', 'b';", "b", 2),
            (
                "return host == 'x' ? 'DIRECT' : 'PROXY p:1';",
                "PROXY p:1",
                2,
            ),
            ("return\n'x';", "", 2),
            ("if (host) return 'a'\nreturn 'b'", "a", 2),
            (
                "try { return 'a'; } finally {\nif (host) { return 'b' } }",
                "b",
                3,
            ),
            ("return;", "", 2),
            (
                "var r = /re'turn/;\nreturn String(r.test(\"re'turn\"));",
                "true",
                3,
            ),
            ("p = 'PROXY q:1';\nreturn p;", "PROXY q:1", 3),
        ];
        for (body, want, line) in cases {
            let src = script(body);
            let plain = PacConfig::load("t.pac", src.clone(), None, BTreeMap::new()).unwrap();
            let marked = PacConfig::from_source("t.pac", src, BTreeMap::new()).unwrap();
            assert_ne!(marked.source, plain.source, "{body}");
            let url = "https://x.example/";
            assert_eq!(
                plain.find_proxy(url, "x.example", CLIENT),
                Ok(want.to_string()),
                "{body}"
            );
            let v = marked.verdict(url, "x.example", CLIENT);
            assert_eq!(
                v,
                Verdict {
                    answer: Ok(want.to_string()),
                    line,
                    notes: Vec::new(),
                },
                "{body}"
            );
        }
    }

    #[test]
    fn an_unanswered_lookup_names_the_line_and_helper_that_asked() {
        let src = script(
            "var up = isResolvable('wpad.contoso.com');\nreturn up ? 'PROXY p:1' : 'DIRECT';",
        );
        let c = PacConfig::from_source("t.pac", src, BTreeMap::new()).unwrap();
        let why = c
            .find_proxy("https://a.example/", "a.example", CLIENT)
            .unwrap_err();
        assert!(
            why.starts_with(
                "line 2 asks DNS for wpad.contoso.com (isResolvable): no answer -> \"DIRECT\"; "
            ),
            "{why}"
        );
        let mut table = BTreeMap::new();
        table.insert("wpad.contoso.com".to_string(), CLIENT);
        let src = script("return isResolvable('wpad.contoso.com') ? 'PROXY p:1' : 'DIRECT';");
        let c = PacConfig::from_source("t.pac", src, table).unwrap();
        assert_eq!(
            c.find_proxy("https://a.example/", "a.example", CLIENT),
            Ok("PROXY p:1".to_string())
        );
    }
}

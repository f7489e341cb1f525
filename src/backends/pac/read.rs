//! Reading a PAC file back, for `audit`: evaluated in QuickJS, not parsed.
//!
//! Evaluated, not parsed. Each request runs `FindProxyForURL(url, host)` in
//! an embedded QuickJS with the standard PAC helpers, under a time and a
//! memory limit per call. Name lookups (`dnsResolve`, `isInNet` on a name,
//! `isResolvable`) are answered from a fixed table, never the network; a
//! lookup the table cannot answer, or a time-dependent helper (`timeRange`,
//! …), makes the answer undecidable instead of a guess.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rquickjs::{Context, Function, Runtime};

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
/// Lookups go to the fixed table `__egressgen_hosts`; what it cannot
/// answer is noted in `__egressgen_unknown`.
const PRELUDE: &str = r#"
var __egressgen_hosts = {};
var __egressgen_unknown = [];
var __egressgen_client = "127.0.0.1";
function __egressgen_note(what) { __egressgen_unknown.push(String(what)); }
function __egressgen_is_ipv4(s) {
    var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(String(s));
    return m !== null && m[1] <= 255 && m[2] <= 255 && m[3] <= 255 && m[4] <= 255;
}
function dnsDomainIs(host, domain) {
    host = String(host); domain = String(domain);
    return host.length >= domain.length &&
        host.substring(host.length - domain.length) == domain;
}
function dnsDomainLevels(host) { return String(host).split(".").length - 1; }
function isPlainHostName(host) { return String(host).indexOf(".") == -1; }
function localHostOrDomainIs(host, hostdom) {
    host = String(host); hostdom = String(hostdom);
    return host == hostdom || hostdom.lastIndexOf(host + ".", 0) == 0;
}
function shExpMatch(url, pattern) {
    var re = String(pattern).replace(/\./g, "\\.").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp("^" + re + "$").test(String(url));
}
function dnsResolve(host) {
    host = String(host);
    if (__egressgen_is_ipv4(host)) { return host; }
    if (Object.prototype.hasOwnProperty.call(__egressgen_hosts, host)) {
        return __egressgen_hosts[host];
    }
    __egressgen_note("dnsResolve(" + host + ") has no answer in the lookup table");
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
    source: String,
    resolve: BTreeMap<String, IpAddr>,
    /// Built on first use and again after a call that hit a limit.
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
        let config = PacConfig {
            file: name.to_string(),
            source,
            resolve,
            engine: RefCell::new(None),
            limit_hits: Cell::new(0),
        };
        // Load it once now, so a script that does not load is an error here.
        config.with_engine(|_| Ok(()))?;
        Ok(config)
    }

    /// What `FindProxyForURL(url, host)` answers, or why there is no
    /// answer (a limit hit, a lookup the table cannot answer).
    pub fn find_proxy(&self, url: &str, host: &str, client: IpAddr) -> Answer {
        self.call(url, host, client)
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
        context.with(|ctx| -> Result<(), String> {
            ctx.eval::<(), _>(PRELUDE)
                .map_err(|e| format!("prelude: {e}"))?;
            ctx.eval::<(), _>(table)
                .map_err(|e| format!("lookup table: {e}"))?;
            ctx.eval::<(), _>(self.source.as_str())
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

    /// Calls `FindProxyForURL` once. After a failed call the engine is
    /// dropped, so a call that hit a limit never leaves a broken runtime
    /// to the next.
    fn call(&self, url: &str, host: &str, client: IpAddr) -> Answer {
        if self.limit_hits.get() >= MAX_LIMIT_HITS {
            return Err(format!(
                "not evaluated: FindProxyForURL hit its time or memory limit {MAX_LIMIT_HITS} times"
            ));
        }
        let result = self.with_engine(|engine| {
            if let Ok(mut d) = engine.deadline.lock() {
                *d = Instant::now() + CALL_TIME;
            }
            engine.context.with(|ctx| {
                let setup = format!(
                    "__egressgen_unknown = []; __egressgen_client = {};",
                    serde_json::Value::String(client.to_string())
                );
                ctx.eval::<(), _>(setup)
                    .map_err(|e| script_error(&ctx, e))?;
                let f: Function = ctx
                    .globals()
                    .get("FindProxyForURL")
                    .map_err(|_| "FindProxyForURL is gone".to_string())?;
                let answer: rquickjs::Value =
                    f.call((url, host)).map_err(|e| script_error(&ctx, e))?;
                let text = match answer.as_string() {
                    Some(s) => s.to_string().map_err(|e| e.to_string())?,
                    None if answer.is_null() || answer.is_undefined() => String::new(),
                    None => return Err("FindProxyForURL returned a non-string".to_string()),
                };
                let unknown: Vec<String> = ctx
                    .eval("__egressgen_unknown.slice(0, 5)")
                    .unwrap_or_default();
                match unknown.first() {
                    Some(first) => Err(first.clone()),
                    None => Ok(text),
                }
            })
        });
        if let Err(why) = &result {
            *self.engine.borrow_mut() = None;
            if why.starts_with(LIMIT) {
                self.limit_hits.set(self.limit_hits.get() + 1);
            }
        }
        result
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

    fn decide(&self, probe: &Probe) -> Decision {
        let url = url_of(probe);
        let at = Some(Origin {
            file: self.file.clone(),
            line: 1,
        });
        match self.call(&url, &probe.host, probe.client) {
            Ok(route) => Decision {
                access: Access::Allowed,
                by: at,
                rank: None,
                granted_by: None,
                tls: TlsSeen::NotApplicable,
                tls_by: None,
                route: Some(route),
            },
            Err(why) => Decision {
                access: Access::Undecidable(why),
                by: at,
                rank: None,
                granted_by: None,
                tls: TlsSeen::NotApplicable,
                tls_by: None,
                route: None,
            },
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

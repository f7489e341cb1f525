//! One probe on one hop: lookup, connect, CONNECT, TLS and HTTP, each timed.
//!
//! Name lookup, TCP connect, the proxy's answer to CONNECT, the TLS
//! handshake and the HTTP answer, each timed and each failing in its own
//! words. Written on std sockets, rustls and httparse rather than through
//! reqwest, because reqwest keeps from its caller exactly what a
//! connectivity check must show: the proxy's answer to CONNECT (its status
//! and `X-Squid-Error`), the certificate chain, and the time of each step.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::certs::{Shown, Trust};
use crate::model::Scheme;
use crate::model::text::display_escape;
use crate::values::ProbeUrl;

/// The largest response head read; past it the answer is not HTTP.
const MAX_HEAD: usize = 64 << 10;
const USER_AGENT: &str = concat!("egressgen-verify/", env!("CARGO_PKG_VERSION"));

/// Where a request goes first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Hop {
    Direct,
    Proxy { host: String, port: u16 },
}

impl std::fmt::Display for Hop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hop::Direct => f.write_str("DIRECT"),
            Hop::Proxy { host, port } => write!(f, "PROXY {host}:{port}"),
        }
    }
}

/// The step a probe was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Dns,
    Tcp,
    ProxyConnect,
    Tls,
    Http,
}

impl Phase {
    pub fn words(self) -> &'static str {
        match self {
            Phase::Dns => "name lookup",
            Phase::Tcp => "TCP connect",
            Phase::ProxyConnect => "CONNECT to the proxy",
            Phase::Tls => "TLS handshake",
            Phase::Http => "HTTP request",
        }
    }
}

/// How a step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailKind {
    Timeout,
    Reset,
    Refused,
    /// The peer closed the connection without an answer.
    Closed,
    Unresolved,
    /// The handshake completed but no trusted anchor accepts the chain,
    /// or the certificate is expired or for another name.
    Certificate,
    /// TLS or HTTP the client could not make sense of.
    Protocol,
    Other,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Failure {
    pub phase: Phase,
    pub kind: FailKind,
    pub detail: String,
}

/// A step that succeeded.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Step {
    pub ms: u64,
    pub detail: String,
}

/// An HTTP answer's head, with what says who wrote it.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Answer {
    pub ms: u64,
    pub status: u16,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub squid_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `Proxy-Authenticate` was sent: the proxy wants credentials.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub proxy_auth: bool,
}

impl Answer {
    /// Whether a proxy wrote this answer rather than relayed the
    /// origin's: by its headers, not by the status alone.
    pub fn from_proxy(&self) -> bool {
        self.squid_error.is_some() || (self.status == 407 && self.proxy_auth)
    }

    /// The proxy's reason in a few words.
    pub fn proxy_reason(&self) -> String {
        match &self.squid_error {
            Some(e) => e.clone(),
            None => format!("{} {}", self.status, self.reason)
                .trim()
                .to_string(),
        }
    }
}

/// Everything one probe on one hop saw.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Attempt {
    pub hop: Hop,
    /// The whole probe, from the lookup to the answer or the failure.
    pub total_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Step>,
    /// The proxy's answer to CONNECT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<Answer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Shown>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Answer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// Name lookups: `--resolve` answers first, then the system resolver in
/// a thread: the probe stops waiting at its time, though the lookup itself
/// runs on until the system resolver gives up.
#[derive(Clone, Debug, Default)]
pub struct Resolver {
    /// (host, port or any) -> address.
    pub fixed: BTreeMap<(String, Option<u16>), IpAddr>,
}

impl Resolver {
    pub fn lookup(
        &self,
        host: &str,
        port: u16,
        until: Instant,
    ) -> Result<Vec<SocketAddr>, Failure> {
        let fail = |kind, detail: String| Failure {
            phase: Phase::Dns,
            kind,
            detail,
        };
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let host_lc = host.to_ascii_lowercase();
        for key in [(host_lc.clone(), Some(port)), (host_lc.clone(), None)] {
            if let Some(ip) = self.fixed.get(&key) {
                return Ok(vec![SocketAddr::new(*ip, port)]);
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let name = host_lc.clone();
        std::thread::spawn(move || {
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
        });
        match rx.recv_timeout(remaining(until)) {
            Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
            Ok(Ok(_)) => Err(fail(
                FailKind::Unresolved,
                format!("{host_lc} has no address"),
            )),
            Ok(Err(e)) => Err(fail(FailKind::Unresolved, format!("{host_lc}: {e}"))),
            Err(_) => Err(fail(
                FailKind::Timeout,
                format!("no answer for {host_lc} in time"),
            )),
        }
    }
}

fn remaining(until: Instant) -> Duration {
    until.saturating_duration_since(Instant::now())
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// An I/O error in a phase, by kind.
fn io_failure(phase: Phase, e: &std::io::Error) -> Failure {
    use std::io::ErrorKind as K;
    let kind = match e.kind() {
        K::WouldBlock | K::TimedOut => FailKind::Timeout,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => FailKind::Reset,
        K::ConnectionRefused => FailKind::Refused,
        K::UnexpectedEof => FailKind::Closed,
        K::InvalidData => FailKind::Protocol,
        _ => FailKind::Other,
    };
    let detail = match kind {
        FailKind::Timeout => format!("no answer during the {} in time", phase.words()),
        FailKind::Reset => format!("the connection was reset during the {}", phase.words()),
        FailKind::Refused => "connection refused".to_string(),
        FailKind::Closed => format!(
            "the peer closed the connection during the {}",
            phase.words()
        ),
        _ => e.to_string(),
    };
    Failure {
        phase,
        kind,
        detail,
    }
}

/// What a probe needs besides its URL and hop.
pub struct Context<'a> {
    pub resolver: &'a Resolver,
    pub trust: &'a Trust,
}

/// Runs one probe; every read and write after the connect ends by
/// `until` (a watchdog shuts the socket then).
pub fn probe(url: &ProbeUrl, hop: &Hop, cx: &Context<'_>, until: Instant) -> Attempt {
    let started = Instant::now();
    let mut a = Attempt {
        hop: hop.clone(),
        total_ms: 0,
        dns: None,
        tcp: None,
        connect: None,
        tls: None,
        tls_ms: None,
        http: None,
        failure: None,
    };
    if let Err(f) = steps(url, hop, cx, until, &mut a) {
        a.failure = Some(f);
    }
    a.total_ms = ms(started);
    a
}

fn steps(
    url: &ProbeUrl,
    hop: &Hop,
    cx: &Context<'_>,
    until: Instant,
    a: &mut Attempt,
) -> Result<(), Failure> {
    let (host, port) = match hop {
        Hop::Direct => (url.host.as_str(), url.port),
        Hop::Proxy { host, port } => (host.as_str(), *port),
    };
    let started = Instant::now();
    let addrs = cx.resolver.lookup(host, port, until)?;
    a.dns = Some(Step {
        ms: ms(started),
        detail: addrs
            .iter()
            .map(|s| s.ip().to_string())
            .collect::<Vec<_>>()
            .join(" "),
    });
    let started = Instant::now();
    let mut sock = connect(&addrs, until)?;
    a.tcp = Some(Step {
        ms: ms(started),
        detail: sock.peer_addr().map(|p| p.to_string()).unwrap_or_default(),
    });
    let dog = Watchdog::start(&sock, until);
    match exchanges(url, hop, cx, until, &mut sock, a) {
        Err(f) if dog.fired() => Err(Failure {
            phase: f.phase,
            kind: FailKind::Timeout,
            detail: format!("no answer during the {} in time", f.phase.words()),
        }),
        other => other,
    }
}

/// Everything after the TCP connect: CONNECT through a proxy, TLS, HTTP.
fn exchanges(
    url: &ProbeUrl,
    hop: &Hop,
    cx: &Context<'_>,
    until: Instant,
    sock: &mut TcpStream,
    a: &mut Attempt,
) -> Result<(), Failure> {
    let via_proxy = matches!(hop, Hop::Proxy { .. });
    match url.scheme {
        Scheme::Http => {
            let target = if via_proxy {
                url.to_string()
            } else {
                url.path.clone()
            };
            let get = request("GET", &target, &url.host_header());
            a.http = Some(exchange(sock, &get, until, Phase::Http)?);
        }
        Scheme::Https => {
            if via_proxy {
                let connect = request("CONNECT", &url.authority(), &url.authority());
                let answer = exchange(sock, &connect, until, Phase::ProxyConnect)?;
                let ok = (200..300).contains(&answer.status);
                a.connect = Some(answer);
                if !ok {
                    return Ok(());
                }
            }
            tls_exchange(sock, url, cx, until, a)?;
        }
    }
    Ok(())
}

/// Shuts the socket down when the probe's time is up, so that no read,
/// not even one deep in a TLS handshake that a peer feeds a byte at a
/// time, outlasts it.
struct Watchdog {
    stop: Option<std::sync::mpsc::Sender<()>>,
    fired: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(sock: &TcpStream, until: Instant) -> Watchdog {
        let (stop, wait) = std::sync::mpsc::channel::<()>();
        let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&fired);
        let victim = sock.try_clone().ok();
        let thread = std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                wait.recv_timeout(remaining(until))
            {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                if let Some(s) = victim {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
            }
        });
        Watchdog {
            stop: Some(stop),
            fired,
            thread: Some(thread),
        }
    }

    fn fired(&self) -> bool {
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Hanging up wakes the thread at once.
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Connects to the first address that answers; each gets an even share
/// of the time left, so one that drops packets cannot use it all.
fn connect(addrs: &[SocketAddr], until: Instant) -> Result<TcpStream, Failure> {
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        let left = remaining(until);
        if left.is_zero() {
            break;
        }
        let share = left / u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        match TcpStream::connect_timeout(addr, share.max(Duration::from_millis(1))) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(io_failure(Phase::Tcp, &e)),
        }
    }
    Err(last.unwrap_or(Failure {
        phase: Phase::Tcp,
        kind: FailKind::Timeout,
        detail: "no time left to connect".to_string(),
    }))
}

fn request(method: &str, target: &str, host: &str) -> String {
    format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
}

/// Both socket timeouts set to what is left; none left is a timeout.
fn budget(sock: &TcpStream, until: Instant, phase: Phase) -> Result<(), Failure> {
    let left = remaining(until);
    if left.is_zero() {
        return Err(Failure {
            phase,
            kind: FailKind::Timeout,
            detail: format!("no time left for the {}", phase.words()),
        });
    }
    sock.set_read_timeout(Some(left))
        .and_then(|()| sock.set_write_timeout(Some(left)))
        .map_err(|e| io_failure(phase, &e))
}

/// Sends a request and reads the head of its answer.
fn exchange<S: Read + Write + Budgeted>(
    stream: &mut S,
    text: &str,
    until: Instant,
    phase: Phase,
) -> Result<Answer, Failure> {
    stream.budget(until, phase)?;
    let started = Instant::now();
    stream
        .write_all(text.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|e| io_failure(phase, &e))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some((answer, used)) = parse_head(&head, phase)? {
            // 1xx heads are interim: the real answer follows.
            if (100..200).contains(&answer.status) && answer.status != 101 {
                head.drain(..used);
                continue;
            }
            return Ok(Answer {
                ms: ms(started),
                ..answer
            });
        }
        if head.len() > MAX_HEAD {
            return Err(Failure {
                phase,
                kind: FailKind::Protocol,
                detail: format!("an answer head longer than {MAX_HEAD} bytes"),
            });
        }
        stream.budget(until, phase)?;
        match stream.read(&mut buf) {
            Ok(0) => {
                return Err(Failure {
                    phase,
                    kind: FailKind::Closed,
                    detail: format!(
                        "the peer closed the connection during the {} without an answer",
                        phase.words()
                    ),
                });
            }
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return Err(io_failure(phase, &e)),
        }
    }
}

/// The answer once its head is complete, with the bytes it took.
fn parse_head(bytes: &[u8], phase: Phase) -> Result<Option<(Answer, usize)>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut response = httparse::Response::new(&mut headers);
    let protocol = |detail: String| Failure {
        phase,
        kind: FailKind::Protocol,
        detail,
    };
    let used = match response.parse(bytes) {
        Ok(httparse::Status::Partial) => return Ok(None),
        Ok(httparse::Status::Complete(used)) => used,
        Err(e) => return Err(protocol(format!("not an HTTP answer ({e})"))),
    };
    let status = response.code.unwrap_or(0);
    if !(100..600).contains(&status) {
        return Err(protocol(format!("status {status} is not an HTTP status")));
    }
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| display_escape(&String::from_utf8_lossy(h.value)))
    };
    let answer = Answer {
        ms: 0,
        status,
        reason: display_escape(response.reason.unwrap_or("")),
        squid_error: header("X-Squid-Error"),
        via: header("Via"),
        server: header("Server"),
        proxy_auth: header("Proxy-Authenticate").is_some(),
    };
    Ok(Some((answer, used)))
}

/// A stream whose socket timeouts can be set to the time left.
trait Budgeted {
    fn budget(&self, until: Instant, phase: Phase) -> Result<(), Failure>;
}

impl Budgeted for TcpStream {
    fn budget(&self, until: Instant, phase: Phase) -> Result<(), Failure> {
        budget(self, until, phase)
    }
}

impl Budgeted for rustls::StreamOwned<rustls::ClientConnection, &mut TcpStream> {
    fn budget(&self, until: Instant, phase: Phase) -> Result<(), Failure> {
        budget(self.sock, until, phase)
    }
}

fn tls_exchange(
    sock: &mut TcpStream,
    url: &ProbeUrl,
    cx: &Context<'_>,
    until: Instant,
    a: &mut Attempt,
) -> Result<(), Failure> {
    let other = |detail: String| Failure {
        phase: Phase::Tls,
        kind: FailKind::Other,
        detail,
    };
    let (config, recorder) = cx.trust.client().map_err(other)?;
    let name = rustls::pki_types::ServerName::try_from(url.host.as_str().to_string())
        .map_err(|e| other(e.to_string()))?;
    let mut conn = rustls::ClientConnection::new(Arc::clone(&config), name)
        .map_err(|e| other(e.to_string()))?;
    let started = Instant::now();
    while conn.is_handshaking() {
        budget(sock, until, Phase::Tls)?;
        if let Err(e) = conn.complete_io(sock) {
            a.tls = recorder.take();
            return Err(io_failure(Phase::Tls, &e));
        }
    }
    a.tls_ms = Some(ms(started));
    let shown = recorder.take();
    let refused = shown.as_ref().and_then(|s| s.refused.clone());
    a.tls = shown;
    if let Some(why) = refused {
        return Err(Failure {
            phase: Phase::Tls,
            kind: FailKind::Certificate,
            detail: why,
        });
    }
    let mut tls = rustls::StreamOwned::new(conn, sock);
    a.http = Some(exchange(
        &mut tls,
        &request("GET", &url.path, &url.host_header()),
        until,
        Phase::Http,
    )?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_read_with_the_headers_that_name_a_proxy() {
        let head = b"HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\nVia: 1.1 p (squid/5.7)\r\n\r\n";
        let (a, used) = parse_head(head, Phase::Http).unwrap().unwrap();
        assert_eq!(used, head.len());
        assert_eq!((a.status, a.reason.as_str()), (403, "Forbidden"));
        assert!(a.from_proxy());
        assert_eq!(a.proxy_reason(), "ERR_ACCESS_DENIED 0");
        // The origin's 403 relayed by a proxy carries Via but is not the
        // proxy's refusal.
        let (relayed, _) = parse_head(b"HTTP/1.1 403 Forbidden\r\nVia: 1.1 p\r\n\r\n", Phase::Http)
            .unwrap()
            .unwrap();
        assert!(!relayed.from_proxy());
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nX", Phase::Http)
                .unwrap()
                .is_none()
        );
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n", Phase::Http).is_err());
        assert!(parse_head(b"HTTP/1.1 099 Odd\r\n\r\n", Phase::Http).is_err());
    }

    #[test]
    fn fixed_answers_come_before_the_system_resolver() {
        let mut r = Resolver::default();
        r.fixed
            .insert(("a.example.com".into(), None), "127.0.0.9".parse().unwrap());
        r.fixed.insert(
            ("a.example.com".into(), Some(80)),
            "127.0.0.8".parse().unwrap(),
        );
        let until = Instant::now() + Duration::from_secs(1);
        assert_eq!(
            r.lookup("A.example.com", 443, until).unwrap(),
            vec!["127.0.0.9:443".parse().unwrap()]
        );
        assert_eq!(
            r.lookup("a.example.com", 80, until).unwrap(),
            vec!["127.0.0.8:80".parse().unwrap()]
        );
        assert_eq!(
            r.lookup("127.0.0.5", 3128, until).unwrap(),
            vec!["127.0.0.5:3128".parse().unwrap()]
        );
    }
}

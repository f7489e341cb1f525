//! Fetching a live source: reqwest with rustls, bounded against a misbehaving server.
//!
//! Reqwest with rustls (ring), bounded in every way a server can misbehave.
//! Only the hosts a source is expected on are contacted, redirects
//! included; a body is capped while it is read; transient failures are
//! retried with backoff, `Retry-After` honoured; validators from an earlier
//! answer make a conditional GET. The bytes are returned unparsed:
//! `sources` validates them before anything uses them.

use std::io::Read;
use std::sync::Once;
use std::time::{Duration, SystemTime};

use crate::cache::Validators;
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{
    CONTENT_LENGTH, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};

/// How to reach the network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProxyChoice {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` from the
    /// environment.
    #[default]
    Environment,
    /// This proxy for every request, `NO_PROXY` still honoured.
    Url(String),
    /// No proxy at all, whatever the environment says.
    Direct,
}

/// The limits of one fetcher.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// Hosts requests may go to (exact names, lower case).
    pub allowed_hosts: Vec<String>,
    /// Hosts a redirect may lead to besides the host of the URL asked for
    /// (each must also be allowed). Empty: a source's redirects stay on
    /// its own host, so one source's answer cannot send a request to the
    /// host of another.
    pub redirect_hosts: Vec<String>,
    pub proxy: ProxyChoice,
    /// For one attempt, connection to last byte: a server that trickles
    /// its body byte by byte is cut off too.
    pub timeout: Duration,
    /// For one fetch, every attempt and wait included: what a timer's run
    /// spends on one source at most.
    pub deadline: Duration,
    pub connect_timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// The first wait between attempts; it doubles each time.
    pub backoff: Duration,
    /// The longest wait a `Retry-After` may ask for; a longer one fails the
    /// source now (its last good copy is used) rather than hold a timer.
    pub max_wait: Duration,
    /// The largest body accepted, in bytes.
    pub max_body: u64,
    /// PEM certificates trusted besides the system's: a mirror's private
    /// CA, or the CA of a TLS-inspecting proxy in the way.
    pub extra_roots: Option<std::path::PathBuf>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            allowed_hosts: Vec::new(),
            redirect_hosts: Vec::new(),
            proxy: ProxyChoice::Environment,
            timeout: Duration::from_secs(60),
            deadline: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(15),
            retries: 3,
            backoff: Duration::from_secs(2),
            max_wait: Duration::from_secs(120),
            max_body: 256 * 1024 * 1024,
            extra_roots: None,
        }
    }
}

/// The answer to a fetch.
#[derive(Debug, PartialEq, Eq)]
pub enum Fetched {
    Body {
        bytes: Vec<u8>,
        validators: Validators,
    },
    /// 304: the copy the validators came from is current.
    NotModified,
}

/// Why a fetch failed; each names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: {host} is not a host this source is fetched from")]
    ForeignHost { url: String, host: String },
    #[error("{url}: redirect refused: {why}")]
    Redirect { url: String, why: String },
    #[error("{url}: offers version {offered}, older than the {held} already held")]
    Rollback {
        url: String,
        held: String,
        offered: String,
    },
    #[error(
        "{url}: no answer within the {deadline:?} allowed for this source (retries included); last: {last}"
    )]
    Deadline {
        url: String,
        deadline: Duration,
        last: String,
    },
    #[error("{url}: answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: the body is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: asked to retry after {wait:?}, longer than the {max:?} allowed")]
    WaitTooLong {
        url: String,
        wait: Duration,
        max: Duration,
    },
    #[error("{url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("{url}: gave up after {attempts} attempts; last: {last}")]
    GaveUp {
        url: String,
        attempts: u32,
        last: Box<FetchError>,
    },
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

impl FetchError {
    /// Worth another attempt: server errors, 429, timeouts, resets,
    /// truncated bodies. A 404, a foreign host or an oversized body is not.
    fn transient(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            FetchError::Transport { .. } => true,
            _ => false,
        }
    }
}

/// A client with its limits.
pub struct Fetcher {
    client: Client,
    config: FetchConfig,
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Fetcher, FetchError> {
        install_crypto_provider();
        let (allowed, extra) = (config.allowed_hosts.clone(), config.redirect_hosts.clone());
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error(RefusedRedirect("more than 5 redirects".into()));
            }
            let verdict = match (attempt.previous().first(), attempt.previous().last()) {
                (Some(first), Some(prev)) => {
                    redirect_verdict(first, prev, attempt.url(), &allowed, &extra)
                }
                _ => Err("a redirect without a request".to_string()),
            };
            match verdict {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(RefusedRedirect(why)),
            }
        });
        let mut builder = Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(redirects)
            .user_agent(concat!("egressgen/", env!("CARGO_PKG_VERSION")));
        builder = match &config.proxy {
            ProxyChoice::Environment => builder,
            ProxyChoice::Direct => builder.no_proxy(),
            ProxyChoice::Url(url) => {
                let proxy = reqwest::Proxy::all(url)
                    .map_err(|e| {
                        FetchError::Setup(format!(
                            "--proxy {}: {}",
                            shown_url(url),
                            redact(&e.to_string(), url)
                        ))
                    })?
                    .no_proxy(reqwest::NoProxy::from_env());
                builder.proxy(proxy)
            }
        };
        if let Some(path) = &config.extra_roots {
            builder = builder.tls_certs_merge(extra_roots(path)?);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Setup(e.to_string()))?;
        Ok(Fetcher { client, config })
    }

    /// GET `url`, conditional on `known` when given, with retries.
    pub fn get(&self, url: &str, known: Option<&Validators>) -> Result<Fetched, FetchError> {
        self.get_until(url, known, self.deadline())
    }

    /// When a source that starts now must be done: several requests of
    /// one source (the dated probes, `/version` then `/endpoints`) share
    /// it through [`Fetcher::get_until`].
    pub fn deadline(&self) -> std::time::Instant {
        std::time::Instant::now() + self.config.deadline
    }

    /// [`Fetcher::get`], with retries and waits stopping at `until`.
    pub fn get_until(
        &self,
        url: &str,
        known: Option<&Validators>,
        until: std::time::Instant,
    ) -> Result<Fetched, FetchError> {
        self.check_host(url)?;
        let mut wait = self.config.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (result, asked) = self.once(url, known);
            let err = match result {
                Ok(fetched) => return Ok(fetched),
                Err(e) if !e.transient() || attempt > self.config.retries => {
                    return Err(if attempt > 1 && e.transient() {
                        FetchError::GaveUp {
                            url: shown_url(url),
                            attempts: attempt,
                            last: Box::new(e),
                        }
                    } else {
                        e
                    });
                }
                Err(e) => e,
            };
            let pause = asked.unwrap_or(wait);
            if pause > self.config.max_wait {
                return Err(FetchError::WaitTooLong {
                    url: shown_url(url),
                    wait: pause,
                    max: self.config.max_wait,
                });
            }
            // The wait and a whole attempt must fit in what is left.
            let needed = pause.saturating_add(self.config.timeout);
            if std::time::Instant::now() + needed > until {
                return Err(FetchError::Deadline {
                    url: shown_url(url),
                    deadline: self.config.deadline,
                    last: err.to_string(),
                });
            }
            tracing::warn!(url = %shown_url(url), attempt, error = %err, wait_ms = pause.as_millis() as u64, "retrying");
            std::thread::sleep(pause);
            wait = wait.saturating_mul(2).min(self.config.max_wait);
        }
    }

    /// One attempt, and the wait a `Retry-After` asked for.
    fn once(
        &self,
        url: &str,
        known: Option<&Validators>,
    ) -> (Result<Fetched, FetchError>, Option<Duration>) {
        let started = std::time::Instant::now();
        let mut request = self.client.get(url);
        if let Some(v) = known {
            if let Some(etag) = &v.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(date) = &v.last_modified {
                request = request.header(IF_MODIFIED_SINCE, date);
            }
        }
        let response = match request.send() {
            Ok(r) => r,
            Err(e) => return (Err(self.transport(url, &e)), None),
        };
        let status = response.status();
        // A 304 answers only a conditional request; unasked, it would
        // pass off whatever copy is held (or none) as current.
        if status == StatusCode::NOT_MODIFIED && known.is_some() {
            return (Ok(Fetched::NotModified), None);
        }
        if !status.is_success() {
            let asked = retry_after(response.headers());
            let err = FetchError::Status {
                url: shown_url(url),
                status: status.as_u16(),
            };
            return (Err(err), asked);
        }
        (self.body(url, response, started), None)
    }

    /// Reads the body in pieces, stopping at the size limit or when the
    /// attempt's time is up, whatever the server's pace.
    fn body(
        &self,
        url: &str,
        mut response: Response,
        started: std::time::Instant,
    ) -> Result<Fetched, FetchError> {
        let limit = self.config.max_body;
        let too_large = || FetchError::TooLarge {
            url: shown_url(url),
            limit,
        };
        let headers = response.headers();
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let validators = Validators {
            etag: header_text(headers, ETAG),
            last_modified: header_text(headers, LAST_MODIFIED),
        };
        let mut bytes = Vec::new();
        let mut piece = vec![0u8; 64 * 1024];
        loop {
            let n = response
                .read(&mut piece)
                .map_err(|e| FetchError::Transport {
                    url: shown_url(url),
                    detail: format!("the body broke off after {} bytes: {e}", bytes.len()),
                })?;
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&piece[..n]);
            if bytes.len() as u64 > limit {
                return Err(too_large());
            }
            if started.elapsed() > self.config.timeout {
                return Err(FetchError::Transport {
                    url: shown_url(url),
                    detail: format!(
                        "the body was still coming after {:?} ({} bytes)",
                        self.config.timeout,
                        bytes.len()
                    ),
                });
            }
        }
        Ok(Fetched::Body { bytes, validators })
    }

    fn check_host(&self, url: &str) -> Result<(), FetchError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| FetchError::Transport {
            url: shown_url(url),
            detail: format!("not a URL: {e}"),
        })?;
        match parsed.host_str() {
            Some(h) if is_allowed(&self.config.allowed_hosts, h) => Ok(()),
            host => Err(FetchError::ForeignHost {
                url: shown_url(url),
                host: host.unwrap_or("(no host)").to_string(),
            }),
        }
    }

    fn transport(&self, url: &str, e: &reqwest::Error) -> FetchError {
        // A refused redirect is not transient: say why.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = source {
            if let Some(RefusedRedirect(why)) = s.downcast_ref::<RefusedRedirect>() {
                return FetchError::Redirect {
                    url: shown_url(url),
                    why: why.clone(),
                };
            }
            source = s.source();
        }
        let detail = if e.is_timeout() {
            format!("no answer within {:?}", self.config.timeout)
        } else {
            // reqwest names the URL in its messages: the URL of a redirect
            // target or of the request, credentials and all.
            let mut text = redact(&error_chain(e), url);
            if let Some(u) = e.url() {
                text = redact(&text, u.as_str());
            }
            text
        };
        FetchError::Transport {
            url: shown_url(url),
            detail,
        }
    }
}

/// The certificates of a PEM file; none at all is an error, not an empty
/// trust list.
fn extra_roots(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, FetchError> {
    let fail = |detail: String| FetchError::Setup(format!("{}: {detail}", path.display()));
    let pem =
        crate::input::read_limited(path, 16 * 1024 * 1024).map_err(|e| fail(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in it".to_string()));
    }
    Ok(certs)
}

/// The redirect policy's refusal, found again in the error's sources.
#[derive(Debug)]
struct RefusedRedirect(String);

impl std::fmt::Display for RefusedRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedRedirect {}

/// Whether a redirect from `prev` (on the way from `first`, the URL asked
/// for) to `next` may be followed: http or https only, never from https
/// down to http, and to the host asked for or one of `extra`, which must
/// also be allowed.
fn redirect_verdict(
    first: &reqwest::Url,
    prev: &reqwest::Url,
    next: &reqwest::Url,
    allowed: &[String],
    extra: &[String],
) -> Result<(), String> {
    if !matches!(next.scheme(), "http" | "https") {
        return Err(format!("to a {} URL", next.scheme()));
    }
    if prev.scheme() == "https" && next.scheme() == "http" {
        return Err(format!(
            "from https down to http ({})",
            shown_url(next.as_str())
        ));
    }
    let host = next.host_str().unwrap_or("");
    // The same host is the same name and port (another port on it is
    // another service), or its https on the default port.
    let upgrade = first.scheme() == "http"
        && next.scheme() == "https"
        && first.port().is_none()
        && next.port().is_none();
    let same = first
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case(host))
        && (upgrade || first.port_or_known_default() == next.port_or_known_default());
    if (same || is_allowed(extra, host)) && is_allowed(allowed, host) {
        Ok(())
    } else {
        Err(format!(
            "to {host}, which is not the host asked for nor one this source may be redirected to"
        ))
    }
}

/// A URL as it may be shown or stored: user name and password (a mirror
/// or a proxy with basic authentication) replaced by `***`.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("***");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(_) => url.to_string(),
        // Not a URL: whatever stands before an `@` may be a secret.
        Err(_) => match url.rsplit_once('@') {
            Some((_, rest)) => format!("***@{rest}"),
            None => url.to_string(),
        },
    }
}

/// `text` with every appearance of `url` in the shown form.
fn redact(text: &str, url: &str) -> String {
    text.replace(url, &shown_url(url))
}

fn is_allowed(allowed: &[String], host: &str) -> bool {
    allowed.iter().any(|a| a.eq_ignore_ascii_case(host))
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `Retry-After: 120` or `Retry-After: <HTTP date>`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Too many seconds for a u64 is longer than any cap.
        return Some(
            text.parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The messages of an error and its sources, joined.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// rustls needs one process-wide crypto provider; ring, which builds with
/// a C compiler alone (aws-lc-rs would also need cmake).
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have installed one first.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    #[test]
    fn redirects_never_go_down_to_http_or_to_another_host() {
        let allowed = ["a.example".to_string(), "b.example".to_string()];
        let first = url("https://a.example/x");
        let verdict = |next: &str, extra: &[String]| {
            redirect_verdict(&first, &first, &url(next), &allowed, extra)
        };
        assert_eq!(verdict("https://a.example/y", &[]), Ok(()));
        assert!(
            verdict("http://a.example/y", &[])
                .unwrap_err()
                .contains("down to http")
        );
        assert!(verdict("https://b.example/y", &[]).is_err());
        assert_eq!(
            verdict("https://b.example/y", &["b.example".into()]),
            Ok(())
        );
        // Named as a redirect target but not allowed: still refused.
        assert!(verdict("https://c.example/y", &["c.example".into()]).is_err());
        assert!(verdict("ftp://a.example/y", &[]).is_err());
        // Another port on the same name is another service.
        assert!(verdict("https://a.example:8443/y", &[]).is_err());
        // Plain http may move to https.
        let plain = url("http://a.example/x");
        assert_eq!(
            redirect_verdict(&plain, &plain, &url("https://a.example/x"), &allowed, &[]),
            Ok(())
        );
    }
}

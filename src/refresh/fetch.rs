//! Fetching a live source: reqwest with rustls (ring), bounded in every
//! way a server can misbehave. Only the hosts a source is expected on are
//! contacted, redirects included; a body is capped while it is read;
//! transient failures are retried with backoff, `Retry-After` honoured;
//! validators from an earlier answer make a conditional GET. The bytes are
//! returned unparsed: `sources` validates them before anything uses them.

use std::io::Read;
use std::sync::Once;
use std::time::{Duration, SystemTime};

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
    /// Hosts requests and redirects may go to (exact names, lower case).
    pub allowed_hosts: Vec<String>,
    pub proxy: ProxyChoice,
    /// For one request, connection to last byte.
    pub timeout: Duration,
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
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            allowed_hosts: Vec::new(),
            proxy: ProxyChoice::Environment,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
            retries: 3,
            backoff: Duration::from_secs(2),
            max_wait: Duration::from_secs(120),
            max_body: 256 * 1024 * 1024,
        }
    }
}

/// What a server said about the version of a body, for the next request.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
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
        let allowed = config.allowed_hosts.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error("more than 5 redirects");
            }
            match attempt.url().host_str() {
                Some(h) if is_allowed(&allowed, h) => attempt.follow(),
                host => {
                    let host = host.unwrap_or("(no host)").to_string();
                    attempt.error(ForeignRedirect(host))
                }
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
                    .map_err(|e| FetchError::Setup(format!("--proxy {url}: {e}")))?
                    .no_proxy(reqwest::NoProxy::from_env());
                builder.proxy(proxy)
            }
        };
        let client = builder
            .build()
            .map_err(|e| FetchError::Setup(e.to_string()))?;
        Ok(Fetcher { client, config })
    }

    /// GET `url`, conditional on `known` when given, with retries.
    pub fn get(&self, url: &str, known: Option<&Validators>) -> Result<Fetched, FetchError> {
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
                            url: url.to_string(),
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
                    url: url.to_string(),
                    wait: pause,
                    max: self.config.max_wait,
                });
            }
            tracing::warn!(url, attempt, error = %err, wait_ms = pause.as_millis() as u64, "retrying");
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
                url: url.to_string(),
                status: status.as_u16(),
            };
            return (Err(err), asked);
        }
        (self.body(url, response), None)
    }

    fn body(&self, url: &str, response: Response) -> Result<Fetched, FetchError> {
        let limit = self.config.max_body;
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
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
        response
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| FetchError::Transport {
                url: url.to_string(),
                detail: format!("the body broke off after {} bytes: {e}", bytes.len()),
            })?;
        if bytes.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(Fetched::Body { bytes, validators })
    }

    fn check_host(&self, url: &str) -> Result<(), FetchError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| FetchError::Transport {
            url: url.to_string(),
            detail: format!("not a URL: {e}"),
        })?;
        match parsed.host_str() {
            Some(h) if is_allowed(&self.config.allowed_hosts, h) => Ok(()),
            host => Err(FetchError::ForeignHost {
                url: url.to_string(),
                host: host.unwrap_or("(no host)").to_string(),
            }),
        }
    }

    fn transport(&self, url: &str, e: &reqwest::Error) -> FetchError {
        // A refused redirect is not transient: say which host it was.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = source {
            if let Some(ForeignRedirect(host)) = s.downcast_ref::<ForeignRedirect>() {
                return FetchError::ForeignHost {
                    url: url.to_string(),
                    host: format!("{host} (a redirect)"),
                };
            }
            source = s.source();
        }
        let detail = if e.is_timeout() {
            format!("no answer within {:?}", self.config.timeout)
        } else {
            error_chain(e)
        };
        FetchError::Transport {
            url: url.to_string(),
            detail,
        }
    }
}

/// The redirect policy's refusal, found again in the error's sources.
#[derive(Debug)]
struct ForeignRedirect(String);

impl std::fmt::Display for ForeignRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redirect to {}, which is not an allowed host", self.0)
    }
}

impl std::error::Error for ForeignRedirect {}

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

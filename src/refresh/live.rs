//! Microsoft's live sources and how each is found and addressed.
//!
//! Microsoft's live sources and how each is found (../shared/FORMATS.md,
//! "Live sources"): the Defender for Endpoint Learn pages as Markdown from
//! the public docs repository, the weekly service-tag files (probed by
//! date, today back to seven days ago, then the download page), and the
//! Microsoft 365 endpoints web service (`/version` first, `/endpoints`
//! only when the version moved, one client request id per installation).
//! Every base URL is configurable, so a mirror or a test server can stand
//! in; the hosts of the bases are the only ones contacted.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use time::{Date, Duration as Days};

use super::fetch::{FetchError, Fetched, Fetcher, shown_url};
use crate::cache::Validators;
pub use crate::sources::live::{LearnPage, Live, M365Instance, TagCloud};

/// Where the sources are fetched from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bases {
    /// Raw files of MicrosoftDocs/defender-docs, branch `public`.
    pub docs: String,
    /// download.microsoft.com.
    pub download: String,
    /// The download pages that link the current service-tag files.
    pub download_pages: String,
    /// endpoints.office.com.
    pub m365: String,
}

impl Default for Bases {
    fn default() -> Self {
        Bases {
            docs: "https://raw.githubusercontent.com/MicrosoftDocs/defender-docs/public".into(),
            download: "https://download.microsoft.com".into(),
            download_pages: "https://www.microsoft.com/en-us/download".into(),
            m365: "https://endpoints.office.com".into(),
        }
    }
}

impl Bases {
    /// The hosts of the bases: all a refresh may contact.
    pub fn hosts(&self) -> Vec<String> {
        [&self.docs, &self.download, &self.download_pages, &self.m365]
            .iter()
            .filter_map(|b| reqwest::Url::parse(b).ok())
            .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
            .collect()
    }
}

/// The fixed download folder and the download page's id of a cloud's
/// service-tag file.
fn folder_and_page(cloud: TagCloud) -> (&'static str, u32) {
    match cloud {
        TagCloud::Public => ("download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63", 56519),
        TagCloud::AzureGovernment => ("download/6/4/D/64DB03BF-895B-4173-A8B1-BA4AD5D4DF22", 57063),
        TagCloud::China => ("download/9/D/0/9D03B7E2-4B80-4BF3-9B91-DA8C7D3EE9F9", 57062),
    }
}

/// What fetching a live source gave.
#[derive(Debug, PartialEq, Eq)]
pub struct Got {
    /// The URL the body (or the 304) came from, as shown and stored
    /// ([`shown_url`]: no credentials).
    pub url: String,
    pub fetched: Fetched,
    /// The M365 web service's `/version` answer (`latest`), kept to skip
    /// `/endpoints` next time.
    pub version: Option<String>,
}

/// What the cache knows of the source, to ask only for what changed.
#[derive(Clone, Debug, Default)]
pub struct Known {
    pub url: Option<String>,
    pub validators: Option<Validators>,
    pub version: Option<String>,
}

/// Fetches one live source.
pub fn fetch(
    live: Live,
    bases: &Bases,
    fetcher: &Fetcher,
    known: &Known,
    today: Date,
    client_id: &str,
) -> Result<Got, FetchError> {
    // One deadline for the source, whatever number of requests it takes.
    let until = fetcher.deadline();
    match live {
        Live::Learn(p) => {
            let url = format!("{}/defender-endpoint/{}.md", bases.docs, p.page());
            let validators = known
                .validators
                .as_ref()
                .filter(|_| known.url.as_deref() == Some(shown_url(&url).as_str()));
            let fetched = fetcher.get_until(&url, validators, until)?;
            Ok(Got {
                url: shown_url(&url),
                fetched,
                version: None,
            })
        }
        Live::ServiceTags(c) => service_tags(c, bases, fetcher, known, today, until),
        Live::M365(i) => m365(i, bases, fetcher, known, client_id, until),
    }
}

/// Today's file, or the newest of the seven days before; then the link on
/// the download page. The URL already held is asked for conditionally.
fn service_tags(
    cloud: TagCloud,
    bases: &Bases,
    fetcher: &Fetcher,
    known: &Known,
    today: Date,
    until: std::time::Instant,
) -> Result<Got, FetchError> {
    let (folder, page) = folder_and_page(cloud);
    for back in 0..=7 {
        let day = today - Days::days(back);
        let url = format!(
            "{}/{folder}/ServiceTags_{}_{:04}{:02}{:02}.json",
            bases.download,
            cloud.file(),
            day.year(),
            u8::from(day.month()),
            day.day()
        );
        let validators = known
            .validators
            .as_ref()
            .filter(|_| known.url.as_deref() == Some(shown_url(&url).as_str()));
        match fetcher.get_until(&url, validators, until) {
            Ok(fetched) => {
                return Ok(Got {
                    url: shown_url(&url),
                    fetched,
                    version: None,
                });
            }
            Err(FetchError::Status { status: 404, .. }) => continue,
            // Not "absent" but failing (after the fetcher's retries): an
            // older day's file is no answer to that.
            Err(e) => return Err(e),
        }
    }
    // No dated file in a week: the download page's link, if it has one.
    let page_url = format!("{}/details.aspx?id={page}", bases.download_pages);
    let Fetched::Body { bytes, .. } = fetcher.get_until(&page_url, None, until)? else {
        return Err(FetchError::Status {
            url: shown_url(&page_url),
            status: 304,
        });
    };
    let file = format!("ServiceTags_{}_", cloud.file());
    let link =
        find_link(&String::from_utf8_lossy(&bytes), &file, &bases.download).ok_or_else(|| {
            FetchError::Transport {
                url: shown_url(&page_url),
                detail: format!(
                    "no dated file this week, and the download page links no {file}YYYYMMDD.json"
                ),
            }
        })?;
    let fetched = fetcher.get_until(&link, None, until)?;
    Ok(Got {
        url: shown_url(&link),
        fetched,
        version: None,
    })
}

/// The first link to `<download base>/…/ServiceTags_<cloud>_YYYYMMDD.json`
/// on a page. A link to any other place (another host, plain http when the
/// base is https) is not taken: a changed or tampered page must not choose
/// where the file comes from.
fn find_link(page: &str, file: &str, download_base: &str) -> Option<String> {
    let prefix = format!("{}/", download_base.trim_end_matches('/'));
    static LINK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"https?://[A-Za-z0-9.:/_-]+/(ServiceTags_[A-Za-z]+_\d{8}\.json)"#)
            .expect("constant regex")
    });
    LINK.captures_iter(page)
        .find(|c| c[1].starts_with(file) && c[0].starts_with(&prefix))
        .map(|c| c[0].to_string())
}

/// `/version/{instance}` first; `/endpoints/{instance}` only when its
/// `latest` differs from the version held.
fn m365(
    instance: M365Instance,
    bases: &Bases,
    fetcher: &Fetcher,
    known: &Known,
    client_id: &str,
    until: std::time::Instant,
) -> Result<Got, FetchError> {
    let name = instance.instance();
    let version_url = format!("{}/version/{name}?clientrequestid={client_id}", bases.m365);
    let Fetched::Body { bytes, .. } = fetcher.get_until(&version_url, None, until)? else {
        return Err(FetchError::Status {
            url: shown_url(&version_url),
            status: 304,
        });
    };
    #[derive(serde::Deserialize)]
    struct Version {
        latest: String,
    }
    let latest = serde_json::from_slice::<Version>(&bytes)
        .map_err(|e| FetchError::Transport {
            url: shown_url(&version_url),
            detail: format!("not a version answer: {e}"),
        })?
        .latest;
    let url = format!(
        "{}/endpoints/{name}?clientrequestid={client_id}",
        bases.m365
    );
    // The service's versions are numbers (`2025100100`): a smaller one
    // than the copy held is a step back, not news.
    if let Some(held) = known.version.as_deref()
        && let (Ok(h), Ok(l)) = (held.parse::<u64>(), latest.parse::<u64>())
        && l < h
    {
        return Err(FetchError::Rollback {
            url: shown_url(&version_url),
            held: held.to_string(),
            offered: latest,
        });
    }
    if known.version.as_deref() == Some(latest.as_str()) {
        return Ok(Got {
            url: shown_url(&url),
            fetched: Fetched::NotModified,
            version: Some(latest),
        });
    }
    let fetched = fetcher.get_until(&url, None, until)?;
    Ok(Got {
        url: shown_url(&url),
        fetched,
        version: Some(latest),
    })
}

/// The client request id of this installation: made once (a random
/// version-4 GUID), kept in `dir`, the same on every later run. A file
/// that cannot be read or holds something else is an error, never
/// silently replaced: Microsoft counts requests per id.
pub fn client_request_id(dir: &Path) -> std::io::Result<String> {
    use std::io::Write;
    let path = dir.join("m365-client-request-id");
    match std::fs::read_to_string(&path) {
        Ok(text) if is_guid(text.trim()) => return Ok(text.trim().to_string()),
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} does not hold a client request id (a GUID); fix or remove it",
                path.display()
            )));
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let mut bytes = [0u8; 16];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let id = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    // create_new: of two first runs at once, one writes and the other
    // reads what it wrote.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(mut f) => {
            f.write_all(format!("{id}\n").as_bytes())?;
            f.sync_all()?;
            Ok(id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => client_request_id(dir),
        Err(e) => Err(e),
    }
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_download_page_link_is_found() {
        let base = "https://download.microsoft.com";
        let page = r#"<a href="https://download.microsoft.com/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/ServiceTags_Public_20251117.json">"#;
        assert_eq!(
            find_link(page, "ServiceTags_Public_", base).as_deref(),
            Some(
                "https://download.microsoft.com/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/ServiceTags_Public_20251117.json"
            )
        );
        assert_eq!(find_link(page, "ServiceTags_China_", base), None);
        // Links elsewhere are passed over, even when listed first.
        let page = r#"http://download.microsoft.com/d/ServiceTags_Public_20251117.json
            https://download.microsoft.com.evil.example/d/ServiceTags_Public_20251117.json
            https://mirror.example/d/ServiceTags_Public_20251117.json
            https://download.microsoft.com/d/ServiceTags_Public_20251110.json"#;
        assert_eq!(
            find_link(page, "ServiceTags_Public_", base).as_deref(),
            Some("https://download.microsoft.com/d/ServiceTags_Public_20251110.json")
        );
        assert_eq!(
            find_link(page, "ServiceTags_Public_", "https://other.example"),
            None
        );
    }

    #[test]
    fn client_ids_are_guids() {
        assert!(is_guid("0b5a9c3e-1f2d-4c5b-8a7e-6d9f0e1a2b3c"));
        assert!(!is_guid("0b5a9c3e-1f2d-4c5b-8a7e"));
    }
}

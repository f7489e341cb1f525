//! Host patterns in each format's wildcard syntax, both ways: spelled and read back.
//!
//! `spell` writes the lines a format uses for a pattern, `read` turns one
//! such line back into the pattern it admits (for `audit`, and for the
//! tests that check a backend's declared capabilities against what it
//! wrote).

use crate::model::HostPattern;
use crate::model::host::parse_pattern;

/// A wildcard syntax shared by one or more formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// `x`, `*.x` (below x), `*x` (ending in x); a domain is written as
    /// both `x` and `*.x`. Plain lists, Azure Firewall `targetFqdns`.
    Glob,
    /// `x` (that host), `.x` (x and everything below): Squid `dstdomain`,
    /// `ssl::server_name`, the plain TLS-bypass list. `*.x` has no form
    /// of its own and is written `.x`.
    Dstdomain,
    /// An anchored POSIX regular expression of the host: Squid
    /// `dstdom_regex`, `ssl::server_name_regex`.
    HostRegex,
    /// A Palo Alto EDL domain list. With "Automatically expand to include
    /// subdomains" on, `x` admits x and everything below.
    Edl { expands: bool },
    /// Host names only (pfSense host aliases).
    Name,
}

/// The lines that write `host` in `syntax`; empty when the syntax has no
/// form for it (the loss report says so). `name` must already have passed
/// [`super::safe_name`].
pub fn spell(syntax: Syntax, host: &HostPattern) -> Vec<String> {
    use HostPattern as P;
    let name = host.name().as_str();
    match (syntax, host) {
        (_, P::Template(_)) => Vec::new(),
        (Syntax::Glob, P::Exact(_)) => vec![name.to_string()],
        (Syntax::Glob, P::Subdomains(_)) => vec![format!("*.{name}")],
        (Syntax::Glob, P::Domain(_)) => vec![name.to_string(), format!("*.{name}")],
        (Syntax::Glob, P::SuffixGlob(_)) => vec![format!("*{name}")],
        (Syntax::Dstdomain, P::Exact(_)) => vec![name.to_string()],
        (Syntax::Dstdomain, P::Subdomains(_) | P::Domain(_)) => vec![format!(".{name}")],
        (Syntax::Dstdomain, P::SuffixGlob(_)) => Vec::new(),
        (Syntax::HostRegex, _) => host_regex(host)
            .map(|r| vec![format!("^{r}$")])
            .unwrap_or_default(),
        (Syntax::Edl { .. }, P::Exact(_)) => vec![name.to_string()],
        (Syntax::Edl { expands: true }, P::Subdomains(_) | P::Domain(_) | P::SuffixGlob(_)) => {
            vec![name.to_string()]
        }
        (Syntax::Edl { expands: false }, _) => Vec::new(),
        (Syntax::Name, P::Exact(_) | P::Domain(_)) => vec![name.to_string()],
        (Syntax::Name, _) => Vec::new(),
    }
}

/// The pattern one line of `syntax` admits, or `None` when the line is not
/// a host pattern of that syntax (or not a valid name).
pub fn read(syntax: Syntax, line: &str) -> Option<HostPattern> {
    let line = line.trim();
    match syntax {
        Syntax::Glob => parse_pattern(line).ok(),
        // `.x` reads as a domain, as the pattern parser already does.
        Syntax::Dstdomain if line.starts_with('.') => parse_pattern(line).ok(),
        Syntax::Dstdomain => exact(line),
        Syntax::HostRegex => read_host_regex(line),
        Syntax::Edl { expands } => {
            if line.starts_with('*') {
                return parse_pattern(line).ok();
            }
            if expands {
                parse_pattern(&format!(".{line}")).ok()
            } else {
                exact(line)
            }
        }
        Syntax::Name => exact(line),
    }
}

fn exact(line: &str) -> Option<HostPattern> {
    match parse_pattern(line).ok()? {
        p @ HostPattern::Exact(_) => Some(p),
        _ => None,
    }
}

/// POSIX extended regex with every metacharacter escaped.
pub fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if ".[]{}()\\*+?^$|".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

const BELOW: &str = "[a-z0-9.-]+\\.";
const OPTIONAL_BELOW: &str = "([a-z0-9.-]+\\.)?";
const ANY_PREFIX: &str = "[a-z0-9.-]*";

/// The unanchored regex of the hosts a pattern admits.
pub fn host_regex(host: &HostPattern) -> Option<String> {
    let n = regex_escape(host.name().as_str());
    Some(match host {
        HostPattern::Exact(_) => n,
        HostPattern::Subdomains(_) => format!("{BELOW}{n}"),
        HostPattern::Domain(_) => format!("{OPTIONAL_BELOW}{n}"),
        HostPattern::SuffixGlob(_) => format!("{ANY_PREFIX}{n}"),
        HostPattern::Template(_) => return None,
    })
}

/// The pattern behind one of our own anchored host regexes.
fn read_host_regex(line: &str) -> Option<HostPattern> {
    let body = line.strip_prefix('^')?.strip_suffix('$')?;
    let (prefix, escaped) = [BELOW, OPTIONAL_BELOW, ANY_PREFIX]
        .into_iter()
        .find_map(|p| body.strip_prefix(p).map(|rest| (p, rest)))
        .unwrap_or(("", body));
    let name = unescape(escaped)?;
    let text = match prefix {
        BELOW => format!("*.{name}"),
        OPTIONAL_BELOW => format!(".{name}"),
        ANY_PREFIX => format!("*{name}"),
        _ => name,
    };
    let pattern = parse_pattern(&text).ok()?;
    // Only our own forms: anything else is not a plain pattern.
    (host_regex(&pattern)? == body).then_some(pattern)
}

/// The anchored `url_regex` of plain-HTTP requests for a pattern under a
/// path prefix: `^http://HOST(:80)?/PATH` (Squid).
pub fn url_regex(host: &HostPattern, path: &str) -> Option<String> {
    Some(format!(
        "^http://{}(:80)?{}",
        host_regex(host)?,
        regex_escape(path)
    ))
}

/// The pattern and path behind one of our own URL regexes ([`url_regex`]).
pub fn read_url_regex(line: &str) -> Option<(HostPattern, String)> {
    let rest = line.strip_prefix("^http://")?;
    let (host, path) = rest.split_once("(:80)?")?;
    let pattern = read_host_regex(&format!("^{host}$"))?;
    let path = unescape(path)?;
    (url_regex(&pattern, &path)? == line).then_some((pattern, path))
}

/// `a\.b` -> `a.b`; refuses an unescaped metacharacter.
fn unescape(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            c if ".[]{}()*+?^$|".contains(c) => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::matching::covers;

    fn p(text: &str) -> HostPattern {
        parse_pattern(text).unwrap()
    }

    #[test]
    fn every_syntax_reads_back_what_it_spells() {
        let kinds = [
            "a.example.com",
            "*.example.com",
            ".example.com",
            "*ss.example.com",
        ];
        for syntax in [
            Syntax::Glob,
            Syntax::Dstdomain,
            Syntax::HostRegex,
            Syntax::Edl { expands: true },
            Syntax::Edl { expands: false },
            Syntax::Name,
        ] {
            for k in kinds {
                let host = p(k);
                let lines = spell(syntax, &host);
                let back: Vec<HostPattern> = lines
                    .iter()
                    .map(|l| read(syntax, l).unwrap_or_else(|| panic!("{syntax:?} {l}")))
                    .collect();
                // What the lines admit together includes what they were
                // written for, except where the format can only narrow:
                // a name for a domain, a subtree for a suffix glob.
                let covered = back.iter().any(|b| covers(b, &host))
                    || (back.len() == 2 && matches!(host, HostPattern::Domain(_)));
                let known_narrowing = matches!(
                    (syntax, &host),
                    (Syntax::Name, HostPattern::Domain(_))
                        | (Syntax::Edl { expands: true }, HostPattern::SuffixGlob(_))
                );
                assert!(
                    lines.is_empty() || covered || known_narrowing,
                    "{syntax:?}: {k} -> {lines:?} -> {back:?}"
                );
            }
        }
    }

    #[test]
    fn spellings_per_syntax() {
        assert_eq!(spell(Syntax::Glob, &p(".x.com")), ["x.com", "*.x.com"]);
        assert_eq!(spell(Syntax::Dstdomain, &p("*.x.com")), [".x.com"]);
        assert!(spell(Syntax::Dstdomain, &p("*s.x.com")).is_empty());
        assert_eq!(
            spell(Syntax::HostRegex, &p("*ss.x.com")),
            ["^[a-z0-9.-]*ss\\.x\\.com$"]
        );
        assert_eq!(read(Syntax::Dstdomain, ".x.com"), Some(p(".x.com")));
        assert_eq!(
            read(Syntax::Edl { expands: true }, "x.com"),
            Some(p(".x.com"))
        );
        assert_eq!(
            read(Syntax::Edl { expands: false }, "x.com"),
            Some(p("x.com"))
        );
        assert_eq!(read(Syntax::HostRegex, "^a\\.x\\.com$"), Some(p("a.x.com")));
        assert_eq!(read(Syntax::HostRegex, "^a.x\\.com$"), None);
        assert_eq!(read(Syntax::HostRegex, "^.*$"), None);
        assert_eq!(read(Syntax::Name, "*.x.com"), None);
    }

    #[test]
    fn url_regexes_read_back() {
        for (host, path) in [
            ("a.x.com", "/pki/"),
            ("*.x.com", "/a+b/"),
            (".x.com", "/"),
            ("*s.x.com", "/c/"),
        ] {
            let line = url_regex(&p(host), path).unwrap();
            assert_eq!(
                read_url_regex(&line),
                Some((p(host), path.to_string())),
                "{line}"
            );
        }
        assert_eq!(read_url_regex("^http://a.x\\.com(:80)?/pki/"), None);
        assert_eq!(read_url_regex("^https?://a\\.x\\.com/"), None);
    }

    #[test]
    fn regexes_escape_and_anchor() {
        assert_eq!(regex_escape("a.b+c"), "a\\.b\\+c");
        assert_eq!(host_regex(&p("*.x.com")).unwrap(), "[a-z0-9.-]+\\.x\\.com");
        assert_eq!(
            host_regex(&p("*ss.x.com")).unwrap(),
            "[a-z0-9.-]*ss\\.x\\.com"
        );
    }
}

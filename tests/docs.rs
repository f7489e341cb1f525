//! The book under docs/ and the README: every relative link names a file
//! of the repository, every `#fragment` a heading of its page (ids as
//! mdBook makes them), every page of docs/ is in SUMMARY.md, and the
//! README stays a front door (under 300 lines). `scripts/test` builds the
//! book with mdBook itself and fails on its warnings.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pages() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    v.sort();
    v
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_HEADING_ATTRIBUTES
}

/// A heading's id as mdBook writes it: lower case, spaces as `-`, only
/// letters, digits, `-` and `_` kept; a repeat gets `-1`, `-2`, ...
fn ids(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut heading: Option<String> = None;
    for event in Parser::new_ext(text, options()) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) if heading.is_some() => {
                heading.as_mut().unwrap().push_str(&t)
            }
            Event::End(TagEnd::Heading(_)) => {
                let h = heading.take().unwrap();
                let base: String = h
                    .trim()
                    .to_lowercase()
                    .chars()
                    .filter_map(|c| match c {
                        ' ' => Some('-'),
                        c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                        _ => None,
                    })
                    .collect();
                let mut id = base.clone();
                let mut n = 1;
                while !out.insert(id.clone()) {
                    id = format!("{base}-{n}");
                    n += 1;
                }
            }
            _ => {}
        }
    }
    out
}

/// The destinations of a page's links and images.
fn links(text: &str) -> Vec<String> {
    Parser::new_ext(text, options())
        .filter_map(|e| match e {
            Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. }) => Some(dest_url.to_string()),
            _ => None,
        })
        .collect()
}

/// What is wrong with one link of `page`, if anything.
fn broken(page: &Path, dest: &str) -> Option<String> {
    if dest.starts_with("https://") || dest.starts_with("http://") || dest.starts_with("mailto:") {
        return None;
    }
    let (path, fragment) = dest.split_once('#').unwrap_or((dest, ""));
    let target = if path.is_empty() {
        page.to_path_buf()
    } else {
        page.parent().unwrap().join(path)
    };
    if !target.exists() {
        return Some(format!("{dest}: no {}", target.display()));
    }
    if !fragment.is_empty() && target.extension().is_some_and(|x| x == "md") {
        let text = std::fs::read_to_string(&target).unwrap();
        if !ids(&text).contains(fragment) {
            return Some(format!(
                "{dest}: no heading #{fragment} in {}",
                target.display()
            ));
        }
    }
    None
}

#[test]
fn every_relative_link_of_the_book_and_the_readme_resolves() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for page in pages().into_iter().chain([root().join("README.md")]) {
        let text = std::fs::read_to_string(&page).unwrap();
        for dest in links(&text) {
            checked += 1;
            if let Some(why) = broken(&page, &dest) {
                failures.push(format!("{}: {why}", page.display()));
            }
        }
    }
    assert!(checked > 40, "{checked} links");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_check_catches_a_broken_link_and_a_missing_heading() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("a.md");
    std::fs::write(&page, "# A page\n\n## `egressgen audit` and more\n").unwrap();
    assert!(broken(&page, "a.md#egressgen-audit-and-more").is_none());
    assert!(broken(&page, "#a-page").is_none());
    assert!(broken(&page, "a.md#nothing").is_some());
    assert!(broken(&page, "b.md").is_some());
}

#[test]
fn every_page_of_the_book_is_in_its_summary() {
    let summary = std::fs::read_to_string(root().join("docs/SUMMARY.md")).unwrap();
    let listed: BTreeSet<String> = links(&summary).into_iter().collect();
    let pages: BTreeSet<String> = pages()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "SUMMARY.md")
        .collect();
    assert_eq!(listed, pages);
    // One title per page, at the top.
    for p in pages.iter().map(|n| root().join("docs").join(n)) {
        let text = std::fs::read_to_string(&p).unwrap();
        let first = Parser::new_ext(&text, options()).find_map(|e| match e {
            Event::Start(Tag::Heading { level, .. }) => Some(level),
            _ => None,
        });
        assert_eq!(first, Some(HeadingLevel::H1), "{}", p.display());
    }
}

#[test]
fn the_readme_is_a_front_door() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.lines().count() < 300);
    let order: Vec<usize> = [
        "## Install",
        "## Your own site in five steps",
        "## Development",
    ]
    .iter()
    .map(|h| readme.find(h).unwrap_or_else(|| panic!("{h}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    // The first code block under Development: the main job, then the suite.
    let dev = &readme[order[2]..];
    let block = dev
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run --release --locked -- generate rulesets/commercial-eu.toml",
            "scripts/test"
        ]
    );
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "exec scripts/test"), "{ci}");
}

//! Header rows recognised by what their names mean, and the cells holding host names.
//!
//! A header cell is classified case- and whitespace-insensitively into a
//! [`Col`]; a row is a header when it names an endpoint column.

use crate::model::Os;
use crate::model::text::collapse_ws;
use crate::normalize::url_cell::{parse_entry, split_cell};

use super::Cell;

/// What a header cell names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    Service,
    Geography,
    Category,
    Port,
    Endpoint,
    Description,
    Required,
    Os(Os),
    /// The streamlined workbook's single `OS` column.
    OsList,
    Comments,
    TagName,
    /// A known header of a table we do not read (processes, change log).
    Foreign,
}

/// Recognizes a header cell by what its words mean, not by one spelling:
/// `Endpoint/URLs`, `Endpoint or URLs`, `URLs` and `Hostnames` all name the
/// endpoint column; `Win 11/10/Server (Unified)` and `Windows 10, 11; Server
/// 2022 …` both name the unified-agent Windows column. Microsoft renames
/// columns between revisions of the same list, so a table must not vanish
/// because a header gained a word.
pub fn classify(text: &str) -> Option<Col> {
    let words = header_words(text);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let all_in = |set: &[&str]| !words.is_empty() && words.iter().all(|w| set.contains(w));
    let has = |w: &str| words.contains(&w);
    let col = if words.is_empty() {
        return None;
    } else if has("description") || (has("services") && has("included")) {
        Col::Description
    } else if has("tag") && (has("service") || has("name")) {
        Col::TagName
    } else if is_endpoint(&words) {
        Col::Endpoint
    } else if (has("service") || has("services")) && all_in(&["service", "services", "name"]) {
        Col::Service
    } else if all_in(&["geography", "region", "location", "geo"]) {
        Col::Geography
    } else if all_in(&["category"]) {
        Col::Category
    } else if all_in(&["port", "ports", "tcp", "number"]) {
        Col::Port
    } else if all_in(&["required", "optional", "or", "type"]) {
        Col::Required
    } else if all_in(&["comment", "comments", "note", "notes", "remarks"]) {
        Col::Comments
    } else if all_in(&[
        "os",
        "operating",
        "system",
        "systems",
        "platform",
        "platforms",
    ]) {
        Col::OsList
    } else if all_in(&["process", "processes", "path", "date", "change", "log"]) {
        Col::Foreign
    } else {
        Col::Os(os_family(&words)?)
    };
    Some(col)
}

/// A header's words: lower case, split at anything but letters, digits and
/// the dot of `8.1`.
fn header_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// `Endpoint/URL`, `Endpoint or URLs`, `URLs`, `Host names`, `FQDN`: only
/// words that name a destination, at least one of them not a connective.
fn is_endpoint(words: &[&str]) -> bool {
    const CORE: [&str; 12] = [
        "endpoint",
        "endpoints",
        "url",
        "urls",
        "host",
        "hosts",
        "hostname",
        "hostnames",
        "fqdn",
        "fqdns",
        "domain",
        "domains",
    ];
    const GLUE: [&str; 4] = ["or", "and", "name", "names"];
    words.iter().any(|w| CORE.contains(w))
        && words.iter().all(|w| CORE.contains(w) || GLUE.contains(w))
}

/// The OS column a header names: MMA-based servers, Windows 7/8.1, the
/// unified agent on Windows 10/11 and servers, macOS, Linux. A header that
/// names two families (`Windows 7/10`) is not guessed at.
fn os_family(words: &[&str]) -> Option<Os> {
    let has = |w: &str| words.contains(&w);
    let windows = words
        .iter()
        .any(|w| matches!(*w, "win" | "windows" | "server"));
    let mut found = Vec::new();
    if has("mac") || has("macos") {
        found.push(Os::Macos);
    }
    if has("linux") {
        found.push(Os::Linux);
    }
    if has("mma") || (windows && has("2008")) {
        found.push(Os::WindowsServerMma);
    } else {
        if windows && (has("7") || has("8.1")) {
            found.push(Os::WindowsLegacy);
        }
        if windows && (has("10") || has("11") || has("unified")) {
            found.push(Os::Windows);
        }
    }
    match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// A header row: which column holds what.
#[derive(Clone, Debug)]
pub struct Header {
    pub(super) cols: Vec<Option<Col>>,
    names: Vec<String>,
}

/// What a row of header names starts.
pub enum HeaderKind {
    /// A table with an Endpoint/URL or service-tag column.
    Endpoints(Header),
    /// Some other table (processes, change log): rows below it are not ours.
    Foreign,
}

/// Recognizes a header row: at least two known header names making up at
/// least half of the filled cells (a data row can hold `Required` and
/// `Linux`, but not mostly header names), one of them an endpoint or
/// service-tag column for a table we read, or a process/change-log column
/// for one we skip.
pub fn detect_header(row: &[Cell]) -> Option<HeaderKind> {
    let cols: Vec<Option<Col>> = row
        .iter()
        .map(|c| if c.merged { None } else { classify(&c.text) })
        .collect();
    let known = cols.iter().flatten().count();
    let filled = row.iter().filter(|c| !c.is_blank()).count();
    if known < 2 || known * 2 < filled {
        return None;
    }
    let ours = cols
        .iter()
        .any(|c| matches!(c, Some(Col::Endpoint | Col::TagName)));
    if ours {
        let names = row.iter().map(|c| collapse_ws(&c.text)).collect();
        return Some(HeaderKind::Endpoints(Header { cols, names }));
    }
    cols.contains(&Some(Col::Foreign))
        .then_some(HeaderKind::Foreign)
}

impl Header {
    pub fn index(&self, col: Col) -> Option<usize> {
        self.cols.iter().position(|c| *c == Some(col))
    }

    /// Number of columns, for realigning ragged rows.
    pub fn width(&self) -> usize {
        self.cols.len()
    }

    pub fn col(&self, index: usize) -> Option<Col> {
        self.cols.get(index).copied().flatten()
    }

    pub fn name(&self, index: usize) -> &str {
        self.names.get(index).map(String::as_str).unwrap_or("")
    }

    pub(super) fn os_columns(&self) -> impl Iterator<Item = (usize, Os)> + '_ {
        self.cols.iter().enumerate().filter_map(|(i, c)| match c {
            Some(Col::Os(os)) => Some((i, *os)),
            _ => None,
        })
    }
}

/// File extensions that follow a dot in prose and process tables
/// (`MsSense.exe`, `Node.js`): such a word is not a host name.
const FILE_EXTENSIONS: [&str; 20] = [
    "exe", "dll", "sys", "msi", "cab", "ps1", "bat", "cmd", "txt", "log", "xml", "json", "zip",
    "md", "xlsx", "csv", "ini", "cfg", "conf", "js",
];

/// Whether a cell holds host names or URLs and nothing else (at least one,
/// each ending in a top-level label of letters). This is how a table whose
/// header is not recognised is told apart from a change log or a list of
/// processes: it is an endpoint table under a new name, and must not be
/// dropped without a word.
pub fn looks_like_hosts(text: &str) -> bool {
    let tokens = split_cell(text);
    !tokens.is_empty()
        && tokens.iter().all(|t| {
            parse_entry(t).is_ok_and(|e| {
                let host = e.host.to_string();
                let tld = host.rsplit('.').next().unwrap_or("");
                host.contains('.')
                    && tld.len() >= 2
                    && tld.chars().all(|c| c.is_ascii_alphabetic())
                    && !FILE_EXTENSIONS.contains(&tld)
            })
        })
}

/// The first cell of a row that [`looks_like_hosts`].
pub fn host_cell(row: &[Cell]) -> Option<&Cell> {
    // A merged copy repeats its anchor, which was read (or reported) where
    // it stands.
    row.iter()
        .find(|c| !c.merged && c.problem.is_none() && looks_like_hosts(&c.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every header spelling of Microsoft's files (classic, standard,
    /// streamlined workbooks; standard and streamlined Learn pages,
    /// commercial and Gov), and the renamings a next revision may bring.
    #[test]
    fn headers_are_recognised_by_meaning() {
        use Col::*;
        for (text, col) in [
            ("Endpoint/URL", Endpoint),
            ("Endpoint/URLs", Endpoint),
            ("Endpoint or URLs ", Endpoint),
            ("URLs", Endpoint),
            ("URL", Endpoint),
            ("Hostnames", Endpoint),
            ("Host names", Endpoint),
            ("FQDN", Endpoint),
            ("Endpoint/URL Description ", Description),
            ("Endpoint or URL Description", Description),
            ("Description", Description),
            ("Defender for Endpoint services included", Description),
            ("Service Tag Name", TagName),
            ("Service ", Service),
            ("Geography", Geography),
            ("Category", Category),
            ("Port ", Port),
            ("TCP ports", Port),
            ("Required or Optional", Required),
            ("Required / Optional", Required),
            ("Required/Optional", Required),
            ("Required", Required),
            ("Type", Required),
            ("Comments", Comments),
            ("Comment", Comments),
            ("OS", OsList),
            ("Windows 10 / Server 2019", Os(crate::model::Os::Windows)),
            (
                "Windows 10, 11; Server 2022, 2019, 2016 (Unified Agent); Server 2012 R2 (Unified Agent)",
                Os(crate::model::Os::Windows),
            ),
            ("Win 11/10/Server (Unified)", Os(crate::model::Os::Windows)),
            ("Windows 7 / 8.1", Os(crate::model::Os::WindowsLegacy)),
            ("Win 7/8.1", Os(crate::model::Os::WindowsLegacy)),
            (
                "Windows Server 2008 R2 / 2012 R2 / 2016",
                Os(crate::model::Os::WindowsServerMma),
            ),
            (
                "Windows Server 2008 R2, 2012 R2, 2016 (MMA Based)",
                Os(crate::model::Os::WindowsServerMma),
            ),
            ("Server (MMA)", Os(crate::model::Os::WindowsServerMma)),
            ("Mac", Os(crate::model::Os::Macos)),
            ("Linux", Os(crate::model::Os::Linux)),
            ("Date", Foreign),
            ("Change Log", Foreign),
            ("Process", Foreign),
        ] {
            assert_eq!(classify(text), Some(col), "{text:?}");
        }
        // Data cells and ambiguous names are not headers.
        for text in [
            "Yes",
            "443",
            "Windows",
            "Windows 7/10",
            "Name",
            "",
            "Common",
        ] {
            assert_eq!(classify(text), None, "{text:?}");
        }
    }

    #[test]
    fn host_cells_are_told_from_prose_and_processes() {
        for yes in [
            "a.example.com",
            "*.ziel.example.com\nziel2.example.com",
            "https://x.example.com/config/v1",
        ] {
            assert!(looks_like_hosts(yes), "{yes:?}");
        }
        for no in [
            "",
            "MsSense.exe",
            "Node.js",
            "Windows 8.1",
            "Core Defender for Endpoint services.",
            "a.example.com and more",
        ] {
            assert!(!looks_like_hosts(no), "{no:?}");
        }
    }
}

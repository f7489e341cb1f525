//! squid.conf's lexical rules, as Squid 5.7 applies them.
//!
//! Lines as `parseOneConfigFile` (cache_cf.cc) reads them: fgets(3)
//! pieces, continuation, comments, the `${...}` macros, `if`/`else`/
//! `endif`; words as `ConfigParser` cuts them (a word starting with `#`
//! ends the line, a backslash pair inside a regular expression, quoted
//! values and `parameters("file")` when
//! `configuration_includes_quoted_values` is on); ACL file lines as
//! `strtokFile` reads them. Every rule here was checked against
//! `squid -k parse` (see tests/audit_squid.rs).

use std::borrow::Cow;

/// `parseOneConfigFile` reads with `fgets(buf, BUFSIZ)`: a line longer
/// than 8191 bytes is read as several lines, each with its own number
/// (a 100,000-name `acl` line is refused by Squid at its second piece).
pub(super) const CONFIG_PIECE: usize = 8191;

/// `strtokFile` reads ACL files with a `CONFIG_LINE_LIMIT` (2048) buffer:
/// a longer line is read as several values.
pub(super) const ACL_FILE_PIECE: usize = 2047;

/// `xisspace`, which Squid uses to skip and trim.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `w_space`, which separates words (no vertical tab or form feed).
fn is_sep(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The lines `fgets` returns, without their newline: a new one after
/// each `\n` and after every `max` bytes.
pub(super) fn pieces(text: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let window = &rest[..rest.len().min(max)];
        let (piece, next) = match window.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (window, &rest[window.len()..]),
        };
        rest = next;
        Some(piece)
    })
}

/// A piece as `parseOneConfigFile` keeps it: cut at the first `\r`, leading
/// whitespace skipped.
fn clean(piece: &[u8]) -> &[u8] {
    let piece = match piece.iter().position(|&b| b == b'\r') {
        Some(i) => &piece[..i],
        None => piece,
    };
    let start = piece
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(piece.len());
    &piece[start..]
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Logical lines as `parseOneConfigFile` builds them, each with the number
/// Squid reports for it: the number of its *last* piece (Squid counts the
/// lines it has read when it reports one). A piece ending in `\` continues
/// on the next one, joined without a space (`a\` + `b` is `ab`); blank
/// pieces and pieces starting with `#` are skipped, also between the parts
/// of a continued line; a line still continued at the end of the file is
/// dropped, as Squid drops it. Trailing whitespace is trimmed.
pub(super) fn logical_lines(text: &str) -> Vec<(usize, Cow<'_, str>)> {
    let mut out = Vec::new();
    let mut pending: Option<Vec<u8>> = None;
    for (i, piece) in pieces(text.as_bytes(), CONFIG_PIECE).enumerate() {
        let body = clean(piece);
        if body.is_empty() || body[0] == b'#' {
            continue;
        }
        if let Some(rest) = body.strip_suffix(b"\\") {
            pending.get_or_insert_with(Vec::new).extend_from_slice(rest);
            continue;
        }
        let line = match pending.take() {
            Some(mut joined) => {
                joined.extend_from_slice(body);
                Cow::Owned(String::from_utf8_lossy(trim_end(&joined)).into_owned())
            }
            None => String::from_utf8_lossy(trim_end(body)),
        };
        out.push((i + 1, line));
    }
    out
}

/// The values Squid gives its macros in one process.
#[derive(Clone, Copy, Debug)]
pub(super) struct Macros {
    /// `${process_number}`: 0 in the master process and `squid -k parse`,
    /// N in worker N.
    pub kid: u32,
}

/// The macros Squid replaces in a whole line, comments included
/// (`ProcessMacros`): `${service_name}` (`squid`, unless Squid was started
/// with `-n`; the audit cannot know, and Debian's unit does not pass one),
/// `${process_name}` (`squid` in every worker and under `squid -k parse`:
/// `--kid squid-1` names the process `squid`, number 1) and
/// `${process_number}`.
pub(super) fn expand<'a>(line: Cow<'a, str>, macros: Macros) -> Cow<'a, str> {
    if !line.contains("${") {
        return line;
    }
    let line = line
        .replace("${service_name}", "squid")
        .replace("${process_name}", "squid")
        .replace("${process_number}", &macros.kid.to_string());
    Cow::Owned(line)
}

/// What a logical line is to the conditional reader.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Statement<'a> {
    /// `if` and its expression (whitespace after `if` skipped).
    If(&'a str),
    Else,
    Endif,
    Line,
}

/// `FindStatement`: the keyword, then the end of the line or whitespace;
/// `if` is tried first, then `endif`, then `else`. Anything after `else`
/// or `endif` is ignored, as Squid ignores it.
pub(super) fn statement(line: &str) -> Statement<'_> {
    let after = |keyword: &str| {
        let rest = line.strip_prefix(keyword)?;
        match rest.bytes().next() {
            None => Some(rest),
            Some(b) if is_space(b) => Some(rest.trim_start_matches(|c: char| is_space_char(c))),
            Some(_) => None,
        }
    };
    if let Some(expr) = after("if") {
        Statement::If(expr)
    } else if after("endif").is_some() {
        Statement::Endif
    } else if after("else").is_some() {
        Statement::Else
    } else {
        Statement::Line
    }
}

fn is_space_char(c: char) -> bool {
    c.is_ascii() && is_space(c as u8)
}

/// `EvalBoolExpr`: `true`, `false`, or two integers joined by `=`. Anything
/// else is fatal to Squid, in these words (a trailing comment included:
/// `if true # x` does not evaluate).
pub(super) fn condition(expr: &str) -> Result<bool, String> {
    match expr {
        "true" => return Ok(true),
        "false" => return Ok(false),
        _ => {}
    }
    let Some((left, right)) = expr.split_once('=') else {
        return Err(format!("Unable to evaluate expression '{expr}'"));
    };
    let left = left.trim_end_matches(is_space_char);
    let right = right.trim_start_matches(is_space_char);
    let number =
        |s: &str| strtol(s).ok_or_else(|| format!("String is not a integer number: '{s}'"));
    Ok(number(left)? == number(right)?)
}

/// `strtol(s, &end, 0)` that must consume the whole string: leading
/// whitespace, a sign, `0x` hexadecimal, `0` octal, else decimal;
/// saturating as strtol does.
pub(super) fn strtol(s: &str) -> Option<i64> {
    let s = s.trim_start_matches(is_space_char);
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let hex = s.len() > 2
        && (s.starts_with("0x") || s.starts_with("0X"))
        && s.as_bytes()[2].is_ascii_hexdigit();
    let (radix, digits) = if hex {
        (16, &s[2..])
    } else if s.starts_with('0') {
        (8, s)
    } else {
        (10, s)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = digits.chars().try_fold(0i128, |n, c| {
        let n = n * i128::from(radix) + i128::from(c.to_digit(radix)?);
        Some(n.min(i128::from(i64::MAX) + 1))
    })?;
    let value = if negative { -magnitude } else { magnitude };
    Some(value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// The directive name of a line and the text after it (`strtok`).
pub(super) fn directive(line: &str) -> (&str, &str) {
    let end = line.find(is_sep).unwrap_or(line.len());
    (&line[..end], &line[end..])
}

/// `include`'s own test (not the directive table): the word, one
/// whitespace character, and at least one more character; the paths are
/// read from the byte after that whitespace. A bare `include` is an
/// unrecognized directive to Squid.
pub(super) fn include_paths(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    (b.len() >= 9 && line.starts_with("include") && is_space(b[7])).then(|| &line[8..])
}

/// The paths of an `include` line as `strwordtok` cuts them: whitespace
/// separates, `"` toggles quoting (`"a b.conf"` is one path), a backslash
/// escapes the next character only inside quotes. A `#` is no comment
/// here: `include x.conf # note` names the files `#` and `note`.
pub(super) fn include_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|&c| is_space_char(c)).is_some() {}
        if chars.peek().is_none() {
            return out;
        }
        let mut word = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => quoted = !quoted,
                '\\' if quoted => match chars.next() {
                    Some('n') => word.push('\n'),
                    Some('r') => word.push('\r'),
                    Some(other) => word.push(other),
                    None => {}
                },
                c if !quoted && is_space_char(c) => break,
                c => word.push(c),
            }
        }
        out.push(word);
    }
}

/// The words of a directive's arguments up to a trailing comment, as
/// `ConfigParser::NextToken` reads them with quoted values off (Squid's
/// default): `w_space` separates, a word that starts with `#` starts a
/// comment, a `#` inside a word stays (`http://a/#x`).
pub(super) fn words(rest: &str) -> Vec<&str> {
    rest.split(is_sep)
        .filter(|w| !w.is_empty())
        .take_while(|w| !w.starts_with('#'))
        .collect()
}

/// One ACL value token.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// A plain word; with quoted values off, a word that starts with a
    /// quote names an ACL file ([`quoted_file`]).
    Word(&'a str),
    /// `"text"` with quoted values on: a value, quotes removed.
    Quoted(String),
    /// `parameters("file")` with quoted values on: values read from a file.
    Parameters(String),
}

/// A cursor over the words of one line, as `ConfigParser::TokenParse`.
pub(super) struct Tokens<'a> {
    rest: &'a str,
    /// `configuration_includes_quoted_values on`.
    quoted: bool,
}

impl<'a> Tokens<'a> {
    pub fn new(rest: &'a str, quoted: bool) -> Tokens<'a> {
        Tokens { rest, quoted }
    }

    /// The next token; `regex`: a regular expression, where a backslash
    /// and the character after it stay in the word (`a\ b` is one word,
    /// `RecognizeQuotedPair_`). Errors are Squid's FATAL words.
    pub fn next(&mut self, regex: bool) -> Result<Option<Token<'a>>, String> {
        self.rest = self.rest.trim_start_matches(is_sep);
        if self.rest.is_empty() || self.rest.starts_with('#') {
            return Ok(None);
        }
        if self.quoted && self.rest.starts_with(['"', '\'']) {
            let (value, rest) = unquote(self.rest)?;
            self.rest = rest;
            return Ok(Some(Token::Quoted(value)));
        }
        let word = if regex {
            self.regex_word()?
        } else {
            self.plain_word()
        };
        if self.quoted && self.rest.starts_with('(') && !word.is_empty() {
            return self.function(word).map(Some);
        }
        self.rest = self.rest.get(1..).unwrap_or("");
        Ok(Some(Token::Word(word)))
    }

    fn plain_word(&mut self) -> &'a str {
        let stop = |c: char| is_sep(c) || (self.quoted && c == '(');
        // A word that starts with `(` is not a function call.
        let skip = usize::from(self.quoted && self.rest.starts_with('('));
        let end = self.rest[skip..]
            .find(stop)
            .map_or(self.rest.len(), |i| i + skip);
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        word
    }

    fn regex_word(&mut self) -> Result<&'a str, String> {
        let bytes = self.rest.as_bytes();
        let mut end = 0;
        while end < bytes.len() && !is_sep(bytes[end] as char) {
            if bytes[end] == b'\\' {
                if end + 1 >= bytes.len() || matches!(bytes[end + 1], b'\r' | b'\n') {
                    return Err(format!(
                        "Unescaped '\\' character in regex pattern: {}",
                        self.rest
                    ));
                }
                end += 1;
                // The escaped character may be a multi-byte one.
                end += self.rest[end..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
            end += 1;
        }
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        Ok(word)
    }

    /// `name(` with quoted values on: `parameters("file")` (any leading
    /// part of the word `parameters` is taken for it, as Squid compares
    /// only the name's length), else fatal.
    fn function(&mut self, name: &'a str) -> Result<Token<'a>, String> {
        if !"parameters".starts_with(name) {
            return Err(format!("Unknown cfg function: {name}{}", self.rest));
        }
        self.rest = &self.rest[1..];
        let path = match self.next(false)? {
            Some(Token::Quoted(path)) => path,
            _ => return Err(format!("Quoted filename missing: {name}")),
        };
        match self.next(false)? {
            Some(Token::Word(")")) => Ok(Token::Parameters(path)),
            _ => Err(format!("missing ')' after {name}(\"{path}\"")),
        }
    }
}

/// `ConfigParser::UnQuote`: the text between the quotes, with `\r`, `\n`,
/// `\t` and escaped punctuation; the rest of the line after it.
fn unquote(text: &str) -> Result<(String, &str), String> {
    let quote = text.chars().next().unwrap_or('"');
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => {
                let rest = &text[i + 1..];
                let ok = rest
                    .chars()
                    .next()
                    .is_none_or(|n| is_sep(n) || "()#".contains(n));
                if !ok {
                    return Err(format!(
                        "Expecting space after the end of quoted token: {text}"
                    ));
                }
                return Ok((out, rest));
            }
            '\\' => match chars.next().map(|(_, e)| e) {
                Some('r') => out.push('\r'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(e) if e.is_ascii_alphanumeric() => {
                    return Err(format!("Unsupported escape sequence: {e}"));
                }
                Some(e) => out.push(e),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(format!(
        "missing quote char at the end of quoted string: {text}"
    ))
}

/// The value on one line of an ACL file, as Squid's `strtokFile` reads
/// it: leading whitespace skipped, the words up to one that starts with
/// `#` (with the spaces between them), nothing for a blank or comment line.
pub(super) fn acl_file_value(line: &str) -> Option<&str> {
    let line = line.trim_start_matches(is_sep);
    let mut end = 0;
    let mut rest = line;
    while let Some(start) = rest.find(|c: char| !is_sep(c)) {
        let word = &rest[start..];
        if word.starts_with('#') {
            break;
        }
        let len = word.find(is_sep).unwrap_or(word.len());
        end = line.len() - rest.len() + start + len;
        rest = &word[len..];
    }
    let value = &line[..end];
    (!value.is_empty()).then_some(value)
}

/// The values of an ACL file with the line of each: `strtokFile`'s
/// 2047-byte pieces, one value per piece.
pub(super) fn acl_file_values(text: &str) -> impl Iterator<Item = (usize, Cow<'_, str>)> {
    pieces(text.as_bytes(), ACL_FILE_PIECE)
        .enumerate()
        .filter_map(|(i, piece)| {
            let piece = String::from_utf8_lossy(piece);
            let value = match piece {
                Cow::Borrowed(p) => Cow::Borrowed(acl_file_value(p)?),
                Cow::Owned(p) => Cow::Owned(acl_file_value(&p)?.to_string()),
            };
            Some((i + 1, value))
        })
}

/// The file a quoted ACL value names: `"path"` or `'path'`, up to the next
/// quote of either kind (Squid's `strtokFile`).
pub(super) fn quoted_file(value: &str) -> Option<&str> {
    let rest = value.strip_prefix(['"', '\''])?;
    Some(rest.split(['"', '\'']).next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String)> {
        logical_lines(text)
            .into_iter()
            .map(|(n, l)| (n, l.into_owned()))
            .collect()
    }

    #[test]
    fn lines_are_joined_numbered_and_trimmed_as_squid_does() {
        let text = "acl a src 10.0.0.0/8  # RFC 1918 \"this\" network\n\
                    acl b dstdomain .a.com \\\n\
                    # a comment between the parts\n\
                    \x20  .b.com\r\n\
                    acl c dstdomain .c.com \\ \n\
                    acl d dstdomain .d\\\n\
                    .com\n\
                    x\r y\n\
                    last \\\n";
        assert_eq!(
            lines(text),
            [
                (
                    1,
                    "acl a src 10.0.0.0/8  # RFC 1918 \"this\" network".to_string()
                ),
                (4, "acl b dstdomain .a.com .b.com".to_string()),
                (5, "acl c dstdomain .c.com \\".to_string()),
                (7, "acl d dstdomain .d.com".to_string()),
                (8, "x".to_string()),
            ]
        );
        // fgets pieces: a line over 8191 bytes is two lines.
        let long = format!("acl big dstdomain {}\nnext\n", "a".repeat(9000));
        let got = lines(&long);
        assert_eq!(got.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(got[0].1.len(), CONFIG_PIECE);
        let exact = format!("{}\nnext\n", "b".repeat(CONFIG_PIECE));
        assert_eq!(lines(&exact).last().unwrap().0, 3);
    }

    #[test]
    fn words_comments_and_include_paths() {
        assert_eq!(words(" a b#c  #d e"), ["a", "b#c"]);
        assert_eq!(
            directive("http_access allow x"),
            ("http_access", " allow x")
        );
        assert_eq!(include_paths("include /x"), Some("/x"));
        assert_eq!(include_paths("include\t/x"), Some("/x"));
        assert_eq!(include_paths("include"), None);
        assert_eq!(include_paths("includes /x"), None);
        assert_eq!(
            include_words(" /a.conf \"/b c.conf\" /d\\ e # f"),
            ["/a.conf", "/b c.conf", "/d\\", "e", "#", "f"]
        );
        assert_eq!(acl_file_value("  .e.com   # note"), Some(".e.com"));
        assert_eq!(acl_file_value(".f.com#g"), Some(".f.com#g"));
        assert_eq!(acl_file_value("two words  # c"), Some("two words"));
        assert_eq!(acl_file_value("   # whole"), None);
        assert_eq!(acl_file_value("  "), None);
        assert_eq!(quoted_file("\"/etc/x\""), Some("/etc/x"));
        assert_eq!(quoted_file("'/etc/y'"), Some("/etc/y"));
        assert_eq!(quoted_file(".a.com"), None);
        let long = format!("{}yy zz # c\nsecond\n", "x".repeat(2050));
        let values: Vec<(usize, String)> = acl_file_values(&long)
            .map(|(n, v)| (n, v.into_owned()))
            .collect();
        assert_eq!(values[0].1.len(), ACL_FILE_PIECE);
        assert_eq!(values[1], (2, "xxxyy zz".to_string()));
        assert_eq!(values[2], (3, "second".to_string()));
    }

    #[test]
    fn conditions_and_macros() {
        assert_eq!(statement("if true"), Statement::If("true"));
        assert_eq!(statement("if"), Statement::If(""));
        assert_eq!(statement("iffy x"), Statement::Line);
        assert_eq!(statement("else whatever"), Statement::Else);
        assert_eq!(statement("endif"), Statement::Endif);
        assert_eq!(statement("elsewhere"), Statement::Line);
        assert_eq!(condition("true"), Ok(true));
        assert_eq!(condition("1 = 1"), Ok(true));
        assert_eq!(condition("0x10=16"), Ok(true));
        assert_eq!(condition("010 = 8"), Ok(true));
        assert_eq!(condition(" -2 = -2"), Ok(true));
        assert_eq!(condition("1 = 2"), Ok(false));
        assert_eq!(
            condition("true # c"),
            Err("Unable to evaluate expression 'true # c'".to_string())
        );
        assert_eq!(
            condition("1 = 1 # c"),
            Err("String is not a integer number: '1 # c'".to_string())
        );
        assert!(condition("08 = 8").is_err());
        let m = Macros { kid: 1 };
        assert_eq!(
            expand(
                Cow::Borrowed("if ${process_number} = 1 ${process_name} ${service_name}"),
                m
            ),
            "if 1 = 1 squid squid"
        );
    }

    #[test]
    fn regex_and_quoted_tokens() {
        let mut t = Tokens::new(r" -i a\ b c\\d ^x\.com/ # c", false);
        let mut got = Vec::new();
        while let Some(tok) = t.next(true).unwrap() {
            got.push(tok);
        }
        assert_eq!(
            got,
            [
                Token::Word("-i"),
                Token::Word(r"a\ b"),
                Token::Word(r"c\\d"),
                Token::Word(r"^x\.com/"),
            ]
        );
        assert!(Tokens::new(r"ab\", false).next(true).is_err());
        let mut q = Tokens::new(r#" ".a.com x" parameters("/f") plain"#, true);
        assert_eq!(
            q.next(false).unwrap(),
            Some(Token::Quoted(".a.com x".into()))
        );
        assert_eq!(q.next(false).unwrap(), Some(Token::Parameters("/f".into())));
        assert_eq!(q.next(false).unwrap(), Some(Token::Word("plain")));
        assert_eq!(q.next(false).unwrap(), None);
        assert!(Tokens::new("foo(x)", true).next(false).is_err());
        // Quoted values off: quotes and parentheses are plain characters.
        let mut off = Tokens::new(r#"parameters("/f") "file""#, false);
        assert_eq!(
            off.next(false).unwrap(),
            Some(Token::Word(r#"parameters("/f")"#))
        );
        assert_eq!(off.next(false).unwrap(), Some(Token::Word(r#""file""#)));
    }
}

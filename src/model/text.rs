//! Small text helpers shared by the readers.

/// Characters that render as nothing and have no business in a table cell
/// (zero-width spaces, joiners, the BOM, bidirectional controls), and the
/// Unicode noncharacters, which XML 1.0 cannot carry at all.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        | '\u{FDD0}'..='\u{FDEF}')
        || (c as u32) & 0xFFFE == 0xFFFE
}

/// Trims, and turns every run of whitespace (including non-breaking spaces
/// and newlines) into one space.
pub fn collapse_ws(text: &str) -> String {
    text.split(char::is_whitespace)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Like [`collapse_ws`], but `None` for a blank cell.
pub fn non_blank(text: &str) -> Option<String> {
    let collapsed = collapse_ws(text);
    (!collapsed.is_empty()).then_some(collapsed)
}

/// A value that is safe to print in a report: control and invisible
/// characters are escaped, and long values are cut.
pub fn display_escape(raw: &str) -> String {
    const MAX_CHARS: usize = 120;
    let mut out = String::new();
    for (count, c) in raw.chars().enumerate() {
        if count == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || is_invisible(c) || is_line_separator(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Line and paragraph separators: JavaScript ends a line at them, so a
/// `//` comment holding one ends early.
fn is_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// Text for a terminal: control, invisible and line-separator characters
/// escaped, nothing cut. Every line egressgen prints goes through this or
/// [`display_escape`].
pub fn terminal_safe(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_control() || is_invisible(c) || is_line_separator(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Text for inside a Markdown code span, where nothing but a backtick
/// means anything: control characters escaped, backticks become quotes.
pub fn md_code(text: &str) -> String {
    terminal_safe(text).replace('`', "'")
}

/// Text for Markdown outside a code span (a table cell, a list item): the
/// punctuation that would make a link, an image, HTML, a mention,
/// emphasis, a heading or a new cell is escaped, and so is every control
/// character, so no text from a source can add a line or a link.
pub fn md_text(text: &str) -> String {
    let mut out = String::new();
    for c in terminal_safe(text).chars() {
        match c {
            '`' => out.push('\''),
            '|' | '[' | ']' | '(' | ')' | '<' | '>' | '!' | '@' | '#' | '*' | '_' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Printable ASCII only (`' '` to `'~'`); everything else as `\u{..}`.
/// For text inside comments of generated files, whose syntaxes disagree
/// on what ends a line (U+2028 ends a JavaScript comment).
pub fn printable_ascii(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            out.extend(c.escape_unicode());
        }
    }
    out
}

/// A CSV field a spreadsheet will not run as a formula: printable (see
/// [`display_escape`]) and, when it starts with `=`, `+`, `-` or `@`,
/// prefixed with `'`.
pub fn spreadsheet_safe(field: &str) -> String {
    let escaped = display_escape(field);
    if escaped.starts_with(['=', '+', '-', '@']) {
        format!("'{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_handles_nbsp_tabs_and_newlines() {
        assert_eq!(collapse_ws("\u{a0} Yes\t\n "), "Yes");
        assert_eq!(
            collapse_ws("Endpoint/URL Description "),
            "Endpoint/URL Description"
        );
        assert_eq!(non_blank(" \u{a0}\t"), None);
    }

    #[test]
    fn spreadsheet_fields_cannot_start_a_formula() {
        assert_eq!(
            spreadsheet_safe("=cmd|' /C calc'!A0"),
            "'=cmd|' /C calc'!A0"
        );
        assert_eq!(spreadsheet_safe("-a.com"), "'-a.com");
        assert_eq!(spreadsheet_safe("a.com"), "a.com");
    }

    #[test]
    fn escape_neutralizes_control_characters_and_cuts() {
        assert_eq!(display_escape("a.com\nhttp_access"), "a.com\\nhttp_access");
        assert_eq!(display_escape("x\u{200b}y"), "x\\u{200b}y");
        // Noncharacters, which XML cannot carry.
        assert_eq!(
            display_escape("a\u{ffff}b\u{fffe}\u{fdd0}\u{1fffe}"),
            "a\\u{ffff}b\\u{fffe}\\u{fdd0}\\u{1fffe}"
        );
        let long = "a".repeat(300);
        let shown = display_escape(&long);
        assert_eq!(shown.chars().count(), 121);
        assert!(shown.ends_with('…'));
    }
}

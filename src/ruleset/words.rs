//! Ruleset errors in plain words, with the offending line quoted under a caret.
//!
//! The TOML and serde layers say `invalid type: string "x", expected
//! i64` or `unknown variant `mdavv``; a network engineer editing a
//! ruleset wants `listen: a port number such as 3128, not the string
//! "x"` and `did you mean mdav?`, with the line shown as cargo shows it.

/// What a key takes, where a type name alone says too little.
const KEY_WANTS: [(&str, &str); 8] = [
    ("listen", "a port number such as 3128"),
    ("port", "a port number such as 3128"),
    ("max_bytes", "a number of bytes such as 1048576"),
    ("timeout", "a number of seconds such as 10"),
    ("deadline", "a number of seconds such as 60"),
    (
        "addresses",
        "a list of host:port such as [\"proxy.contoso.com:8080\"]",
    ),
    ("geographies", "a list such as [\"EU\"]"),
    ("products", "a list such as [\"mde\", \"mdav\"]"),
];

/// Keys people write for the ones a ruleset has.
const SYNONYMS: [(&str, &str); 5] = [
    ("region", "geographies"),
    ("regions", "geographies"),
    ("location", "geographies"),
    ("locations", "geographies"),
    ("geo", "geographies"),
];

/// The message for an error at `line` (the text of the line it points
/// at), in plain words.
pub fn plain(message: &str, line: &str) -> String {
    let key = key_of(line);
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let wants = KEY_WANTS
            .iter()
            .find(|(k, _)| Some(*k) == key)
            .map(|(_, w)| w.to_string())
            .unwrap_or_else(|| type_words(expected));
        let found = found.replace("string ", "the text ");
        return match key {
            Some(k) => format!("{k}: {wants}, not {found}"),
            None => format!("expected {wants}, not {found}"),
        };
    }
    for (what, label) in [("unknown variant", "value"), ("unknown field", "key")] {
        if let Some(rest) = message.strip_prefix(what) {
            return unknown_choice(rest, label, key);
        }
    }
    if let Some(field) = message.strip_prefix("missing field ") {
        return format!("missing key {field}");
    }
    message.to_string()
}

/// `unknown variant `x`, expected one of `a`, `b`` as a sentence with a
/// "did you mean".
fn unknown_choice(rest: &str, label: &str, key: Option<&str>) -> String {
    let names: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let Some((given, accepted)) = names.split_first() else {
        return format!("unknown {label}{rest}");
    };
    let synonym = SYNONYMS
        .iter()
        .find(|(k, v)| *k == *given && accepted.contains(v))
        .map(|(_, v)| *v);
    let hint = synonym
        .or_else(|| closest(given, accepted))
        .map(|c| format!(" (did you mean {c}?)"))
        .unwrap_or_default();
    let subject = match (label, key) {
        ("value", Some(k)) => format!("{k}: unknown value \"{given}\""),
        _ => format!("unknown {label} \"{given}\""),
    };
    if accepted.is_empty() {
        format!("{subject}{hint}")
    } else {
        format!("{subject}{hint}; accepted: {}", accepted.join(", "))
    }
}

/// The accepted name nearest to `given`, if it is near.
pub fn closest<'a>(given: &str, accepted: &[&'a str]) -> Option<&'a str> {
    let given = given.to_ascii_lowercase();
    accepted
        .iter()
        .map(|a| (strsim::osa_distance(&given, &a.to_ascii_lowercase()), *a))
        // One edit in a short word, two in a long one: `colour` is not
        // `cloud`.
        .filter(|(d, _)| *d <= (given.len() / 4).max(1))
        .min()
        .map(|(_, a)| a)
}

/// The key a line sets (`listen = "x"` -> `listen`), if it sets one.
fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.contains(['[', ' '])).then_some(key)
}

/// A serde type name in words.
fn type_words(expected: &str) -> String {
    let words = match expected {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number",
        "a boolean" => "true or false",
        "a sequence" => "a list such as [\"a\", \"b\"]",
        "a string" | "a borrowed string" => "text in quotes",
        e if e.starts_with("struct") || e == "a map" => "a table",
        e => e,
    };
    words.to_string()
}

/// The line at `line` (one-based) quoted as cargo quotes it, a caret
/// under column `column`.
pub fn quote(text: &str, line: usize, column: usize) -> String {
    let Some(shown) = text.lines().nth(line.saturating_sub(1)) else {
        return String::new();
    };
    // Printable: a ruleset line may hold control characters.
    let shown = crate::model::text::terminal_safe(shown);
    let number = line.to_string();
    let pad = " ".repeat(number.len());
    let caret = " ".repeat(column.saturating_sub(1));
    format!("\n{pad} |\n{number} | {shown}\n{pad} | {caret}^")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_become_plain_words() {
        assert_eq!(
            plain("invalid type: string \"x\", expected i64", "listen = \"x\""),
            "listen: a port number such as 3128, not the text \"x\""
        );
        assert_eq!(
            plain(
                "invalid type: integer `1`, expected a boolean",
                "include_optional = 1"
            ),
            "include_optional: true or false, not integer `1`"
        );
        assert_eq!(
            plain(
                "unknown variant `mdavv`, expected one of `mde`, `mdav`, `mma`",
                "products = [\"mde\", \"mdavv\"]"
            ),
            "products: unknown value \"mdavv\" (did you mean mdav?); accepted: mde, mdav, mma"
        );
        assert_eq!(
            plain(
                "unknown field `prodcts`, expected one of `cloud`, `products`",
                "prodcts = []"
            ),
            "unknown key \"prodcts\" (did you mean products?); accepted: cloud, products"
        );
        assert_eq!(plain("something else", "x = 1"), "something else");
    }

    #[test]
    fn the_line_is_quoted_with_a_caret_under_the_column() {
        let text = "a = 1\nlisten = \"x\"\n";
        assert_eq!(
            quote(text, 2, 10),
            "\n  |\n2 | listen = \"x\"\n  |          ^"
        );
        assert_eq!(quote(text, 9, 1), "");
    }
}

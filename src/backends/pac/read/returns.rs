//! Which `return` of `FindProxyForURL` answered: the script, marked.
//!
//! QuickJS gives no line for a `return` (a stack trace needs a call, and
//! `return "DIRECT"` makes none), so the script is loaded with a mark
//! call inserted right after each `return` keyword of `FindProxyForURL`'s
//! own body: `return X` becomes `return MARK(line), X`. The comma
//! operator evaluates the mark first and returns `X`, whatever `X` is (an
//! Expression may already hold commas; `MARK(line), A, B` is still `B`),
//! so the answer cannot change. A bare `return` (followed by `;`, `}`,
//! the end, or a line break, where JavaScript ends the statement) becomes
//! `return MARK(line);`, and the mark returns `undefined`, as before. The
//! last mark set when the call ends is the return that answered: a
//! `finally` that returns again marks after the first.
//!
//! Only text on the `return`'s own line is inserted, so every line keeps
//! its number (QuickJS's stack lines stay true too). Finding `return`
//! needs a lexer that knows strings, comments and regular expressions;
//! this one follows the usual rule for `/` (a regular expression where an
//! expression may start), with the parenthesis of `if`/`while`/`for` and
//! the braces of blocks told apart. Whatever it does not handle (template
//! strings, Unicode line separators, a lone CR, unbalanced brackets) makes
//! it give up: the script is then loaded unmarked and lines are unknown.
//! A marked script that does not load is dropped for the original too.

/// The function `FindProxyForURL`'s returns call.
pub const MARK: &str = "__egressgen_ret";

/// A script with its returns marked.
#[derive(Debug, PartialEq, Eq)]
pub struct Marked {
    pub source: String,
    /// The line of `function FindProxyForURL`, for an answer no `return`
    /// gave (a function that ends without one).
    pub defined_at: Option<usize>,
    /// Lines of the marked returns.
    pub returns: Vec<usize>,
}

/// Marks the returns of `FindProxyForURL`; `None` when the lexer cannot
/// read the script with certainty.
pub fn mark(source: &str) -> Option<Marked> {
    if source.contains(['\u{2028}', '\u{2029}']) || source.replace("\r\n", "\n").contains('\r') {
        return None;
    }
    let mut lexer = Lexer::new(source);
    lexer.run()?;
    let mut out = String::with_capacity(source.len() + 32 * lexer.inserts.len());
    let mut last = 0;
    for (at, text) in &lexer.inserts {
        out.push_str(&source[last..*at]);
        out.push_str(text);
        last = *at;
    }
    out.push_str(&source[last..]);
    Some(Marked {
        source: out,
        defined_at: lexer.defined_at,
        returns: lexer.marked,
    })
}

/// The kind of a token, as far as the rule for `/` and the function
/// bodies need.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A name or keyword.
    Word(String),
    /// A number, string or regular expression: a value.
    Value,
    Punct(&'static str),
}

/// An open bracket.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Open {
    /// `(`; `true` after `if`, `while`, `for`, `with`: a statement follows.
    Paren(bool),
    Bracket,
    Block,
    Object,
    /// A function's body; `true` for `FindProxyForURL`'s.
    Function(bool),
}

/// A `function` keyword waiting for its body.
struct Pending {
    depth: usize,
    answers: bool,
}

/// A `return` whose mark depends on what follows it.
struct Return {
    after: usize,
    line: usize,
}

struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    line: usize,
    /// A line break since the last token (ends a bare `return`).
    broke: bool,
    opens: Vec<Open>,
    /// The last two tokens, the newest first.
    prev: [Option<Tok>; 2],
    /// After `)` of `if (...)` or `}` of a block: a statement starts.
    statement_next: bool,
    pending: Option<Pending>,
    ret: Option<Return>,
    inserts: Vec<(usize, String)>,
    marked: Vec<usize>,
    defined_at: Option<usize>,
}

const REGEX_AFTER: &[&str] = &[
    "return",
    "typeof",
    "instanceof",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "case",
    "do",
    "else",
    "yield",
    "await",
];

const PUNCTS: &[&str] = &[
    "=>", "...", "?.", "++", "--", "(", ")", "[", "]", "{", "}", ";", ",", ".", "?", ":", "=", "+",
    "-", "*", "%", "<", ">", "!", "~", "&", "|", "^", "/",
];

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            src: text.as_bytes(),
            text,
            pos: 0,
            line: 1,
            broke: false,
            opens: Vec::new(),
            prev: [None, None],
            statement_next: true,
            pending: None,
            ret: None,
            inserts: Vec::new(),
            marked: Vec::new(),
            defined_at: None,
        }
    }

    fn peek(&self, ahead: usize) -> u8 {
        self.src.get(self.pos + ahead).copied().unwrap_or(0)
    }

    /// Reads the whole script; `None` where it cannot be sure.
    fn run(&mut self) -> Option<()> {
        loop {
            self.skip_space()?;
            if self.pos >= self.src.len() {
                break;
            }
            let line = self.line;
            let tok = self.token()?;
            self.settle_return(&tok);
            self.on_token(tok, line)?;
        }
        if let Some(r) = self.ret.take() {
            self.insert(r, "");
        }
        self.opens.is_empty().then_some(())
    }

    /// Spaces, line breaks and comments.
    fn skip_space(&mut self) -> Option<()> {
        while self.pos < self.src.len() {
            match (self.peek(0), self.peek(1)) {
                (b'\n', _) => {
                    self.line += 1;
                    self.broke = true;
                    self.pos += 1;
                }
                (b' ' | b'\t' | b'\r' | 0x0b | 0x0c, _) => self.pos += 1,
                (b'/', b'/') => {
                    while self.pos < self.src.len() && self.peek(0) != b'\n' {
                        self.pos += 1;
                    }
                }
                (b'/', b'*') => {
                    let end = self.text[self.pos + 2..].find("*/")? + self.pos + 2;
                    let lines = self.src[self.pos..end].iter().filter(|&&b| b == b'\n');
                    let n = lines.count();
                    self.line += n;
                    self.broke |= n > 0;
                    self.pos = end + 2;
                }
                _ => break,
            }
        }
        Some(())
    }

    /// Whether a `/` here starts a regular expression.
    fn regex_here(&self) -> bool {
        match &self.prev[0] {
            None => true,
            Some(Tok::Value) => false,
            Some(Tok::Word(w)) => REGEX_AFTER.contains(&w.as_str()),
            Some(Tok::Punct(")" | "}")) => self.statement_next,
            Some(Tok::Punct("]" | "++" | "--")) => false,
            Some(Tok::Punct(_)) => true,
        }
    }

    fn token(&mut self) -> Option<Tok> {
        let c = self.peek(0);
        let start = self.pos;
        if c == b'`' {
            return None;
        }
        if c == b'"' || c == b'\'' {
            self.pos += 1;
            loop {
                match self.peek(0) {
                    0 | b'\n' => return None,
                    b'\\' => {
                        if self.peek(1) == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 2;
                    }
                    q if q == c => break,
                    _ => self.pos += 1,
                }
            }
            self.pos += 1;
            return Some(Tok::Value);
        }
        if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_ascii_digit()) {
            while {
                let d = self.peek(0);
                d.is_ascii_alphanumeric()
                    || d == b'_'
                    || d == b'.'
                    || ((d == b'+' || d == b'-')
                        && matches!(self.src[self.pos - 1], b'e' | b'E')
                        && !self.text[start..].starts_with("0x"))
            } {
                self.pos += 1;
            }
            return Some(Tok::Value);
        }
        if is_word(c) {
            while self.pos < self.src.len() && is_word(self.peek(0)) {
                self.pos += 1;
            }
            return Some(Tok::Word(self.text[start..self.pos].to_string()));
        }
        if c == b'/' && self.regex_here() {
            return self.regex();
        }
        let punct = PUNCTS
            .iter()
            .find(|p| self.src[self.pos..].starts_with(p.as_bytes()))?;
        self.pos += punct.len();
        Some(Tok::Punct(punct))
    }

    fn regex(&mut self) -> Option<Tok> {
        self.pos += 1;
        let mut class = false;
        loop {
            match self.peek(0) {
                0 | b'\n' => return None,
                b'\\' => self.pos += 1,
                b'[' => class = true,
                b']' => class = false,
                b'/' if !class => break,
                _ => {}
            }
            self.pos += 1;
        }
        self.pos += 1;
        while is_word(self.peek(0)) {
            self.pos += 1;
        }
        Some(Tok::Value)
    }

    /// Decides the mark of a `return` by the token after it.
    fn settle_return(&mut self, next: &Tok) {
        let Some(r) = self.ret.take() else { return };
        let text = match next {
            _ if self.broke => ";",
            Tok::Punct(";" | "}") => "",
            _ => ",",
        };
        self.insert(r, text);
    }

    fn insert(&mut self, r: Return, end: &str) {
        self.inserts
            .push((r.after, format!(" {MARK}({}){end}", r.line)));
        self.marked.push(r.line);
    }

    fn on_token(&mut self, tok: Tok, line: usize) -> Option<()> {
        let after_dot = matches!(self.prev[0], Some(Tok::Punct("." | "?.")));
        let mut statement_next = false;
        match &tok {
            Tok::Word(w) if !after_dot => self.on_word(w, line),
            Tok::Punct("(") => {
                let kw = matches!(&self.prev[0], Some(Tok::Word(w))
                    if ["if", "while", "for", "with"].contains(&w.as_str()));
                self.opens.push(Open::Paren(kw));
            }
            Tok::Punct("[") => self.opens.push(Open::Bracket),
            Tok::Punct("{") => {
                let open = self.brace();
                self.opens.push(open);
            }
            Tok::Punct(")") => match self.opens.pop()? {
                Open::Paren(kw) => statement_next = kw,
                _ => return None,
            },
            Tok::Punct("]") => (self.opens.pop()? == Open::Bracket).then_some(())?,
            Tok::Punct("}") => match self.opens.pop()? {
                Open::Paren(_) | Open::Bracket => return None,
                Open::Object => {}
                Open::Block | Open::Function(_) => statement_next = true,
            },
            _ => {}
        }
        self.statement_next = statement_next;
        self.broke = false;
        self.prev = [Some(tok), self.prev[0].take()];
        Some(())
    }

    /// A name: `function` opens a body to come, `return` may be marked.
    fn on_word(&mut self, w: &str, line: usize) {
        match w {
            "function" => {
                let named = matches!(&self.prev[1], Some(Tok::Word(n)) if n == "FindProxyForURL")
                    && matches!(self.prev[0], Some(Tok::Punct("=" | ":")));
                self.pending = Some(Pending {
                    depth: self.opens.len(),
                    answers: named,
                });
            }
            "FindProxyForURL" if matches!(&self.prev[0], Some(Tok::Word(f)) if f == "function") => {
                if let Some(p) = self.pending.as_mut() {
                    p.answers = true;
                }
                self.defined_at.get_or_insert(line);
            }
            "return" => self.on_return(),
            _ => {}
        }
    }

    /// What a `{` opens.
    fn brace(&mut self) -> Open {
        if let Some(p) = self.pending.take_if(|p| p.depth == self.opens.len()) {
            return Open::Function(p.answers);
        }
        let in_object = self.opens.last() == Some(&Open::Object);
        match &self.prev[0] {
            Some(Tok::Punct("=>")) => Open::Function(false),
            // A method of an object or class literal: `name(a) { ... }`.
            Some(Tok::Punct(")")) if in_object => Open::Function(false),
            None | Some(Tok::Punct(")" | ";" | "{" | "}" | ":")) => Open::Block,
            Some(Tok::Word(w)) if ["else", "do", "try", "finally"].contains(&w.as_str()) => {
                Open::Block
            }
            // An expression's `{` (after an operator, `(`, `,`, `return`), or
            // `class Name {`, whose methods are read as an object's.
            _ => Open::Object,
        }
    }

    /// A `return` statement of `FindProxyForURL`'s own body is marked
    /// once the next token shows how it ends.
    fn on_return(&mut self) {
        if self.opens.last() == Some(&Open::Object) {
            return; // a property or method named `return`
        }
        let own = self.opens.iter().rev().find_map(|o| match o {
            Open::Function(answers) => Some(*answers),
            _ => None,
        });
        if own == Some(true) {
            self.ret = Some(Return {
                after: self.pos,
                line: self.line,
            });
        }
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(src: &str) -> String {
        mark(src).expect("readable").source
    }

    #[test]
    fn each_return_of_find_proxy_is_marked_on_its_own_line() {
        let src = "function FindProxyForURL(url, host) {\n\
                   if (host == \"a\") return \"DIRECT\";\n\
                   if (/return/.test(host)) { return 'PROXY p:1' }\n\
                   var f = function () { return 1; };\n\
                   // return in a comment\n\
                   return\n\
                   \"x\";\n\
                   }\n";
        let m = mark(src).unwrap();
        assert_eq!(m.returns, vec![2, 3, 6]);
        assert_eq!(m.defined_at, Some(1));
        assert!(m.source.contains("return __egressgen_ret(2), \"DIRECT\";"));
        assert!(
            m.source
                .contains("{ return __egressgen_ret(3), 'PROXY p:1' }")
        );
        assert!(m.source.contains("function () { return 1; }"));
        assert!(m.source.contains("return __egressgen_ret(6);\n\"x\";"));
        assert_eq!(m.source.lines().count(), src.lines().count());
    }

    #[test]
    fn words_in_strings_regexes_and_properties_are_left_alone() {
        let src = "var o = { \"return\": 1 };\n\
                   function FindProxyForURL(u, h) {\n\
                   var s = 'it\\'s return', r = /[/]return/g, x = 4 / 2 / 1;\n\
                   var q = { return: 2 }; q.return = 3;\n\
                   return;\n\
                   }";
        let out = marked(src);
        assert_eq!(out.matches(MARK).count(), 1, "{out}");
        assert!(out.contains("return __egressgen_ret(5);"), "{out}");
    }

    #[test]
    fn an_assigned_find_proxy_counts_and_a_template_gives_up() {
        let m = mark("var FindProxyForURL = function (u, h) { return \"DIRECT\" }").unwrap();
        assert_eq!(m.returns, vec![1]);
        assert!(mark("function FindProxyForURL(u, h) { return `DIRECT`; }").is_none());
        assert!(mark("function FindProxyForURL(u, h) { return (1; }").is_none());
        assert!(mark("function FindProxyForURL(u, h) { return 'x").is_none());
    }
}

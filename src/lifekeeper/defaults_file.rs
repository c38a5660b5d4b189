//! The `/etc/default/LifeKeeper` format: a file that LifeKeeper's scripts *source* with `sh`.
//!
//! So the parser accepts exactly the shell assignment syntax such a file can hold — `#` comments,
//! blank lines, `KEY=value`, an optional `export ` prefix, single- and double-quoted values with
//! spaces, `=` or `#`, backslash escapes, a trailing `# comment` — and rejects anything that
//! `sh` would run as a command (`KEY=a b`, `$(...)`, backticks, `;`, pipes), naming the line.
//! `$VAR` expansions are kept as opaque raw text: we cannot know their value, so we compare and
//! carry them verbatim.
//!
//! Whitespace is what `sh` calls blank (space and tab) and lines end at `\n` only, as in `sh`: a
//! carriage return is an ordinary character, so a CRLF file would give every value a trailing
//! `\r` and make `sh` run its blank lines as a command named `\r`. Such a file, and one that
//! starts with a UTF-8 byte order mark (which `sh` reads as part of the first word), is refused
//! with a message saying so rather than rewritten or misread.

use crate::runtime::result::clip;
use std::collections::BTreeMap;

/// One line of the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Blank(String),
    /// A comment; `commented_key` is set for a commented-out default such as `#LCMHBEATTIME=5`.
    Comment {
        text: String,
        commented_key: Option<String>,
    },
    Assign(Assign),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assign {
    pub key: String,
    /// The value exactly as written (quotes included), e.g. `"a b"`.
    pub raw: String,
    /// The value the shell assigns, when it is a literal (no `$` expansion).
    pub value: Option<String>,
    pub export: bool,
    /// Everything before the key (indentation, `export `), kept when the line is rewritten.
    pub prefix: String,
    /// Trailing text after the value (whitespace and `# comment`), kept when rewritten.
    pub trailer: String,
}

impl Assign {
    /// What to compare: the literal value, or the raw text when it has expansions.
    pub fn meaning(&self) -> String {
        self.value.clone().unwrap_or_else(|| self.raw.clone())
    }
    pub fn render(&self) -> String {
        format!("{}{}={}{}", self.prefix, self.key, self.raw, self.trailer)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DefaultsFile {
    pub lines: Vec<Line>,
    /// The file ended with a newline (kept on write).
    pub trailing_newline: bool,
}

/// A valid shell variable name (what `sh` accepts on the left of an assignment).
pub fn is_key(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Parse the value part (everything after `=`). Returns (raw, literal value or None, trailer).
fn parse_value(s: &str) -> Result<(String, Option<String>, String), String> {
    let bytes: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut val = String::new();
    let mut literal = true;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            ' ' | '\t' => break,
            '\'' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != '\'' {
                    val.push(bytes[i]);
                    i += 1;
                }
                if i >= bytes.len() {
                    return Err(format!(
                        "unterminated single quote starting at column {}",
                        start + 1
                    ));
                }
                i += 1;
            }
            '"' => {
                let start = i;
                i += 1;
                loop {
                    if i >= bytes.len() {
                        return Err(format!(
                            "unterminated double quote starting at column {}",
                            start + 1
                        ));
                    }
                    match bytes[i] {
                        '"' => break,
                        '\\' if i + 1 < bytes.len()
                            && matches!(bytes[i + 1], '"' | '\\' | '$' | '`') =>
                        {
                            val.push(bytes[i + 1]);
                            i += 2;
                        }
                        '`' => return Err("command substitution (backquote) is not allowed".into()),
                        '$' => {
                            if bytes.get(i + 1) == Some(&'(') {
                                return Err("command substitution $(...) is not allowed".into());
                            }
                            literal = false;
                            val.push('$');
                            i += 1;
                        }
                        ch => {
                            val.push(ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
            }
            '\\' => {
                if i + 1 >= bytes.len() {
                    return Err("line continuation (trailing backslash) is not supported".into());
                }
                val.push(bytes[i + 1]);
                i += 2;
            }
            '$' => {
                if bytes.get(i + 1) == Some(&'(') {
                    return Err("command substitution $(...) is not allowed".into());
                }
                literal = false;
                val.push('$');
                i += 1;
            }
            '`' => return Err("command substitution (backquote) is not allowed".into()),
            ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                return Err(format!(
                    "'{c}' would make the shell run a command; quote the value"
                ))
            }
            ch => {
                val.push(ch);
                i += 1;
            }
        }
    }
    let raw: String = bytes[..i].iter().collect();
    let trailer: String = bytes[i..].iter().collect();
    let rest = trailer.trim_start_matches(BLANK);
    if !rest.is_empty() && !rest.starts_with('#') {
        return Err(format!(
            "unquoted space in value: the shell would run {} as a command; quote the value",
            shown(rest.split(BLANK).next().unwrap_or(rest))
        ));
    }
    Ok((raw, literal.then_some(val), trailer))
}

/// What `sh` skips between words.
const BLANK: [char; 2] = [' ', '\t'];

fn commented_key(text: &str) -> Option<String> {
    let body = text
        .trim_start_matches(BLANK)
        .strip_prefix('#')?
        .trim_start_matches(BLANK);
    let body = body.strip_prefix("export ").unwrap_or(body);
    let (k, _) = body.split_once('=')?;
    is_key(k).then(|| k.to_string())
}

/// Parse a whole file. Errors name the 1-based line.
pub fn parse(text: &str) -> Result<DefaultsFile, (usize, String)> {
    if text.starts_with('\u{feff}') {
        return Err((
            1,
            "the file starts with a UTF-8 byte order mark (BOM, bytes EF BB BF), which sh reads as part of the first line; save the file without a byte order mark".into(),
        ));
    }
    let mut lines = vec![];
    // Lines end at \n only: `str::lines` would also eat the \r of a \r\n, which sh keeps.
    let body = text.strip_suffix('\n').unwrap_or(text);
    for (n, line) in body.split('\n').enumerate() {
        if text.is_empty() {
            break;
        }
        if line.ends_with('\r') {
            return Err((
                n + 1,
                "the line ends with a carriage return (CRLF line endings): sh keeps the \\r, so every value would end in it and blank lines would run as a command; convert the file to LF line endings (e.g. with dos2unix)".into(),
            ));
        }
        let t = line.trim_start_matches(BLANK);
        if t.is_empty() {
            lines.push(Line::Blank(line.to_string()));
        } else if t.starts_with('#') {
            lines.push(Line::Comment {
                text: line.to_string(),
                commented_key: commented_key(t),
            });
        } else {
            let (export, body) = match t.strip_prefix("export") {
                Some(rest) if rest.starts_with(BLANK) => (true, rest.trim_start_matches(BLANK)),
                _ => (false, t),
            };
            let prefix = line[..line.len() - body.len()].to_string();
            let Some((key, value)) = body.split_once('=') else {
                return Err((n + 1, format!("not a KEY=VALUE assignment: {}", clip(t))));
            };
            if !is_key(key) {
                return Err((
                    n + 1,
                    format!("{} is not a valid shell variable name", shown(key)),
                ));
            }
            let (raw, value, trailer) = parse_value(value).map_err(|e| (n + 1, e))?;
            lines.push(Line::Assign(Assign {
                key: key.to_string(),
                raw,
                value,
                export,
                prefix,
                trailer,
            }));
        }
    }
    Ok(DefaultsFile {
        lines,
        trailing_newline: text.is_empty() || text.ends_with('\n'),
    })
}

impl DefaultsFile {
    /// The effective assignments: the last one of each key wins, as in the shell.
    pub fn effective(&self) -> BTreeMap<String, &Assign> {
        let mut m = BTreeMap::new();
        for l in &self.lines {
            if let Line::Assign(a) = l {
                m.insert(a.key.clone(), a);
            }
        }
        m
    }

    /// Keys in the order they first appear.
    pub fn keys_in_order(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = vec![];
        for l in &self.lines {
            if let Line::Assign(a) = l {
                if seen.insert(a.key.clone()) {
                    out.push(a.key.clone());
                }
            }
        }
        out
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            match l {
                Line::Blank(t) => s.push_str(t),
                Line::Comment { text, .. } => s.push_str(text),
                Line::Assign(a) => s.push_str(&a.render()),
            }
        }
        if self.trailing_newline && !self.lines.is_empty() {
            s.push('\n');
        }
        s
    }

    /// Index of the last active assignment of `key`.
    pub fn last_assign(&self, key: &str) -> Option<usize> {
        self.lines
            .iter()
            .rposition(|l| matches!(l, Line::Assign(a) if a.key == key))
    }

    /// Index of the last commented-out default of `key` (`#KEY=...`).
    pub fn commented_default(&self, key: &str) -> Option<usize> {
        self.lines
            .iter()
            .rposition(|l| matches!(l, Line::Comment { commented_key: Some(k), .. } if k == key))
    }
}

/// A key or value as messages show it: single-quoted, invisible characters escaped (a stray
/// `\u{feff}` or `\r` must be visible), and clipped (input is never echoed at length).
pub fn shown(s: &str) -> String {
    let escaped: String = clip(s)
        .chars()
        .map(|c| {
            let invisible = matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}');
            if c.is_control() || invisible || (c.is_whitespace() && c != ' ') {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    format!("'{escaped}'")
}

/// Quote a literal value for the shell: bare when safe, otherwise single-quoted.
pub fn quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:,+-@%=".contains(&b));
    if safe {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_forms_parse_to_their_shell_values() {
        let f = parse(
            "# comment\n\nA=1\nexport B=\"two words\" # trailing\nC='x=y # not a comment'\nD=a\\ b\nE=\nF=#c\n  G=\"q\\\"uote\"\nH=$LKROOT/bin\n#LCMHBEATTIME=5\n",
        )
        .unwrap();
        let e = f.effective();
        assert_eq!(e["A"].value.as_deref(), Some("1"));
        assert_eq!(e["B"].value.as_deref(), Some("two words"));
        assert!(e["B"].export);
        assert_eq!(e["B"].trailer, " # trailing");
        assert_eq!(e["C"].value.as_deref(), Some("x=y # not a comment"));
        assert_eq!(e["D"].value.as_deref(), Some("a b"));
        assert_eq!(e["E"].value.as_deref(), Some(""));
        assert_eq!(e["F"].value.as_deref(), Some("#c")); // `#` starts a comment only at a word's start
        assert_eq!(e["G"].value.as_deref(), Some("q\"uote"));
        assert_eq!(e["H"].value, None);
        assert_eq!(e["H"].meaning(), "$LKROOT/bin");
        assert_eq!(f.commented_default("LCMHBEATTIME"), Some(10));
    }

    #[test]
    fn render_round_trips_byte_for_byte() {
        let text = "# c\nA=1\n\nexport  B='x y'  # t\n  C=\"z\"\n#D=4";
        assert_eq!(parse(text).unwrap().render(), text);
        let text2 = "A=1\n";
        assert_eq!(parse(text2).unwrap().render(), text2);
    }

    #[test]
    fn duplicate_keys_last_one_wins() {
        let f = parse("A=1\nA=2\n").unwrap();
        assert_eq!(f.effective()["A"].value.as_deref(), Some("2"));
        assert_eq!(f.last_assign("A"), Some(1));
    }

    #[test]
    fn lines_the_shell_would_execute_are_rejected_with_line_number() {
        for (text, line, needle) in [
            ("A=1\nB=a b\n", 2, "unquoted space"),
            ("A=$(id)\n", 1, "command substitution"),
            ("A=`id`\n", 1, "backquote"),
            ("A=\"open\n", 1, "unterminated double quote"),
            ("A='open\n", 1, "unterminated single quote"),
            ("just words\n", 1, "not a KEY=VALUE"),
            ("1A=2\n", 1, "not a valid shell variable"),
            ("A=1;reboot\n", 1, "would make the shell run"),
        ] {
            let (n, msg) = parse(text).unwrap_err();
            assert_eq!(n, line, "{text}");
            assert!(msg.contains(needle), "{text}: {msg}");
        }
    }

    /// Defect 12 (issue 22): `str::lines` ate the \r of CRLF lines, so a CRLF file parsed as if
    /// LF and was rewritten to LF. Lines now end at \n only, as in sh; a CRLF line is refused.
    #[test]
    fn crlf_defaults_file_is_refused_and_a_lone_cr_is_a_character_as_in_sh() {
        let (n, msg) = parse("# c\nA=1\r\nB=2\r\n").unwrap_err();
        assert_eq!(n, 2);
        assert!(msg.contains("carriage return (CRLF line endings)"), "{msg}");
        assert_eq!(parse("A=1\r").unwrap_err().0, 1);
        let f = parse("A=a\rb\nB='x\ry'\n").unwrap();
        assert_eq!(f.effective()["A"].value.as_deref(), Some("a\rb"));
        assert_eq!(f.effective()["B"].value.as_deref(), Some("x\ry"));
        // Only space and tab are blanks to sh: a form feed before a key is not indentation.
        assert!(parse("\u{c}A=1\n").is_err());
        assert!(parse("A=1 \u{b}x\n").is_err());
    }

    /// Defect 13 (issue 22): a UTF-8 BOM was refused as "'\u{feff}A' is not a valid shell
    /// variable name", naming a variable instead of the byte order mark.
    #[test]
    fn utf8_bom_is_refused_naming_the_byte_order_mark() {
        let (n, msg) = parse("\u{feff}A=1\n").unwrap_err();
        assert_eq!(n, 1);
        assert!(msg.contains("byte order mark"), "{msg}");
        assert!(!msg.contains("variable"), "{msg}");
        // Elsewhere, invisible characters in a key are shown escaped.
        let (_, msg) = parse("A=1\nB\u{200b}=2\n").unwrap_err();
        assert!(
            msg.contains("'B\\u{200b}' is not a valid shell variable name"),
            "{msg}"
        );
    }

    #[test]
    fn quote_is_bare_only_when_safe() {
        assert_eq!(quote("fastkill"), "fastkill");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME"), "'$HOME'");
    }
}

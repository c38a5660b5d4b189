//! Commands run on another node through `lcdremexec`.
//!
//! `lcdremexec` joins its argument words with blanks and the far side parses the line again with
//! a shell (field evidence: LCD man page; the vendor's scripts pass whole shell snippets as one
//! argument). So a tag or path holding a blank, `;`, `$( )`, a quote or a glob would change the
//! remote command. Every word we send is therefore POSIX single-quoted ([`sh_quote`]), which a
//! POSIX shell reads back as exactly the original bytes, multi-byte characters included.
//!
//! Refused (cannot be quoted safely): a NUL (cannot be an argument at all), and a newline or
//! carriage return. Inside single quotes a POSIX shell would keep a newline literally, but how
//! the real lcdremexec carries the joined line to the far side is not public (UNCONFIRMED): a
//! transport that is line-based would cut the command there. The runtime already refuses those
//! characters in every parameter; this is the last line of defence for values read from a node.
//!
//! `-e` is always passed: the remote stderr stays on stderr instead of being merged into stdout,
//! which we parse (a warning the remote command prints must not become a status line).

use crate::runtime::{Cmd, Failure};
use std::path::Path;

/// `word` quoted for a POSIX shell: `'...'`, each `'` written as `'\''`. Err names the reason
/// when the word cannot be sent safely (NUL, newline, carriage return).
pub fn sh_quote(word: &str) -> Result<String, String> {
    if let Some(c) = word.chars().find(|c| matches!(c, '\0' | '\n' | '\r')) {
        return Err(format!(
            "{word:?} holds {} and cannot be passed safely through lcdremexec (the far side parses it again with a shell)",
            match c {
                '\0' => "a NUL",
                '\n' => "a newline",
                _ => "a carriage return",
            }
        ));
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for ch in word.chars() {
        if ch == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    Ok(out)
}

/// `<lkroot>/bin/lcdremexec -e -d NODE -- <words, each quoted>`. The node name is an argument of
/// our local lcdremexec (not re-parsed) and is passed as is; `param` names the parameter a refused
/// word came from, for the failure message.
pub fn lcdremexec<S: AsRef<str>>(
    lkroot: &Path,
    node: &str,
    words: &[S],
    param: &str,
) -> Result<Cmd, Failure> {
    let mut cmd = Cmd::lk(lkroot, "lcdremexec").args(["-e", "-d", node, "--"]);
    for w in words {
        let q =
            sh_quote(w.as_ref()).map_err(|why| Failure::param(param, format!("{param}: {why}")))?;
        cmd = cmd.arg(q);
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Runner;

    /// What `sh -c` makes of the quoted words: exactly the original words, nothing run.
    #[test]
    fn quoted_words_come_back_literally_through_sh() {
        let dir = std::env::temp_dir().join(format!("lkops-quote-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let canary = dir.join("PWNED");
        let hostile = [
            "a b".to_string(),
            format!("$(touch {})", canary.display()),
            format!("x; touch {} #", canary.display()),
            format!("`touch {}`|&<>*?", canary.display()),
            "it's \"q\" \\ $HOME".to_string(),
            "/データ/リソース".to_string(),
            String::new(),
        ];
        let line: Vec<String> = hostile.iter().map(|w| sh_quote(w).unwrap()).collect();
        let script = format!("printf '%s\\n' {}", line.join(" "));
        let out = Runner::default()
            .run(&Cmd::new("sh").arg("-c").arg(&script))
            .unwrap();
        assert_eq!(out.rc, 0, "{}", out.stderr);
        let want: String = hostile.iter().map(|w| format!("{w}\n")).collect();
        assert_eq!(out.stdout, want);
        assert!(!canary.exists(), "a shell ran part of a quoted word");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nul_newline_and_cr_are_refused_naming_the_parameter() {
        for bad in ["a\0b", "a\nb", "a\rb"] {
            assert!(sh_quote(bad).is_err());
            let f = lcdremexec(Path::new("/opt/LifeKeeper"), "n", &[bad], "tags").unwrap_err();
            assert!(f.msg.contains("tags"), "{}", f.msg);
        }
        let c = lcdremexec(Path::new("/opt/LifeKeeper"), "node-b", &["x y"], "tags").unwrap();
        assert_eq!(
            c.display(),
            [
                "/opt/LifeKeeper/bin/lcdremexec",
                "-e",
                "-d",
                "node-b",
                "--",
                "'x y'"
            ]
        );
    }
}

//! The one place where lksim turns outside data into paths and shell scripts (issue 28 S2, S3).
//!
//! A capture (and what a test or an administrator types) is data: a node name, a resource's app
//! or type, a license file name becomes a path component only when it passes [`is_path_name`]
//! (the rule lkops applies to node names, `runtime::fs::is_path_name`), and every value written
//! into a generated shell script is one single-quoted word ([`sh_quote`], [`exec_script`]).
//! Files of a capture are read without following symbolic links ([`read_no_follow`]).

use nix::errno::Errno;
use nix::fcntl::OFlag;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// A name that may become one component of a path: letters, digits, `-`, `.` and `_`, at most
/// 253 bytes, not starting with `-` or `.` (so never empty, `.`, `..`, a `/`, an absolute path,
/// a quote, a NUL or a newline).
pub fn is_path_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

/// `Err` naming `what` when `name` cannot be a path component ([`is_path_name`]).
pub fn path_name<'a>(what: &str, name: &'a str) -> Result<&'a str, String> {
    if is_path_name(name) {
        Ok(name)
    } else {
        Err(format!(
            "{what} {name:?} cannot be part of a path (letters, digits, '-', '.', '_'; not starting with '-' or '.')"
        ))
    }
}

/// A relative path that stays under the directory it is joined to: only plain components
/// (no `..`, `.`, root or empty one), none holding a control character. Looser than
/// [`is_path_name`] per component, for file names found on a node (site scripts may hold blanks).
pub fn relative_under(rel: &str) -> Option<PathBuf> {
    if rel.is_empty() || rel.chars().any(char::is_control) {
        return None;
    }
    let p = Path::new(rel);
    let plain = p.components().all(|c| matches!(c, Component::Normal(_)))
        && !rel
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    plain.then(|| p.to_path_buf())
}

/// `word` as one POSIX shell word: `'...'`, each `'` written `'\''`. A NUL, newline or carriage
/// return is refused (a line-based reader of the script would cut the word there).
pub fn sh_quote(word: &str) -> io::Result<String> {
    if word.contains(['\0', '\n', '\r']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{word:?} holds a NUL, newline or carriage return: not written into a script"),
        ));
    }
    Ok(format!("'{}'", word.replace('\'', "'\\''")))
}

/// A stand-in script: `#!/bin/sh`, one comment line, `exec ARGV... "$@"`, every word of `argv`
/// quoted by [`sh_quote`]; the comment must be one line.
pub fn exec_script(comment: &str, argv: &[&str]) -> io::Result<String> {
    if comment.contains(['\0', '\n', '\r']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{comment:?}: a script comment must be one line"),
        ));
    }
    let words = argv
        .iter()
        .map(|w| sh_quote(w))
        .collect::<io::Result<Vec<_>>>()?;
    Ok(format!(
        "#!/bin/sh\n# {comment}\nexec {} \"$@\"\n",
        words.join(" ")
    ))
}

/// The text of the regular file `p`, never through a symbolic link (O_NOFOLLOW; a FIFO or a
/// device is refused too, opened O_NONBLOCK so that a planted FIFO cannot hang the read). `Ok(None)` when it does not exist.
pub fn read_no_follow(p: &Path) -> io::Result<Option<String>> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(p);
    let mut f = match f {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(Errno::ELOOP as i32) => {
            return Err(io::Error::other(format!(
                "{} is a symbolic link: a capture's links are never followed",
                p.display()
            )))
        }
        Err(e) => return Err(e),
    };
    if !f.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            p.display()
        )));
    }
    let mut b = vec![];
    f.read_to_end(&mut b)?;
    Ok(Some(String::from_utf8_lossy(&b).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_their_directory_are_refused() {
        for ok in ["node-a", "n1.example.com", "gen", "netraid", "a_b"] {
            assert!(is_path_name(ok), "{ok}");
        }
        for bad in [
            "", ".", "..", "../x", "/etc", "a/b", "-x", "a'b", "a\nb", "$(id)",
        ] {
            assert!(!is_path_name(bad), "{bad:?}");
        }
        assert_eq!(
            relative_under("bin/site script"),
            Some("bin/site script".into())
        );
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\nb",
        ] {
            assert_eq!(relative_under(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn quoted_words_come_back_literally_through_sh() {
        let hostile = "x' ; touch /tmp/lksim-never-$(id -u) ; '";
        let s = exec_script("test", &["printf", "%s", hostile]).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(s)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), hostile);
        assert!(sh_quote("a\nb").is_err());
        assert!(exec_script("two\nlines", &["true"]).is_err());
    }
}

//! LifeKeeper's `setup` (the installer on the media): its non-interactive configuration
//! (`LKCONF_*` shell assignments, UNCONFIRMED key names), probing its usage (`setup --help`),
//! running it (`setup_args`, default `-f CONF -q y`, UNCONFIRMED option letters), its log, and
//! judging success by the post-condition (the target version installed), the text second.

pub mod config;
pub mod menu;

pub use config::{conf_name, conf_path, kits_in, Conf};

use crate::lifekeeper::version::Version;
use crate::runtime::{time, Cmd, CmdOutput, Failure, Runner};
use std::path::Path;
use std::time::Duration;

crate::choice_enum! {
    /// How lk_upgrade runs setup (`setup_mode`).
    pub enum Mode {
        /// The vendor's documented way: the menu, driven on a pseudo-terminal (`menu.rs`).
        Menu = "menu",
        /// The guessed non-interactive options (`setup_args`, UNCONFIRMED).
        Args = "args",
    }
}

/// The default `setup_args`: today's guess at the non-interactive option letters (UNCONFIRMED:
/// nothing public shows `-f` or `-q`).
pub const DEFAULT_ARGS: [&str; 4] = ["-f", "{config}", "-q", "y"];

/// The default `setup_success_regex`: real runs end `Setup complete.` [AZ], the vendor guide
/// spells it `Setup Complete.` [SEED]; matched case-insensitively after stripping ANSI escapes.
pub const DEFAULT_SUCCESS_REGEX: &str = r"(?i)setup complete\.";

/// `setup_args` with `{config}` replaced by the configuration file.
pub fn expand_args(args: &[String], conf: &Path) -> Vec<String> {
    let c = conf.display().to_string();
    args.iter().map(|a| a.replace("{config}", &c)).collect()
}

/// `<media_dir>/setup ARGS` run from the media's root (`cd <media>; ./setup`, as the vendor
/// documents): stdin is /dev/null (the runner's default), no terminal, and the timeout kills
/// setup's whole process group (the runner starts it in its own group).
pub fn command(media_dir: &Path, args: &[String], conf: &Path, t: Duration) -> Cmd {
    Cmd::new(media_dir.join("setup"))
        .args(expand_args(args, conf))
        .cwd(media_dir)
        .timeout(t)
}

/// Run setup; the output, whatever it says.
pub fn run(
    runner: &Runner,
    media_dir: &Path,
    args: &[String],
    conf: &Path,
    t: Duration,
) -> Result<CmdOutput, Failure> {
    Ok(runner.run(&command(media_dir, args, conf, t))?)
}

/// The options `setup_args` passes (its words starting with `-`), which `setup --help` must name.
pub fn options(args: &[String]) -> Vec<&str> {
    args.iter()
        .map(String::as_str)
        .filter(|a| a.starts_with('-') && a.len() > 1)
        .collect()
}

/// Probe `<media_root>/setup --help` from the media's root (stdin /dev/null, short timeout): the
/// usage text, or why it does not fit `setup_args` (an option it does not name). Read-only, so
/// check mode runs it too.
pub fn probe_usage(runner: &Runner, media_root: &Path, args: &[String]) -> Result<String, String> {
    let setup = media_root.join("setup");
    let out = runner
        .run(
            &Cmd::new(&setup)
                .arg("--help")
                .cwd(media_root)
                .timeout(Duration::from_secs(30)),
        )
        .map_err(|e| format!("cannot run {} --help: {}", setup.display(), e.msg))?;
    let usage = strip_ansi(&format!("{}{}", out.stdout, out.stderr));
    if out.timed_out {
        return Err(format!(
            "{} --help did not finish within 30 s (it may wait for a terminal)",
            setup.display()
        ));
    }
    let missing: Vec<&str> = options(args)
        .into_iter()
        .filter(|o| !names_option(&usage, o))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "setup_args passes {} but `{} --help` does not name {} (usage text: {:?}); set setup_args to the options this setup documents",
            options(args).join(" "),
            setup.display(),
            missing.join(", "),
            usage.trim()
        ));
    }
    Ok(usage)
}

/// Whether a usage text names option `o` as a word (`-f` in `[-f CONFFILE`, not in `-foo`).
fn names_option(usage: &str, o: &str) -> bool {
    usage.match_indices(o).any(|(i, _)| {
        let before = usage[..i].chars().next_back();
        let after = usage[i + o.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

/// Text without ANSI escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ESC \`, and
/// two-byte `ESC x`), so the success text is matched however setup colours it.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        // Shift out / shift in (curses' line-drawing switch) are no text.
        if c == '\u{e}' || c == '\u{f}' {
            continue;
        }
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('[') => {
                for c in it.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // Character set designations (`ESC ( B`, `ESC ) 0`): three bytes.
            Some('(' | ')' | '*' | '+') => {
                it.next();
            }
            Some(']') => {
                while let Some(c) = it.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && it.peek() == Some(&'\\') {
                        it.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A compiled `setup_success_regex`; `Err` names the parameter.
pub fn success_regex(pattern: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(pattern).map_err(|e| format!("setup_success_regex: {e}"))
}

/// How a setup run went, judged by its post-condition: rc 0 and `rpm -q steeleye-lk` reports
/// the target. The text is a secondary signal: without it the run still succeeded (`Ok(Some(
/// warning))`); the text with the old version still installed is a failure.
pub fn judge(
    out: &CmdOutput,
    installed_after: Option<Version>,
    target: Version,
    success: &regex_lite::Regex,
) -> Result<Option<String>, String> {
    let text = strip_ansi(&out.stdout);
    let said = success.is_match(&text);
    let installed = installed_after
        .map(|v| v.to_string())
        .unwrap_or_else(|| "none".into());
    if !out.ok() {
        return Err(out.failure("setup").msg);
    }
    if installed_after != Some(target) {
        return Err(format!(
            "setup exited 0{} but rpm -q steeleye-lk reports {installed}, not {target}",
            if said {
                " and printed its success text"
            } else {
                ""
            }
        ));
    }
    if said {
        Ok(None)
    } else {
        Ok(Some(format!(
            "setup exited 0 and {target} is installed, but its output does not match setup_success_regex ({}); judged a success by the installed version",
            success.as_str()
        )))
    }
}

/// The text of a setup log: the command, when and by whom, rc, stdout, stderr.
pub fn log_text(out: &CmdOutput) -> String {
    format!(
        "# {}\n# started by lk_upgrade at {}\n# rc={}{}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.cmd.join(" "),
        time::iso8601(time::now_secs()),
        out.rc,
        if out.timed_out { " (timed out)" } else { "" },
        out.stdout,
        out.stderr
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(rc: i32, stdout: &str) -> CmdOutput {
        CmdOutput {
            cmd: vec!["setup".into()],
            rc,
            stdout: stdout.into(),
            stderr: String::new(),
            timed_out: false,
            truncated: false,
        }
    }

    const REAL: &str = include_str!("../../../tests/fixtures/transcripts/setup-console.ansi");

    #[test]
    fn real_transcript_with_colours_and_lower_case_complete_succeeds() {
        let re = success_regex(DEFAULT_SUCCESS_REGEX).unwrap();
        let t = Version::new(9, 6, 1);
        assert!(strip_ansi(REAL).trim_end().ends_with("Setup complete."));
        assert_eq!(judge(&out(0, REAL), Some(t), t, &re), Ok(None));
        // The vendor guide's spelling.
        assert_eq!(
            judge(&out(0, "...\nSetup Complete.\n"), Some(t), t, &re),
            Ok(None)
        );
    }

    #[test]
    fn exit_0_and_target_installed_without_the_text_succeeds_with_a_warning() {
        let re = success_regex(DEFAULT_SUCCESS_REGEX).unwrap();
        let t = Version::new(9, 6, 1);
        let w = judge(&out(0, "Installing...\n"), Some(t), t, &re).unwrap();
        assert!(w.unwrap().contains("setup_success_regex"));
    }

    #[test]
    fn the_text_with_the_old_version_still_installed_fails() {
        let re = success_regex(DEFAULT_SUCCESS_REGEX).unwrap();
        let t = Version::new(9, 6, 1);
        let e = judge(&out(0, REAL), Some(Version::new(9, 4, 0)), t, &re).unwrap_err();
        assert!(e.contains("reports 9.4.0, not 9.6.1"), "{e}");
        assert!(judge(&out(1, REAL), Some(t), t, &re).is_err());
    }

    #[test]
    fn ansi_escapes_are_stripped_and_options_matched_as_words() {
        assert_eq!(
            strip_ansi("\u{1b}[1;32mok\u{1b}[0m \u{1b}]0;t\u{7}x"),
            "ok x"
        );
        assert!(names_option("Usage: setup [-f CONFFILE -q y]", "-f"));
        assert!(!names_option("Usage: setup [-foo]", "-f"));
        let args: Vec<String> = DEFAULT_ARGS.iter().map(|s| s.to_string()).collect();
        assert_eq!(options(&args), ["-f", "-q"]);
        assert_eq!(
            expand_args(&args, Path::new("/w/c.conf")),
            ["-f", "/w/c.conf", "-q", "y"]
        );
    }
}

//! The one command runner every module uses.
//!
//! Argument vectors only — never `sh -c` with interpolated input — so a tag, path or version can
//! never be read as shell syntax. A command whose output we parse runs with LANG=C/LC_ALL=C (the
//! default: the messages and columns we read are the C locale's); one that runs the site's own
//! code and whose output we only quote (`perform_action`, which runs the applications' restore
//! and remove scripts) keeps the caller's locale ([`Cmd::site_locale`]). Every command runs in
//! its own process group (a timeout kills the whole group, not just the first process), with an
//! optional stdin (rmlk's prompt) and a timeout.
//!
//! The timeout bounds the whole call, output included: of each stream only the first
//! [`KEEP_HEAD`] and the last [`KEEP_TAIL`] bytes are kept (a command that prints for ever cannot
//! exhaust memory, and `truncated` says so), and the pipes are read under the same deadline, so a
//! grandchild that inherited stdout (a daemon started by setup or lkstart) cannot hold the call
//! open after the command itself is gone.

use super::result::{clip_value, Failure};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::json;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes kept from the start of each of stdout and stderr (what parsers read).
pub const KEEP_HEAD: usize = 8 << 20;
/// Bytes kept from the end of each stream (what failure messages quote).
pub const KEEP_TAIL: usize = 1 << 20;
/// The most of a command's output a failure message quotes ([`CmdOutput::tail`]).
pub const TAIL_MAX: usize = 4096;
/// How long the pipes may stay open once the command is gone (exited, or killed with its
/// process group): what it wrote is already in the pipe and is read at once; a process still
/// holding the pipe after that is a grandchild that left the group or a daemon, and is not
/// waited for.
pub const PIPE_GRACE: Duration = Duration::from_millis(500);

/// A command to run: program and arguments, each a separate element.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub argv: Vec<OsString>,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
    pub env: Vec<(OsString, OsString)>,
    /// Run with LANG=C/LC_ALL=C (true, the default) or with the caller's locale.
    pub c_locale: bool,
    /// The working directory (`None`: the caller's). The vendor's setup runs from the root of
    /// its media (`cd <media>; ./setup`), next to the packages it installs.
    pub cwd: Option<PathBuf>,
    /// Its output goes to files, not pipes ([`Cmd::outlives_caller`]).
    pub outlives_caller: bool,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            argv: vec![program.as_ref().to_os_string()],
            stdin: None,
            timeout: None,
            env: vec![],
            c_locale: true,
            cwd: None,
            outlives_caller: false,
        }
    }
    /// `<lkroot>/bin/<name>`: a LifeKeeper command.
    pub fn lk(lkroot: &Path, name: &str) -> Cmd {
        Cmd::new(lkroot.join("bin").join(name))
    }
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.argv.push(a.as_ref().to_os_string());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.argv
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(input.into());
        self
    }
    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = Some(t);
        self
    }
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.env
            .push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }
    /// Run in `dir` (see [`Cmd::cwd`]).
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }
    /// Keep the caller's locale (no LANG=C/LC_ALL=C): for a command that runs the site's own
    /// scripts (an application's restore script may depend on its locale) and whose output we
    /// do not parse, only quote.
    pub fn site_locale(mut self) -> Cmd {
        self.c_locale = false;
        self
    }
    /// A command that changes the cluster and must not stop half-way when the module dies with
    /// the controller (an ssh session's end takes the module; issue 28): its stdout and stderr
    /// are unlinked temporary files instead of pipes to the module, so its next write after the
    /// module is gone cannot fail (EPIPE, SIGPIPE) and end it between two halves of its work
    /// (perform_action took a hierarchy out of service on the peer and died before bringing it up
    /// here: served by nobody). Read when it has ended; the timeout still applies.
    pub fn outlives_caller(mut self) -> Cmd {
        self.outlives_caller = true;
        self
    }
    /// The command as a list of strings, for results and messages.
    pub fn display(&self) -> Vec<String> {
        self.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct CmdOutput {
    pub cmd: Vec<String>,
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    /// Some output was not kept: stdout or stderr was longer than [`KEEP_HEAD`] + [`KEEP_TAIL`]
    /// (the middle is replaced by one line saying how much was left out), or the pipe was still
    /// open when the call ended.
    pub truncated: bool,
}

impl CmdOutput {
    pub fn ok(&self) -> bool {
        self.rc == 0 && !self.timed_out
    }
    /// The last lines of stderr (or stdout when stderr is empty), for failure messages: at
    /// most 10 lines and [`TAIL_MAX`] bytes.
    pub fn tail(&self) -> String {
        let src = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let src = src.trim_end();
        let mut start = src.len().saturating_sub(TAIL_MAX);
        while !src.is_char_boundary(start) {
            start += 1;
        }
        let lines: Vec<&str> = src[start..].lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
    /// A failure that carries cmd, rc and the output tail.
    pub fn failure(&self, what: &str) -> Failure {
        let why = if self.timed_out {
            "timed out".to_string()
        } else {
            format!("exited with rc={}", self.rc)
        };
        let tail = self.tail();
        let mut msg = format!("{what}: `{}` {why}", self.cmd.join(" "));
        if !tail.is_empty() {
            msg.push_str(&format!(": {}", tail.lines().last().unwrap_or_default()));
        }
        let f = Failure::new(msg)
            .with("cmd", clip_value(&json!(self.cmd)))
            .with("rc", self.rc)
            .with("stderr_tail", tail);
        // A caller (the playbooks' after-upgrade check) must tell a hung command from one that
        // failed, without reading the message (issue 28 O5: a timeout is not retried).
        if self.timed_out {
            f.with("timed_out", true)
        } else {
            f
        }
    }
}

/// Why a command could not be started at all.
#[derive(Debug, Clone)]
pub struct SpawnError {
    pub cmd: Vec<String>,
    pub not_found: bool,
    pub msg: String,
}

impl From<SpawnError> for Failure {
    fn from(e: SpawnError) -> Failure {
        Failure::new(e.msg)
            .with("cmd", clip_value(&json!(e.cmd)))
            .with("rc", 127)
    }
}

/// Runs commands. `default_timeout` applies when a `Cmd` sets none.
#[derive(Debug, Clone)]
pub struct Runner {
    pub default_timeout: Duration,
}

impl Default for Runner {
    fn default() -> Self {
        Runner {
            default_timeout: Duration::from_secs(600),
        }
    }
}

impl Runner {
    /// Run and return the output whatever the exit code; Err only when it cannot start.
    pub fn run(&self, cmd: &Cmd) -> Result<CmdOutput, SpawnError> {
        let shown = cmd.display();
        let mut c = Command::new(&cmd.argv[0]);
        if cmd.c_locale {
            c.env("LANG", "C").env("LC_ALL", "C");
        }
        c.args(&cmd.argv[1..])
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .process_group(0);
        // Pipes, or (outlives_caller) files the command writes and we read once it has ended.
        let files = if cmd.outlives_caller {
            let no_file = |e: std::io::Error| SpawnError {
                not_found: false,
                msg: format!(
                    "cannot run {}: a temporary file for its output: {e}",
                    shown[0]
                ),
                cmd: shown.clone(),
            };
            let (out_w, out_r) = unlinked_pair().map_err(no_file)?;
            let (err_w, err_r) = unlinked_pair().map_err(no_file)?;
            c.stdout(Stdio::from(out_w)).stderr(Stdio::from(err_w));
            Some((out_r, err_r))
        } else {
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
            None
        };
        for (k, v) in &cmd.env {
            c.env(k, v);
        }
        if let Some(d) = &cmd.cwd {
            c.current_dir(d);
        }
        let mut child = c.spawn().map_err(|e| SpawnError {
            not_found: e.kind() == std::io::ErrorKind::NotFound,
            msg: if e.kind() == std::io::ErrorKind::NotFound {
                format!("command not found: {}", shown[0])
            } else {
                format!("cannot run {}: {e}", shown[0])
            },
            cmd: shown.clone(),
        })?;
        if let (Some(input), Some(mut pipe)) = (cmd.stdin.clone(), child.stdin.take()) {
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        let (done_tx, done_rx) = mpsc::channel();
        let pipes = match files {
            None => Some((
                Capped::reader(child.stdout.take().expect("piped"), done_tx.clone()),
                Capped::reader(child.stderr.take().expect("piped"), done_tx),
            )),
            Some(_) => None,
        };
        let timeout = cmd.timeout.unwrap_or(self.default_timeout);
        let start = Instant::now();
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) if start.elapsed() >= timeout => {
                    timed_out = true;
                    // The child's process group, which we created (process_group(0)): its
                    // grandchildren die with it.
                    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                    break child.wait().ok();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break None,
            }
        };
        let mut open = 0;
        let (out_buf, err_buf) = match (pipes, files) {
            (Some((out_buf, err_buf)), _) => {
                // A grandchild that kept the pipes open must not block us past the timeout: once
                // the command is gone, the readers get PIPE_GRACE to see end-of-file, then are
                // left behind (they end with the process) and what they kept so far is the output.
                let grace_end = Instant::now() + PIPE_GRACE;
                open = 2;
                while open > 0 {
                    let left = grace_end.saturating_duration_since(Instant::now());
                    match done_rx.recv_timeout(left) {
                        Ok(()) => open -= 1,
                        Err(_) => break,
                    }
                }
                (out_buf, err_buf)
            }
            // The files hold what was written until now (a grandchild still writing is not
            // waited for): read them to their present end.
            (None, Some((out_r, err_r))) => (Capped::read_all(out_r), Capped::read_all(err_r)),
            (None, None) => unreachable!("pipes or files"),
        };
        let (stdout, out_cut) = Capped::take(&out_buf);
        let (stderr, err_cut) = Capped::take(&err_buf);
        use std::os::unix::process::ExitStatusExt;
        let rc = status
            .map(|s| s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)))
            .unwrap_or(-1);
        Ok(CmdOutput {
            cmd: shown,
            rc,
            stdout,
            stderr,
            timed_out,
            truncated: out_cut || err_cut || open > 0,
        })
    }

    /// Run and require success; a failure carries cmd, rc and the output tail.
    pub fn run_ok(&self, cmd: &Cmd, what: &str) -> Result<CmdOutput, Failure> {
        let out = self.run(cmd)?;
        if out.ok() {
            Ok(out)
        } else {
            Err(out.failure(what))
        }
    }
}

/// A new temporary file (mode 0600, in the temp dir, never an existing name or a link), open
/// twice, for writing and for reading from its start, and already unlinked: nothing is left on
/// disk whoever ends first.
fn unlinked_pair() -> std::io::Result<(std::fs::File, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let path = std::env::temp_dir().join(format!(
        ".lkops-out-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let w = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(&path)?;
    let r = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(&path);
    let _ = std::fs::remove_file(&path);
    Ok((w, r?))
}

/// What is kept of one output stream: the first KEEP_HEAD bytes, the last KEEP_TAIL bytes, and
/// how many there were in all.
#[derive(Debug, Default)]
struct Capped {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Capped {
    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = KEEP_HEAD - self.head.len();
        let (to_head, rest) = chunk.split_at(room.min(chunk.len()));
        self.head.extend_from_slice(to_head);
        if rest.len() >= KEEP_TAIL {
            self.tail.clear();
            self.tail.extend(&rest[rest.len() - KEEP_TAIL..]);
        } else {
            let excess = (self.tail.len() + rest.len()).saturating_sub(KEEP_TAIL);
            self.tail.drain(..excess);
            self.tail.extend(rest);
        }
    }

    /// `file` from its start to its present end, kept as a pipe's output is.
    fn read_all(mut file: std::fs::File) -> Arc<Mutex<Capped>> {
        let mut c = Capped::default();
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => c.push(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        Arc::new(Mutex::new(c))
    }

    /// A thread that reads `pipe` to its end into a shared Capped, then says so on `done`.
    fn reader(mut pipe: impl Read + Send + 'static, done: mpsc::Sender<()>) -> Arc<Mutex<Capped>> {
        let buf = Arc::new(Mutex::new(Capped::default()));
        let shared = Arc::clone(&buf);
        std::thread::spawn(move || {
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => match shared.lock() {
                        Ok(mut b) => b.push(&chunk[..n]),
                        Err(_) => break,
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = done.send(());
        });
        buf
    }

    /// The text kept so far (head, a line saying how much was left out, tail) and whether
    /// anything was left out.
    fn take(buf: &Mutex<Capped>) -> (String, bool) {
        let c = match buf.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(_) => return (String::new(), true),
        };
        let kept = (c.head.len() + c.tail.len()) as u64;
        let mut bytes = c.head;
        let cut = c.total > kept;
        if cut {
            bytes.extend_from_slice(
                format!(
                    "\n[lkops: {} bytes of output left out here]\n",
                    c.total - kept
                )
                .as_bytes(),
            );
        }
        bytes.extend(c.tail);
        (String::from_utf8_lossy(&bytes).into_owned(), cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// outlives_caller: the same output, exit code and timeout as through pipes, and no file
    /// left behind.
    #[test]
    fn a_command_that_outlives_its_caller_reports_as_one_through_pipes() {
        let r = Runner::default();
        let c = Cmd::new("sh")
            .arg("-c")
            .arg("echo out; echo err >&2; exit 3")
            .outlives_caller();
        let out = r.run(&c).unwrap();
        assert_eq!(
            (out.stdout.as_str(), out.stderr.as_str(), out.rc),
            ("out\n", "err\n", 3)
        );
        let slow = Cmd::new("sleep")
            .arg("5")
            .timeout(Duration::from_millis(100))
            .outlives_caller();
        assert!(r.run(&slow).unwrap().timed_out);
        let left = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!(".lkops-out-{}-", std::process::id()))
            })
            .count();
        assert_eq!(left, 0, "no output file left in the temp dir");
    }

    #[test]
    fn arguments_are_passed_literally_never_through_a_shell() {
        let out = Runner::default()
            .run(
                &Cmd::new("printf")
                    .arg("%s|")
                    .arg("$(touch /tmp/x); `id` * ;"),
            )
            .unwrap();
        assert_eq!(out.stdout, "$(touch /tmp/x); `id` * ;|");
        assert_eq!(out.rc, 0);
    }

    #[test]
    fn locale_is_c_and_stdin_is_fed() {
        let r = Runner::default();
        let env = r.run(&Cmd::new("env")).unwrap();
        assert!(
            env.stdout.lines().any(|l| l == "LC_ALL=C"),
            "{}",
            env.stdout
        );
        assert_eq!(r.run(&Cmd::new("cat").stdin("y\n")).unwrap().stdout, "y\n");
    }

    /// Issue 16: only parsed commands get the C locale; `site_locale` passes the caller's
    /// LANG/LC_ALL through untouched (checked against a variable of our own process, as the
    /// test cannot change its own locale safely: the command inherits whatever we have).
    #[test]
    fn site_locale_keeps_the_callers_locale() {
        let r = Runner::default();
        let env = r
            .run(&Cmd::new("env").site_locale().env("LKOPS_PROBE", "1"))
            .unwrap();
        let ours = std::env::var("LC_ALL").ok();
        let theirs = env
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("LC_ALL="))
            .map(str::to_string);
        assert_eq!(theirs, ours, "{}", env.stdout);
        assert!(env.stdout.lines().any(|l| l == "LKOPS_PROBE=1"));
    }

    #[test]
    fn cwd_is_the_working_directory_of_the_command() {
        let d = std::env::temp_dir();
        let out = Runner::default().run(&Cmd::new("pwd").cwd(&d)).unwrap();
        assert_eq!(
            Path::new(out.stdout.trim()).canonicalize().unwrap(),
            d.canonicalize().unwrap()
        );
        assert_eq!(Cmd::new("x").cwd("/m").cwd, Some(PathBuf::from("/m")));
    }

    #[test]
    fn timeout_kills_a_hanging_command() {
        let t = Instant::now();
        let out = Runner::default()
            .run(
                &Cmd::new("sleep")
                    .arg("30")
                    .timeout(Duration::from_millis(200)),
            )
            .unwrap();
        assert!(out.timed_out);
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(out.failure("step").msg.contains("timed out"));
        assert_eq!(out.failure("step").data["timed_out"], true);
    }

    #[test]
    fn missing_program_is_reported_as_not_found() {
        let e = Runner::default()
            .run(&Cmd::new("/nonexistent/lkops-nope"))
            .unwrap_err();
        assert!(e.not_found);
        assert_eq!(e.msg, "command not found: /nonexistent/lkops-nope");
    }

    #[test]
    fn failure_carries_cmd_rc_and_tail() {
        let out = Runner::default()
            .run(&Cmd::new("ls").arg("/nonexistent-lkops"))
            .unwrap();
        let f = out.failure("probe");
        assert_eq!(f.data["rc"], 2);
        assert!(f.data["stderr_tail"]
            .as_str()
            .unwrap()
            .contains("nonexistent-lkops"));
        assert!(
            f.msg
                .starts_with("probe: `ls /nonexistent-lkops` exited with rc=2"),
            "{}",
            f.msg
        );
    }

    /// Defect 6 (issue 22): output was buffered without limit. What is kept is bounded, head and
    /// tail, with `truncated` set and a line saying how much was left out.
    #[test]
    fn command_output_is_capped_head_and_tail() {
        let mut c = Capped::default();
        c.push(b"first\n");
        for _ in 0..((KEEP_HEAD + 2 * KEEP_TAIL) / 4096) {
            c.push(&[b'.'; 4096]);
        }
        c.push(b"\nlast\n");
        let total = c.total;
        let (text, cut) = Capped::take(&Mutex::new(c));
        assert!(cut);
        assert!(text.starts_with("first\n"));
        assert!(text.ends_with("\nlast\n"));
        assert!(text.len() <= KEEP_HEAD + KEEP_TAIL + 100, "{}", text.len());
        let left_out = total - (KEEP_HEAD + KEEP_TAIL) as u64;
        assert!(text.contains(&format!(
            "[lkops: {left_out} bytes of output left out here]"
        )));
        let mut small = Capped::default();
        small.push(b"all of it\n");
        assert_eq!(
            Capped::take(&Mutex::new(small)),
            ("all of it\n".into(), false)
        );
    }
}

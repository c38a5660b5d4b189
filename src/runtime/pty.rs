//! The second runner: a [`Cmd`] started on a pseudo-terminal, for the one program that needs a
//! terminal (the vendor's setup and its full-screen menu, `lifekeeper::setup::menu`). Like the
//! pipe runner: an argument vector only, never a shell; its working directory and environment
//! from the `Cmd` (LANG=C/LC_ALL=C unless `site_locale`). The program runs in its own session
//! (setsid, so the whole group can be killed) with the pty as its controlling terminal and as
//! stdin, stdout and stderr; TERM and the window size are the caller's choice, and COLUMNS/LINES
//! are removed so the size is the pty's.

use super::cmd::Cmd;
use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt, Winsize};
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// A program running on a pseudo-terminal: its process (a session leader: its pid is its
/// process group) and the terminal's master side (read its output, write its keys).
#[derive(Debug)]
pub struct PtyChild {
    pub child: Child,
    pub master: File,
}

nix::ioctl_write_int_bad!(tiocsctty, nix::libc::TIOCSCTTY);
nix::ioctl_write_ptr_bad!(tiocswinsz, nix::libc::TIOCSWINSZ, Winsize);

/// A new pseudo-terminal of size `ws`: (master, slave). Through posix_openpt, grantpt,
/// unlockpt and ptsname_r, all in libc itself: openpty(3) lives in libutil.so.1, a library the
/// dist binaries must not need (they need only libc, libpthread and libdl; glibc 2.17).
fn open_pty(ws: &Winsize) -> nix::Result<(File, OwnedFd)> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = ptsname_r(&master)?;
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_CLOEXEC)
        .open(&name)
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer on the terminal's own fd.
    unsafe { tiocswinsz(slave.as_raw_fd(), ws) }?;
    // SAFETY: the master's fd is owned by `master` and moved out of it here, once.
    let master = unsafe { File::from_raw_fd(master.into_raw_fd()) };
    Ok((master, OwnedFd::from(slave)))
}

/// Start `cmd` on a new pseudo-terminal of `rows` x `cols`, TERM=`term`. Its stdin is not
/// `cmd.stdin` (keys are written to the master); `cmd.timeout` is the caller's to enforce.
pub fn spawn(cmd: &Cmd, rows: u16, cols: u16, term: &str) -> Result<PtyChild, String> {
    let shown = cmd.display();
    let ws = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let (master, slave) =
        open_pty(&ws).map_err(|e| format!("cannot open a pseudo-terminal: {e}"))?;
    let dup = |f: &OwnedFd| {
        f.try_clone()
            .map_err(|e| format!("cannot duplicate the pseudo-terminal: {e}"))
    };
    let mut c = Command::new(&cmd.argv[0]);
    c.args(&cmd.argv[1..])
        .env("TERM", term)
        .env_remove("COLUMNS")
        .env_remove("LINES")
        .stdin(Stdio::from(dup(&slave)?))
        .stdout(Stdio::from(dup(&slave)?))
        .stderr(Stdio::from(slave));
    if cmd.c_locale {
        c.env("LANG", "C").env("LC_ALL", "C");
    }
    for (k, v) in &cmd.env {
        c.env(k, v);
    }
    if let Some(d) = &cmd.cwd {
        c.current_dir(d);
    }
    // SAFETY: between fork and exec only async-signal-safe calls: setsid(2) makes the program a
    // session (and process group) leader, TIOCSCTTY makes the pty (its stdin) its controlling
    // terminal, as a terminal login would.
    unsafe {
        c.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            tiocsctty(0, 0).map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let child = c.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("command not found: {}", shown[0])
        } else {
            format!("cannot run {}: {e}", shown[0])
        }
    })?;
    Ok(PtyChild { child, master })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_program_has_a_terminal_of_the_given_size_in_its_own_session_and_cwd() {
        let d = std::env::temp_dir();
        // stty reads the size from its stdin, which must be a terminal; tty names it.
        let mut p = spawn(&Cmd::new("stty").arg("size").cwd(&d), 33, 101, "xterm").unwrap();
        let mut out = String::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = p.master.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert_eq!(out.trim(), "33 101");
        assert!(p.child.wait().unwrap().success());
        assert!(spawn(&Cmd::new("/nonexistent/lkops"), 24, 80, "xterm")
            .unwrap_err()
            .starts_with("command not found"));
    }
}

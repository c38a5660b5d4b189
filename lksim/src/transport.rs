//! How a node reaches its peers.  Only the local (shared directory)
//! transport exists; a TCP transport (port 7365, JSON requests served by a
//! `lksim daemon` that `lkstart` would spawn) would implement the same trait
//! for containers that do not share a volume.

use crate::model::{lkroot, path_dir, LK_COMMANDS};
use std::path::{Path, PathBuf};
use std::process::Command;

pub trait Transport {
    /// Run `argv` on the peer and return its exit code.
    fn remote_exec(&self, argv: &[String]) -> std::io::Result<i32>;
}

/// A peer whose node root is reachable in the local file system.
pub struct LocalDir {
    pub root: PathBuf,
    pub exe: PathBuf,
}

impl LocalDir {
    fn command(&self, argv: &[String]) -> Command {
        let root: &Path = &self.root;
        let lk = lkroot(root);
        let cmd0 = &argv[0];
        let base = Path::new(cmd0)
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let is_lk_path = !cmd0.contains('/')
            || cmd0.starts_with("/opt/LifeKeeper/bin/")
            || Path::new(cmd0).starts_with(lk.join("bin"));
        let mut c = if LK_COMMANDS.contains(&base.as_str()) && is_lk_path {
            let mut c = Command::new(&self.exe);
            c.arg("--node-root")
                .arg(root)
                .arg("--as")
                .arg(&base)
                .arg("--");
            c
        } else if let Some(rest) = cmd0.strip_prefix("/opt/LifeKeeper/") {
            Command::new(lk.join(rest))
        } else {
            Command::new(cmd0)
        };
        c.args(&argv[1..]);
        let path = std::env::var("PATH").unwrap_or_default();
        c.env(
            "PATH",
            format!(
                "{}:{}:{path}",
                path_dir(root).display(),
                lk.join("bin").display()
            ),
        );
        c.env("LKROOT", &lk);
        c
    }
}

impl Transport for LocalDir {
    fn remote_exec(&self, argv: &[String]) -> std::io::Result<i32> {
        let st = self.command(argv).status()?;
        Ok(st.code().unwrap_or(1))
    }
}

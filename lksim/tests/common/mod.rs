#![allow(dead_code)]
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const LKSIM: &str = env!("CARGO_BIN_EXE_lksim");

static N: AtomicUsize = AtomicUsize::new(0);

pub fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "lksim-test-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub struct Out {
    pub code: i32,
    pub out: String,
    pub err: String,
}

pub fn run_cmd(mut c: Command, stdin: Option<&str>) -> Out {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut ch = c.spawn().expect("spawn");
    {
        let mut si = ch.stdin.take().unwrap();
        if let Some(s) = stdin {
            let _ = si.write_all(s.as_bytes());
        }
    }
    let o = ch.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).to_string(),
        err: String::from_utf8_lossy(&o.stderr).to_string(),
    }
}

pub fn lksim(args: &[&str]) -> Out {
    let mut c = Command::new(LKSIM);
    c.args(args);
    run_cmd(c, None)
}

pub struct Cluster {
    pub dir: PathBuf,
    pub info: Value,
}

impl Cluster {
    pub fn create(tag: &str, extra: &[&str]) -> Cluster {
        let dir = tmpdir(tag);
        let d = dir.to_string_lossy().to_string();
        let mut args = vec!["cluster", "create", "--dir", &d, "--nodes", "node-a,node-b"];
        if !extra.contains(&"--version") {
            args.extend(["--version", "9.4.0"]);
        }
        args.extend(extra);
        let o = lksim(&args);
        assert_eq!(o.code, 0, "cluster create failed: {}", o.err);
        let info: Value = serde_json::from_str(&o.out).unwrap();
        Cluster {
            dir: dir.canonicalize().unwrap(),
            info,
        }
    }
    pub fn node(&self, n: &str) -> &Value {
        self.info["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()
    }
    pub fn root(&self, n: &str) -> PathBuf {
        PathBuf::from(self.node(n)["root"].as_str().unwrap())
    }
    pub fn lkroot(&self, n: &str) -> PathBuf {
        PathBuf::from(self.node(n)["lkroot"].as_str().unwrap())
    }
    pub fn path(&self, n: &str) -> PathBuf {
        PathBuf::from(self.node(n)["path"].as_str().unwrap())
    }
    /// Run `$LKROOT/bin/<cmd>` of node `n` with a clean environment.
    pub fn lk(&self, n: &str, cmd: &str, args: &[&str]) -> Out {
        self.lk_in(n, cmd, args, None)
    }
    pub fn lk_in(&self, n: &str, cmd: &str, args: &[&str], stdin: Option<&str>) -> Out {
        let mut c = Command::new(self.lkroot(n).join("bin").join(cmd));
        c.args(args).env_clear().env("PATH", "/usr/bin:/bin");
        run_cmd(c, stdin)
    }
    /// Run a command found via the node's `path` dir prepended to PATH.
    pub fn sys(&self, n: &str, cmd: &str, args: &[&str]) -> Out {
        let mut c = Command::new(cmd);
        c.args(args)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.path(n).display()));
        run_cmd(c, None)
    }
    pub fn state(&self) -> Value {
        let o = lksim(&["state", self.dir.to_str().unwrap()]);
        assert_eq!(o.code, 0, "{}", o.err);
        serde_json::from_str(&o.out).unwrap()
    }
    pub fn node_state(&self, n: &str) -> Value {
        self.state()["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()
            .clone()
    }
    pub fn res_state(&self, n: &str, tag: &str) -> String {
        let ns = self.node_state(n);
        ns["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["tag"] == tag)
            .map(|r| r["state"].as_str().unwrap().to_string())
            .unwrap_or_else(|| "MISSING".into())
    }
    pub fn d(&self) -> &str {
        self.dir.to_str().unwrap()
    }
    pub fn write_conf(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// A media folder as if the image were mounted or extracted: the media's real `setup` script
/// and a fake package file per core package and kit in RPMS/.
pub fn media_dir(c: &Cluster, v: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = c.dir.join(format!("media-{v}"));
    std::fs::create_dir_all(d.join("RPMS")).unwrap();
    for p in [
        "steeleye-lk",
        "steeleye-lkGUI",
        "steeleye-lkDR",
        "steeleye-lkIP",
        "steeleye-lkPGSQL",
        "steeleye-lkNFS",
        "steeleye-lkQWK",
    ] {
        std::fs::write(d.join("RPMS").join(format!("{p}-{v}-1.x86_64.rpm")), "x").unwrap();
    }
    let s = d.join("setup");
    std::fs::write(&s, lksim::setup::setup_script(v)).unwrap();
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

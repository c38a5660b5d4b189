//! The Ansible collection artifact (`make collection`): its contents, and the installed
//! collection driven the way a user would — `ansible-galaxy collection install <tarball>`, then
//! playbooks calling `lkops.lifekeeper.*` by fully qualified name with no project ansible.cfg and
//! no library path, so only the collection can resolve the modules. Ignored by a plain
//! `cargo test`; `make test` builds dist/, the tarball and the venv first.

use crate::common::{self, ansible::venv_bin, repo};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The one tarball `make collection` left in build/collection/.
fn tarball() -> PathBuf {
    let dir = repo().join("build/collection");
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}: run `make collection`", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("lkops-lifekeeper-")
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one collection tarball in {}: {found:?}",
        dir.display()
    );
    found.into_iter().next().unwrap()
}

/// A scratch place with the collection installed, its own ANSIBLE_HOME and an empty ansible.cfg.
struct Controller {
    dir: PathBuf,
}

impl Controller {
    fn new(name: &str) -> Controller {
        let dir = common::scratch(name);
        std::fs::write(
            dir.join("ansible.cfg"),
            "[defaults]\nretry_files_enabled = false\n",
        )
        .unwrap();
        let c = Controller { dir };
        let out = c.run(
            &venv_bin("ansible-galaxy"),
            &["collection", "install", "-p", "collections"],
            &[tarball()],
        );
        assert!(
            out.status.success(),
            "install: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        c
    }

    fn installed(&self) -> PathBuf {
        self.dir
            .join("collections/ansible_collections/lkops/lifekeeper")
    }

    fn run(&self, exe: &Path, args: &[&str], paths: &[PathBuf]) -> Output {
        Command::new(exe)
            .current_dir(&self.dir)
            .args(args)
            .args(paths)
            .env_remove("ANSIBLE_LIBRARY")
            .env("ANSIBLE_CONFIG", self.dir.join("ansible.cfg"))
            .env("ANSIBLE_HOME", self.dir.join("home"))
            .env("ANSIBLE_COLLECTIONS_PATH", self.dir.join("collections"))
            .env("ANSIBLE_LOCAL_TEMP", self.dir.join("tmp-local"))
            .env("ANSIBLE_REMOTE_TEMP", self.dir.join("tmp-remote"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_FORCE_COLOR", "0")
            .output()
            .unwrap()
    }

    fn playbook(&self, extra: &[&str], playbook: &str) -> Output {
        let vars = format!("work={}", self.dir.join("work").display());
        let args = [
            &["-i", "localhost,", "-c", "local", "-e", &vars][..],
            extra,
            &[playbook],
        ]
        .concat();
        self.run(&venv_bin("ansible-playbook"), &args, &[])
    }

    /// A site file and a new release's file for lk_defaults_merge to merge.
    fn defaults_files(&self) -> PathBuf {
        let work = self.dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("old"), "REMOTETIMEOUT=900\nLCMHBEATTIME=7\n").unwrap();
        std::fs::write(work.join("LifeKeeper"), NEW_DEFAULTS).unwrap();
        work.join("LifeKeeper")
    }
}

const NEW_DEFAULTS: &str = "REMOTETIMEOUT=1200\n#LCMHBEATTIME=5\n";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn fixture(name: &str) -> String {
    repo().join("tests/dist").join(name).display().to_string()
}

fn recap(out: &Output) -> String {
    text(&out.stdout)
        .lines()
        .rfind(|l| l.starts_with("localhost"))
        .unwrap_or_default()
        .to_string()
}

#[test]
#[ignore = "needs build/collection from `make collection`: run by `make test`"]
fn collection_tarball_holds_binaries_sidecars_action_plugins_and_playbooks() {
    let out = Command::new("tar")
        .arg("-tvzf")
        .arg(tarball())
        .output()
        .unwrap();
    assert!(out.status.success());
    let listing = text(&out.stdout);
    // `-rwxr-xr-x root/root 771424 2026-11-25 16:20 plugins/modules/lk_defaults_merge`
    let entry = |path: &str| {
        listing
            .lines()
            .find(|l| l.split_whitespace().last() == Some(path))
            .map(str::to_string)
    };
    for m in common::MODULES {
        let bin = entry(&format!("plugins/modules/{m}"))
            .unwrap_or_else(|| panic!("no binary for {m}:\n{listing}"));
        assert!(bin.starts_with("-rwx"), "{m} not executable: {bin}");
        let size: u64 = bin.split_whitespace().nth(2).unwrap().parse().unwrap();
        let dist = std::fs::metadata(repo().join("dist/x86_64").join(m))
            .unwrap()
            .len();
        assert_eq!(
            size, dist,
            "{m}: the collection must carry the portable dist/ binary"
        );
        assert!(
            entry(&format!("plugins/modules/{m}.yml")).is_some(),
            "no sidecar for {m}"
        );
        assert!(
            entry(&format!("plugins/action/{m}.py")).is_some(),
            "no action plugin for {m}"
        );
    }
    for f in [
        "README.md",
        "MANIFEST.json",
        "meta/runtime.yml",
        "plugins/plugin_utils/lk_action.py",
    ] {
        assert!(entry(f).is_some(), "{f} missing:\n{listing}");
    }
    assert!(
        entry("build.sh").is_none(),
        "the build script is not part of the artifact"
    );
    // Every playbook in the repository at build time ships as a collection playbook.
    if let Ok(dir) = std::fs::read_dir(repo().join("playbooks")) {
        for p in dir
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        {
            let name = format!("playbooks/{}", p.file_name().unwrap().to_string_lossy());
            assert!(
                entry(&name).is_some(),
                "{name} not in the collection (rebuild with `make collection`)"
            );
        }
    }
}

#[test]
#[ignore = "needs build/collection from `make collection`: run by `make test`"]
fn installed_collection_runs_by_fqcn_check_then_changed_then_ok_and_documents_itself() {
    let c = Controller::new("collection-fqcn");
    let dest = c.defaults_files();
    let pb = fixture("collection_fqcn.yml");

    let check = c.playbook(&["--check", "--diff"], &pb);
    let out = text(&check.stdout);
    assert!(check.status.success(), "{out}{}", text(&check.stderr));
    assert!(recap(&check).contains("changed=1"), "{out}");
    assert!(
        out.contains("-REMOTETIMEOUT=1200\n+REMOTETIMEOUT=900"),
        "check-mode diff:\n{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        NEW_DEFAULTS,
        "--check touched the file"
    );

    let first = c.playbook(&[], &pb);
    assert!(first.status.success(), "{}", text(&first.stdout));
    assert!(
        recap(&first).contains("changed=1"),
        "{}",
        text(&first.stdout)
    );
    assert!(text(&first.stdout)
        .contains(r#"carried={\"LCMHBEATTIME\": \"7\", \"REMOTETIMEOUT\": \"900\"}"#));
    assert!(std::fs::read_to_string(&dest)
        .unwrap()
        .contains("REMOTETIMEOUT=900"));

    let second = c.playbook(&[], &pb);
    assert!(
        recap(&second).contains("ok=2") && recap(&second).contains("changed=0"),
        "{}",
        text(&second.stdout)
    );
    assert!(
        recap(&second).contains("failed=0"),
        "{}",
        text(&second.stdout)
    );

    for m in common::MODULES {
        let doc = c.run(
            &venv_bin("ansible-doc"),
            &[&format!("lkops.lifekeeper.{m}")],
            &[],
        );
        let page = text(&doc.stdout);
        assert!(doc.status.success(), "{m}: {}", text(&doc.stderr));
        assert!(
            page.contains(&format!("MODULE lkops.lifekeeper.{m}")),
            "{m}: {page}"
        );
        assert!(
            page.contains("ATTRIBUTES") && page.contains("check_mode"),
            "{m}: {page}"
        );
        // Stub modules (still being written) document no examples or return values yet; every
        // section the sidecar has must show.
        let sidecar =
            std::fs::read_to_string(c.installed().join(format!("plugins/modules/{m}.yml")))
                .unwrap();
        if m == "lk_defaults_merge" || sidecar.contains("\nEXAMPLES: |\n  ") {
            assert!(page.contains("EXAMPLES"), "{m}: {page}");
        }
        if m == "lk_defaults_merge" || sidecar.contains("\nRETURN:\n  ") {
            assert!(page.contains("RETURN VALUES"), "{m}: {page}");
        }
    }

    // Collection playbooks resolve (module names, roles, imports) from the installed collection.
    for p in std::fs::read_dir(c.installed().join("playbooks"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
    {
        if p.extension().is_some_and(|e| e == "yml") {
            let name = format!(
                "lkops.lifekeeper.{}",
                p.file_stem().unwrap().to_string_lossy()
            );
            let out = c.playbook(&["--syntax-check"], &name);
            assert!(
                out.status.success(),
                "{name}: {}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
    }
}

/// The action plugins refuse bad arguments on the controller, from the sidecar: the messages
/// are Ansible's validator's ("missing required arguments"), not the binary's ("missing required
/// parameter"), so the binary was never run.
#[test]
#[ignore = "needs build/collection from `make collection`: run by `make test`"]
fn action_plugins_refuse_bad_arguments_on_the_controller() {
    let c = Controller::new("collection-bad-args");
    let dest = c.defaults_files();
    let out = c.playbook(&[], &fixture("collection_bad_args.yml"));
    let stdout = text(&out.stdout);
    assert!(recap(&out).contains("ignored=4"), "{stdout}");
    let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("fatal:")).collect();
    assert_eq!(failures.len(), 4, "{stdout}");
    assert!(
        failures[0].contains("\"missing required arguments: src\""),
        "{}",
        failures[0]
    );
    assert!(
        failures[1].contains("Unsupported parameters") && failures[1].contains("srcc"),
        "{}",
        failures[1]
    );
    assert!(
        failures[2]
            .contains("value of state must be one of: present, verified, restored, got: nope"),
        "{}",
        failures[2]
    );
    assert!(
        failures[3].contains("argument 'backup' is of type str"),
        "{}",
        failures[3]
    );
    assert_eq!(std::fs::read_to_string(dest).unwrap(), NEW_DEFAULTS);
}

/// A module whose sidecar declares `check_mode: none` is skipped under --check by its action
/// plugin (Ansible itself would run the binary anyway); without --check it runs.
#[test]
#[ignore = "needs build/collection from `make collection`: run by `make test`"]
fn action_plugin_skips_a_module_without_check_mode_support_under_check() {
    let c = Controller::new("collection-check-none");
    let dest = c.defaults_files();
    let sidecar = c.installed().join("plugins/modules/lk_defaults_merge.yml");
    let doc = std::fs::read_to_string(&sidecar).unwrap();
    let marker = "    check_mode:\n      description: ";
    let at = doc
        .find(marker)
        .expect("check_mode attribute in the sidecar");
    let support = at
        + doc[at..]
            .find("support: \"full\"")
            .expect("check_mode support full");
    let edited = format!(
        "{}support: \"none\"{}",
        &doc[..support],
        &doc[support + "support: \"full\"".len()..]
    );
    std::fs::write(&sidecar, edited).unwrap();

    let pb = fixture("collection_fqcn.yml");
    let check = c.playbook(&["--check"], &pb);
    let out = text(&check.stdout);
    assert!(check.status.success(), "{out}");
    assert!(out.contains("skipping: [localhost]"), "{out}");
    assert!(
        recap(&check).contains("skipped=1") && recap(&check).contains("changed=0"),
        "{out}"
    );
    assert!(
        out.contains("carried=\\\"none\\\""),
        "the module result must be a skip: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        NEW_DEFAULTS,
        "--check touched the file"
    );

    let real = c.playbook(&[], &pb);
    assert!(recap(&real).contains("changed=1"), "{}", text(&real.stdout));
}

//! The portable release binaries (`make dist`): they must start on RHEL 7, so no dynamic symbol
//! may need a glibc newer than 2.17, and Ansible copies them to the node on every task, so each
//! stays at or under 1.5 MiB. Ignored by a plain `cargo test`; `make test` builds dist/ first and
//! runs them with `--include-ignored`.
//!
//! The symbol versions are read from the ELF `.gnu.version_r` section (the "version needs" the
//! dynamic loader checks at start-up) by a small parser here, cross-checked against binutils.

use crate::common::{self, repo};

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const MAX_GLIBC: &[u32] = &[2, 17];
const MAX_SIZE: u64 = 3 * 1024 * 1024 / 2; // 1.5 MiB

fn dist_bin(m: &str) -> PathBuf {
    let p = repo().join("dist/x86_64").join(m);
    assert!(p.exists(), "{} missing: run `make dist`", p.display());
    p
}

/// One needed version: the library that must provide it and its name (`GLIBC_2.17`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Need {
    file: String,
    version: String,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}
fn cstr(b: &[u8], o: usize) -> String {
    let end = b[o..]
        .iter()
        .position(|&c| c == 0)
        .map(|n| o + n)
        .unwrap_or(b.len());
    String::from_utf8_lossy(&b[o..end]).into_owned()
}

/// The (library, version) pairs of an ELF64 little-endian file's SHT_GNU_verneed section.
fn version_needs(path: &Path) -> Vec<Need> {
    const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{}: not ELF", path.display());
    assert_eq!(
        (b[4], b[5]),
        (2, 1),
        "{}: not ELF64 little-endian",
        path.display()
    );
    let shoff = u64_at(&b, 0x28) as usize;
    let shentsize = u16_at(&b, 0x3a) as usize;
    let shnum = u16_at(&b, 0x3c) as usize;
    let section = |i: usize| shoff + i * shentsize;
    let mut needs = Vec::new();
    for i in 0..shnum {
        let sh = section(i);
        if u32_at(&b, sh + 4) != SHT_GNU_VERNEED {
            continue;
        }
        let offset = u64_at(&b, sh + 24) as usize;
        let strtab = u64_at(&b, section(u32_at(&b, sh + 40) as usize) + 24) as usize; // sh_link -> .dynstr
        let count = u32_at(&b, sh + 44); // sh_info: number of Verneed entries
        let mut vn = offset;
        for _ in 0..count {
            // Elf64_Verneed { vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32 }
            let file = cstr(&b, strtab + u32_at(&b, vn + 4) as usize);
            let mut aux = vn + u32_at(&b, vn + 8) as usize;
            for _ in 0..u16_at(&b, vn + 2) {
                // Elf64_Vernaux { vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32 }
                needs.push(Need {
                    file: file.clone(),
                    version: cstr(&b, strtab + u32_at(&b, aux + 8) as usize),
                });
                aux += u32_at(&b, aux + 12) as usize;
            }
            vn += u32_at(&b, vn + 12) as usize;
        }
    }
    needs.sort();
    needs
}

/// `GLIBC_2.3.4` -> [2, 3, 4]; None for other version names (GCC_3.0, ...).
fn glibc_version(name: &str) -> Option<Vec<u32>> {
    name.strip_prefix("GLIBC_")?
        .split('.')
        .map(|p| p.parse().ok())
        .collect()
}

fn max_glibc(needs: &[Need]) -> Vec<u32> {
    needs
        .iter()
        .filter_map(|n| glibc_version(&n.version))
        .max()
        .unwrap_or_default()
}

fn show(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// binutils' view of the same section: the `Version References` block of `objdump -p`.
fn objdump_needs(path: &Path) -> Vec<Need> {
    let out = Command::new("objdump")
        .arg("-p")
        .arg(path)
        .output()
        .expect("objdump (binutils) not installed");
    assert!(
        out.status.success(),
        "objdump -p {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut needs = Vec::new();
    let mut file = String::new();
    for line in text
        .lines()
        .skip_while(|l| !l.starts_with("Version References:"))
        .skip(1)
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["required", "from", f] => file = f.trim_end_matches(':').to_string(),
            [_hash, _flags, _other, version] => needs.push(Need {
                file: file.clone(),
                version: version.to_string(),
            }),
            [] => break,
            _ => {}
        }
    }
    needs.sort();
    needs
}

#[test]
fn glibc_version_names_order_numerically() {
    assert!(glibc_version("GLIBC_2.17") > glibc_version("GLIBC_2.3.4"));
    assert!(glibc_version("GLIBC_2.2.5") < glibc_version("GLIBC_2.3"));
    assert_eq!(glibc_version("GCC_3.0"), None);
    assert_eq!(glibc_version("GLIBC_PRIVATE"), None);
}

/// Guards the check below against passing vacuously: the native debug build links against this
/// machine's glibc (2.36 on Debian 12), so the parser must find versions above 2.17 there, and
/// agree with binutils entry for entry.
#[test]
#[ignore = "needs the debug binaries and binutils: run by `make test`"]
fn version_parser_sees_a_native_build_above_2_17_and_agrees_with_objdump() {
    let native = common::bin("lk_defaults_merge");
    let needs = version_needs(&native);
    assert!(
        max_glibc(&needs) > MAX_GLIBC.to_vec(),
        "native build needs only {needs:?}"
    );
    assert_eq!(needs, objdump_needs(&native));
}

#[test]
#[ignore = "needs dist/ from `make dist`: run by `make test`"]
fn dist_binaries_need_at_most_glibc_2_17_and_fit_in_1_5_mib() {
    let mut report = Vec::new();
    for m in common::ALL_MODULES {
        let path = dist_bin(m);
        let needs = version_needs(&path);
        assert!(
            !needs.is_empty(),
            "{m}: no version needs found; is it dynamically linked to glibc at all?"
        );
        assert_eq!(
            needs,
            objdump_needs(&path),
            "{m}: parser and objdump disagree"
        );
        let max = max_glibc(&needs);
        let too_new: Vec<&Need> = needs
            .iter()
            .filter(|n| glibc_version(&n.version).is_some_and(|v| v > MAX_GLIBC.to_vec()))
            .collect();
        assert!(
            too_new.is_empty(),
            "{m} needs glibc newer than 2.17: {too_new:?}"
        );
        // Only the base system libraries every distribution has (no libgcc_s, libssl, ...).
        let files: BTreeSet<&str> = needs.iter().map(|n| n.file.as_str()).collect();
        for f in &files {
            assert!(
                [
                    "libc.so.6",
                    "libpthread.so.0",
                    "libdl.so.2",
                    "libm.so.6",
                    "librt.so.1",
                    "ld-linux-x86-64.so.2"
                ]
                .contains(f),
                "{m} needs versions from {f}"
            );
        }
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= MAX_SIZE, "{m} is {size} bytes, over 1.5 MiB");
        report.push(format!(
            "{m}: {size} bytes, max GLIBC_{}, libraries {files:?}",
            show(&max)
        ));
    }
    eprintln!("{}", report.join("\n"));
}

/// The portable binary really runs here (same contract as the native one): JSON on stdin, one
/// JSON object out, exit 1 with the parameter named on bad input.
#[test]
#[ignore = "needs dist/ from `make dist`: run by `make test`"]
fn dist_binary_runs_the_stdin_contract() {
    let mut child = Command::new(dist_bin("lk_defaults_merge"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    let (v, code) = common::parse_output(&child.wait_with_output().unwrap());
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["failed"], true, "{v}");
    assert_eq!(v["invalid_parameter"], "src", "{v}");
}

/// examples/runner.sh (JSON in, JSON out, exit code acted on) with the portable binary: check
/// predicts, the real run changes, the rerun is ok, a module failure exits 1, and a program
/// that breaks the contract (no JSON) exits 2.
#[test]
#[ignore = "needs dist/ from `make dist` and jq: run by `make test`"]
fn runner_example_acts_on_the_exit_code_contract() {
    let work = common::scratch("dist-runner");
    std::fs::write(work.join("old"), "REMOTETIMEOUT=900\nLCMHBEATTIME=7\n").unwrap();
    std::fs::write(
        work.join("LifeKeeper"),
        "REMOTETIMEOUT=1200\n#LCMHBEATTIME=5\n",
    )
    .unwrap();
    let module = dist_bin("lk_defaults_merge");
    let args = serde_json::json!({"src": work.join("old"), "dest": work.join("LifeKeeper"), "backup": false}).to_string();
    let run = |flags: &[&str], module: &Path, args: &str| {
        let out = Command::new(repo().join("examples/runner.sh"))
            .args(flags)
            .arg(module)
            .arg(args)
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        (
            code,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, out, err) = run(&["--check", "--diff"], &module, &args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("changed: would carry 2 key(s)"), "{out}");
    assert!(
        out.contains("-REMOTETIMEOUT=1200\n+REMOTETIMEOUT=900\n"),
        "unified diff: {out}"
    );
    assert!(
        err.contains("warning: REMOTETIMEOUT carried from src"),
        "warnings go to stderr: {err}"
    );
    assert_eq!(
        std::fs::read_to_string(work.join("LifeKeeper")).unwrap(),
        "REMOTETIMEOUT=1200\n#LCMHBEATTIME=5\n"
    );

    let (code, out, _) = run(&[], &module, &args);
    assert_eq!(
        (code, out.lines().next().unwrap_or("")),
        (
            0,
            &*format!(
                "changed: carried 2 key(s) into {}; 1 conflict(s) without base",
                work.join("LifeKeeper").display()
            )
        )
    );
    let (code, out, _) = run(&[], &module, &args);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("ok: ") && out.contains("already holds"),
        "{out}"
    );

    let (code, out, _) = run(&[], &module, r#"{"dest": "/nonexistent"}"#);
    assert_eq!(
        (code, out.trim()),
        (1, "failed: missing required parameter: src")
    );

    let (code, _, err) = run(&[], Path::new("/bin/true"), "{}");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("without a JSON result"), "{err}");
}

/// The value of `key = value` in ansible.cfg's [defaults].
fn ansible_cfg(key: &str) -> Option<String> {
    let cfg = std::fs::read_to_string(repo().join("ansible.cfg")).unwrap();
    cfg.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// Regression (issue 21): `make build` put binaries linked against this machine's glibc into
/// modules/, the repository's Ansible library path, so the repo's playbooks sent nodes binaries
/// needing GLIBC_2.34 (RHEL 7 has 2.17, RHEL 8 2.28). The playbooks must run the portable ones.
#[test]
#[ignore = "needs modules/ from `make build` (dist binaries): run by `make test`"]
fn playbook_library_binaries_need_at_most_glibc_2_17() {
    let library = ansible_cfg("library").expect("ansible.cfg sets library");
    let dir = repo().join(&library);
    let mut highest: Vec<u32> = Vec::new();
    for m in common::ALL_MODULES {
        let bin = dir.join(m);
        assert!(bin.exists(), "{}: run `make build`", bin.display());
        let needs = version_needs(&bin);
        assert!(
            !needs.is_empty(),
            "{m}: no version needs read (not a dynamic ELF?)"
        );
        let v = max_glibc(&needs);
        println!("{library}/{m}: needs {}", show(&v));
        assert!(
            v.as_slice() <= MAX_GLIBC,
            "{library}/{m} needs {} (> GLIBC_2.17): the playbooks would send a binary that does not start on RHEL 7/8",
            show(&v)
        );
        assert_eq!(
            std::fs::read(&bin).unwrap(),
            std::fs::read(dist_bin(m)).unwrap(),
            "{library}/{m} is not the dist/ binary the collection ships"
        );
        highest = highest.max(v);
    }
    println!(
        "highest GLIBC needed by the playbooks' binaries: {}",
        show(&highest)
    );
}

/// Backups reach the controller from a node without Python: playbooks/roles/lk/tasks/
/// fetch_backups_raw.yml (raw + tar + base64, the set as one bundle) on a node whose interpreter
/// does not exist copies binary files byte for byte, the copies verify with sha256sum -c, a
/// rerun changes nothing, a file that no longer matches its checksum is refused without
/// replacing the verified copy, and the control (ansible.builtin.fetch on the same node) fails.
#[test]
#[ignore = "needs the venv: run by `make test`"]
fn backups_reach_the_controller_without_python_on_the_node() {
    let work = common::scratch("dist-fetch-raw");
    let node = work.join("node-backups");
    std::fs::create_dir_all(&node).unwrap();
    // Every byte value, many times over (base64 lines, no text-only shortcut).
    let archive: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(node.join("node.lkbackup.tar.gz"), &archive).unwrap();
    std::fs::write(node.join("node.LifeKeeper.defaults"), "REMOTETIMEOUT=900\n").unwrap();
    let sums = Command::new("sha256sum")
        .current_dir(&node)
        .args(["node.lkbackup.tar.gz", "node.LifeKeeper.defaults"])
        .output()
        .unwrap();
    assert!(sums.status.success());
    std::fs::write(node.join("SHA256SUMS"), &sums.stdout).unwrap();
    std::fs::write(
        work.join("inventory"),
        "node ansible_connection=local ansible_python_interpreter=/nonexistent/python3\n",
    )
    .unwrap();
    std::fs::write(
        work.join("ansible.cfg"),
        "[defaults]\nretry_files_enabled = false\n",
    )
    .unwrap();
    let venv = std::env::var("LKOPS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join(".venv"));
    let run = || {
        let vars = format!("work={} repo={}", work.display(), repo().display());
        let out = Command::new(venv.join("bin/ansible-playbook"))
            .current_dir(&work)
            .args(["-i", "inventory", "-e", &vars])
            .arg(repo().join("tests/dist/fetch_backups_raw.yml"))
            .env("ANSIBLE_CONFIG", work.join("ansible.cfg"))
            .env("ANSIBLE_HOME", work.join("home"))
            .env("ANSIBLE_NOCOLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let recap = stdout
            .lines()
            .rfind(|l| l.starts_with("node "))
            .unwrap_or_default()
            .to_string();
        (stdout, recap)
    };
    let (out, recap) = run();
    assert!(recap.contains("failed=0"), "{out}");
    assert!(
        out.contains("control failed=True"),
        "the control must fail: {out}"
    );
    assert!(recap.contains("ignored=1"), "{out}");
    let ctl = work.join("controller/c1/node");
    assert_eq!(
        std::fs::read(ctl.join("node.lkbackup.tar.gz")).unwrap(),
        archive
    );
    assert_eq!(
        std::fs::read(ctl.join("SHA256SUMS")).unwrap(),
        sums.stdout,
        "SHA256SUMS copied byte for byte"
    );
    assert!(!ctl.join("node.lkbackup.tar.gz.part").exists());
    // One transfer per node (the set as one bundle). The controller-side copy counts no change,
    // as the fetch method's does (issue 28 W4: check mode's recap equals the real run's).
    assert!(recap.contains("changed=0"), "{recap}\n{out}");
    assert_eq!(
        out.matches("TASK [Read the backup set on the node as one bundle")
            .count(),
        1,
        "{out}"
    );

    let (out, recap) = run();
    assert!(
        recap.contains("changed=0") && recap.contains("failed=0"),
        "rerun: {recap}\n{out}"
    );

    // A file that no longer matches SHA256SUMS on the node is refused on the controller, and
    // the verified copy there is kept as it was (nothing unverified under a final name).
    std::fs::write(node.join("node.LifeKeeper.defaults"), "REMOTETIMEOUT=1\n").unwrap();
    let (out, recap) = run();
    assert!(recap.contains("failed=1"), "corrupted: {recap}\n{out}");
    assert!(out.contains("FAILED"), "{out}");
    assert_eq!(
        std::fs::read_to_string(ctl.join("node.LifeKeeper.defaults")).unwrap(),
        "REMOTETIMEOUT=900\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&ctl)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".bundle"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

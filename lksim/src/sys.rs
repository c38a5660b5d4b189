//! System tool stand-ins: rpm, getenforce, uname, hostname, getent, df, ss,
//! firewall-cmd.

use crate::model::{Package, World};
use crate::{err, fault_gate, Ctx};

pub fn main(ctx: &Ctx) -> i32 {
    if let Err(c) = fault_gate(&ctx.root, &ctx.cmd, &ctx.cmd) {
        return c;
    }
    let (mut w, i) = match World::open_for_root(&ctx.root) {
        Ok(x) => x,
        Err(e) => {
            err(&ctx.cmd, &e.to_string());
            return 1;
        }
    };
    let a: Vec<&str> = ctx.args.iter().map(|s| s.as_str()).collect();
    match ctx.cmd.as_str() {
        "rpm" => rpm(&mut w, i, &a),
        "getenforce" => {
            let s = &w.nodes[i].rt.selinux;
            let mut c = s.chars();
            let cap = match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => "Disabled".into(),
            };
            println!("{cap}");
            0
        }
        "uname" => uname(&w, i, &a),
        "hostname" => {
            println!("{}", w.nodes[i].name);
            0
        }
        "getent" => getent(&w, &a),
        "df" => df(&w, i, &a),
        "ss" => {
            println!("State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process");
            if w.nodes[i].alive() {
                println!("LISTEN 0      128          0.0.0.0:7365      0.0.0.0:*");
            }
            println!("LISTEN 0      128          0.0.0.0:22        0.0.0.0:*");
            0
        }
        "firewall-cmd" => {
            if a.first() == Some(&"--state") {
                println!("not running");
            } else {
                eprintln!("FirewallD is not running");
            }
            252
        }
        _ => 127,
    }
}

const KERNEL: &str = "4.18.0-513.5.1.el8_9.x86_64";

fn uname(w: &World, i: usize, a: &[&str]) -> i32 {
    let n = &w.nodes[i].name;
    let mut parts = Vec::new();
    if a.is_empty() {
        parts.push("Linux".to_string());
    }
    for o in a {
        match *o {
            "-a" | "--all" => parts.push(format!(
                "Linux {n} {KERNEL} #1 SMP Fri Nov 17 03:31:10 EST 2023 x86_64 x86_64 x86_64 GNU/Linux"
            )),
            "-s" => parts.push("Linux".into()),
            "-n" => parts.push(n.clone()),
            "-r" => parts.push(KERNEL.into()),
            "-m" | "-p" | "-i" => parts.push("x86_64".into()),
            "-o" => parts.push("GNU/Linux".into()),
            "-v" => parts.push("#1 SMP Fri Nov 17 03:31:10 EST 2023".into()),
            x => {
                eprintln!("uname: invalid option -- '{}'", x.trim_start_matches('-'));
                return 1;
            }
        }
    }
    println!("{}", parts.join(" "));
    0
}

fn getent(w: &World, a: &[&str]) -> i32 {
    if a.first() != Some(&"hosts") && a.first() != Some(&"ahosts") {
        return 2;
    }
    let mut rc = 0;
    for name in &a[1..] {
        if *name == "localhost" {
            println!("127.0.0.1       localhost");
        } else if let Some(j) = w.idx(name) {
            println!("10.0.0.{:<9} {name}", j + 1);
        } else {
            rc = 2;
        }
    }
    rc
}

fn df(w: &World, i: usize, a: &[&str]) -> i32 {
    let free = w.nodes[i].rt.disk_free_kb;
    let size: u64 = 52_403_200.max(free + 1_000_000);
    let used = size - free;
    let pct = (used * 100).div_ceil(size);
    let paths: Vec<&str> = a.iter().filter(|x| !x.starts_with('-')).copied().collect();
    if let Some(o) = a.iter().find_map(|x| x.strip_prefix("--output=")) {
        let cols: Vec<&str> = o.split(',').collect();
        let hdr: Vec<&str> = cols
            .iter()
            .map(|c| match *c {
                "avail" => "Avail",
                "size" => "1K-blocks",
                "used" => "Used",
                "target" => "Mounted on",
                "source" => "Filesystem",
                "pcent" => "Use%",
                _ => "?",
            })
            .collect();
        println!("{}", hdr.join(" "));
        for _ in 0..paths.len().max(1) {
            let v: Vec<String> = cols
                .iter()
                .map(|c| match *c {
                    "avail" => free.to_string(),
                    "size" => size.to_string(),
                    "used" => used.to_string(),
                    "target" => "/".to_string(),
                    "source" => "/dev/mapper/rhel-root".to_string(),
                    "pcent" => format!("{pct}%"),
                    _ => "?".into(),
                })
                .collect();
            println!("{}", v.join(" "));
        }
        return 0;
    }
    println!("Filesystem            1024-blocks     Used Available Capacity Mounted on");
    for _ in 0..paths.len().max(1) {
        println!("/dev/mapper/rhel-root {size:>11} {used:>8} {free:>9} {pct:>7}% /");
    }
    0
}

fn glob(pat: &str, s: &str) -> bool {
    fn m(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*'), _) => m(&p[1..], s) || (!s.is_empty() && m(p, &s[1..])),
            (Some('?'), Some(_)) => m(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = s.chars().collect();
    m(&p, &s)
}

fn fmt_pkg(qf: &Option<String>, p: &Package) -> String {
    match qf {
        None => format!("{}\n", p.nevra()),
        Some(f) => f
            .replace("%{NAME}", &p.name)
            .replace("%{VERSION}", &p.version)
            .replace("%{RELEASE}", &p.release)
            .replace("%{ARCH}", &p.arch)
            .replace("%{EPOCH}", "(none)")
            .replace("\\n", "\n")
            .replace("\\t", "\t"),
    }
}

fn pkg_matches(p: &Package, q: &str) -> bool {
    q == p.name
        || q == format!("{}-{}", p.name, p.version)
        || q == format!("{}-{}-{}", p.name, p.version, p.release)
        || q == p.nevra()
}

fn parse_rpm_file(f: &str) -> Option<Package> {
    let base = std::path::Path::new(f)
        .file_name()?
        .to_string_lossy()
        .to_string();
    let s = base.strip_suffix(".rpm")?;
    let (rest, arch) = s.rsplit_once('.')?;
    let (rest, release) = rest.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    Some(Package {
        name: name.into(),
        version: version.into(),
        release: release.into(),
        arch: arch.into(),
    })
}

fn rpm(w: &mut World, i: usize, a: &[&str]) -> i32 {
    let mut query = false;
    let mut all = false;
    let mut erase = false;
    let mut install = false;
    let mut qf: Option<String> = None;
    let mut file = false;
    let mut list = false;
    let mut names: Vec<String> = Vec::new();
    let mut k = 0;
    while k < a.len() {
        let o = a[k];
        match o {
            "--qf" | "--queryformat" => {
                k += 1;
                qf = a.get(k).map(|s| s.to_string());
            }
            "-a" | "--all" => all = true,
            "-q" | "--query" => query = true,
            "-f" | "--file" => file = true,
            "-l" | "--list" => list = true,
            "-e" | "--erase" => erase = true,
            "-i" | "--install" | "-U" | "--upgrade" | "-Uvh" | "-ivh" | "-Fvh" => install = true,
            "--nodeps" | "--noscripts" | "-v" | "-h" | "--quiet" | "--force" | "--test" => {}
            _ if o.starts_with("--qf=") || o.starts_with("--queryformat=") => {
                qf = o.split_once('=').map(|x| x.1.to_string());
            }
            _ if o.starts_with('-') && !o.starts_with("--") => {
                for c in o[1..].chars() {
                    match c {
                        'q' => query = true,
                        'a' => all = true,
                        'e' => erase = true,
                        'i' | 'U' | 'F' => install = true,
                        'f' => file = true,
                        'l' => list = true,
                        'v' | 'h' => {}
                        _ => {
                            eprintln!("rpm: -{c}: unknown option");
                            return 1;
                        }
                    }
                }
                // "-qi" is query+info; the simulator prints NEVRA only
            }
            _ if o.starts_with("--") => {
                eprintln!("rpm: {o}: unknown option");
                return 1;
            }
            _ => names.push(o.to_string()),
        }
        k += 1;
    }
    let n = &mut w.nodes[i];
    if erase {
        if names.is_empty() {
            eprintln!("rpm: no packages given for erase");
            return 1;
        }
        let mut bad = 0;
        for q in &names {
            if !n.rt.packages.iter().any(|p| pkg_matches(p, q)) {
                eprintln!("error: package {q} is not installed");
                bad += 1;
            }
        }
        if bad > 0 {
            return bad.min(255);
        }
        n.rt.packages
            .retain(|p| !names.iter().any(|q| pkg_matches(p, q)));
        if n.installed_version().is_none() {
            n.rt.running = false;
        }
        return match w.save() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("rpm: {e}");
                1
            }
        };
    }
    if install {
        let mut pk = Vec::new();
        for f in &names {
            if !std::path::Path::new(f).exists() {
                eprintln!("error: open of {f} failed: No such file or directory");
                return 1;
            }
            match parse_rpm_file(f) {
                Some(p) => pk.push(p),
                None => {
                    eprintln!("error: {f}: not an rpm package");
                    return 1;
                }
            }
        }
        for p in pk {
            n.rt.packages.retain(|x| x.name != p.name);
            n.rt.packages.push(p);
        }
        return match w.save() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("rpm: {e}");
                1
            }
        };
    }
    if !query {
        eprintln!("rpm: no operation specified");
        return 1;
    }
    let mut out = String::new();
    if all {
        for p in &n.rt.packages {
            if names.is_empty()
                || names
                    .iter()
                    .any(|g| glob(g, &p.name) || glob(g, &p.nevra()))
            {
                out.push_str(&fmt_pkg(&qf, p));
            }
        }
        print!("{out}");
        return 0;
    }
    if names.is_empty() {
        eprintln!("rpm: no arguments given for query");
        return 1;
    }
    if file {
        return query_files(n, &names, &qf);
    }
    let mut bad = 0;
    for q in &names {
        let hits: Vec<&Package> = n.rt.packages.iter().filter(|p| pkg_matches(p, q)).collect();
        if hits.is_empty() {
            out.push_str(&format!("package {q} is not installed\n"));
            bad += 1;
        }
        for p in hits {
            if list {
                for f in files_of(n, &p.name) {
                    out.push_str(&f);
                    out.push('\n');
                }
            } else {
                out.push_str(&fmt_pkg(&qf, p));
            }
        }
    }
    print!("{out}");
    bad.min(255)
}

/// The files package `name` owns on node `n`, as paths of the node (`-ql`).
fn files_of(n: &crate::model::Node, name: &str) -> Vec<String> {
    let lk = n.lkroot();
    crate::catalog::owned_by(name)
        .iter()
        .map(|rel| {
            let p = lk.join(rel.trim_end_matches('/'));
            p.to_string_lossy().trim_end_matches('/').to_string()
        })
        .collect()
}

/// `rpm -qf FILE...`: which installed package owns each file.
fn query_files(n: &crate::model::Node, files: &[String], qf: &Option<String>) -> i32 {
    use std::path::Path;
    let lk = n.lkroot();
    let mut bad = 0;
    let mut out = String::new();
    for f in files {
        let p = Path::new(f);
        // a node root other than / sees its own files under it
        let host = if n.root != Path::new("/") && !p.starts_with(&n.root) {
            n.root.join(p.strip_prefix("/").unwrap_or(p))
        } else {
            p.to_path_buf()
        };
        if !host.exists() {
            out.push_str(&format!("error: file {f}: No such file or directory\n"));
            bad += 1;
            continue;
        }
        let rel = host.strip_prefix(&lk).ok().map(|r| {
            let r = r.to_string_lossy().to_string();
            if host.is_dir() && !r.is_empty() {
                format!("{r}/")
            } else {
                r
            }
        });
        let owner = rel.and_then(|r| {
            n.rt.packages
                .iter()
                .find(|pk| crate::catalog::owned_by(&pk.name).contains(&r))
        });
        match owner {
            Some(pk) => out.push_str(&fmt_pkg(qf, pk)),
            None => {
                out.push_str(&format!("file {f} is not owned by any package\n"));
                bad += 1;
            }
        }
    }
    print!("{out}");
    bad.min(255)
}

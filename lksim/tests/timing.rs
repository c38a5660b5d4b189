//! The timing model (issue 20): commands take the time of a real node times the time scale;
//! other commands keep running meanwhile; each resource's start and end are recorded.
mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn cluster(tag: &str, timings: &str) -> Cluster {
    let dir = tmpdir(tag);
    let t = dir.join("timings.json");
    std::fs::write(&t, timings).unwrap();
    Cluster::create(tag, &["--timings", t.to_str().unwrap()])
}

#[test]
fn perform_action_takes_its_time_per_resource_and_lets_lcdstatus_run() {
    let c = cluster("pace", r#"{"perform_action": 10}"#);
    let mut cmd = Command::new(c.lkroot("node-b").join("bin/perform_action"));
    cmd.args(["-t", "app-pgsql", "-a", "restore"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LKSIM_TIME_SCALE", "0.02")
        .stdout(std::process::Stdio::null());
    let t0 = Instant::now();
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // mid-switchover: lcdstatus answers at once and shows the hierarchy on its way
    let t1 = Instant::now();
    let o = c.lk("node-a", "lcdstatus", &["-e"]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        t1.elapsed() < Duration::from_millis(400),
        "{:?}",
        t1.elapsed()
    );
    assert!(o.out.contains("OSU"), "{}", o.out);
    assert!(child.wait().unwrap().success());
    // 5 resources removed on node-a and 5 restored on node-b, 0.2 s each
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    let a = c.node_state("node-a")["actions"]
        .as_array()
        .unwrap()
        .clone();
    let b = c.node_state("node-b")["actions"]
        .as_array()
        .unwrap()
        .clone();
    let root_removed = a.iter().find(|r| r["tag"] == "app-pgsql").unwrap()["started_ms"]
        .as_u64()
        .unwrap();
    let root_back = b.iter().find(|r| r["tag"] == "app-pgsql").unwrap()["ended_ms"]
        .as_u64()
        .unwrap();
    let interruption = root_back - root_removed;
    assert!((1800..10_000).contains(&interruption), "{interruption} ms");
    for r in a.iter().chain(b.iter()) {
        let d = r["ended_ms"].as_u64().unwrap() - r["started_ms"].as_u64().unwrap();
        assert!(d >= 190, "{r}");
    }
}

#[test]
fn time_scale_zero_waits_for_nothing() {
    let c = cluster(
        "nowait",
        r#"{"perform_action": 1000, "lkbackup": 1000, "lkstop": 1000}"#,
    );
    let t0 = Instant::now();
    assert_eq!(
        c.lk(
            "node-b",
            "perform_action",
            &["-t", "app-pgsql", "-a", "restore"]
        )
        .code,
        0
    );
    assert_eq!(c.lk("node-b", "lkbackup", &["-c"]).code, 0);
    assert_eq!(c.lk("node-a", "lkstop", &[]).code, 0);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(c.node_state("node-a")["time_scale"], 0.0);
}

#[test]
fn scale_in_the_timings_file_and_bad_timings_are_refused() {
    let c = cluster("filescale", r#"{"lkbackup": 20, "scale": 0.02}"#);
    let t0 = Instant::now();
    assert_eq!(c.lk("node-a", "lkbackup", &["-c"]).code, 0);
    assert!(
        t0.elapsed() >= Duration::from_millis(390),
        "{:?}",
        t0.elapsed()
    );
    let dir = tmpdir("badtimings");
    let t = dir.join("t.json");
    for bad in [r#"{"setpu": 1}"#, r#"{"setup": -1}"#, "nope"] {
        std::fs::write(&t, bad).unwrap();
        let d = dir.join("c");
        let o = lksim(&[
            "cluster",
            "create",
            "--dir",
            d.to_str().unwrap(),
            "--nodes",
            "a,b",
            "--force",
            "--timings",
            t.to_str().unwrap(),
        ]);
        assert_eq!(o.code, 1, "{bad}: {}", o.out);
        assert!(o.err.contains("--timings"), "{}", o.err);
    }
}

#[test]
fn setup_takes_its_time_with_lifekeeper_stopped_most_of_it() {
    let c = cluster(
        "setup-time",
        r#"{"setup": 50, "lkstart": 20, "scale": 0.02}"#,
    );
    let m = c.dir.join("media-9.6.1");
    // setup refuses to run without the media's package folder next to it
    std::fs::create_dir_all(m.join("RPMS")).unwrap();
    let conf = c.write_conf("c.conf", "LKCONF_START_LIFEKEEPER=y\n");
    let mut cmd = Command::new(c.path("node-b").join("lksim-setup"));
    cmd.args([
        "--media-dir",
        m.to_str().unwrap(),
        "--media-version",
        "9.6.1",
    ])
    .args(["-f", conf.to_str().unwrap(), "-q", "y"])
    .current_dir(&m)
    .stdout(std::process::Stdio::null());
    let t0 = Instant::now();
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // half-way: LifeKeeper stopped, lktest says so, others still answer
    assert_ne!(c.lk("node-b", "lktest", &[]).code, 0);
    assert!(child.wait().unwrap().success());
    assert!(
        t0.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t0.elapsed()
    );
    let done = c.lkroot("node-b").join("config/LK_INITDONE");
    assert!(!done.exists(), "start-up still running (20 s x 0.02)");
    let t1 = Instant::now();
    while !done.exists() {
        assert!(t1.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.node_state("node-b")["version"], "9.6.1");
}

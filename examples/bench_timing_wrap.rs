//! Bench helper (not a product binary): stands in for an lk_* module inside a timed playbook run
//! so `bench/run` can split the wall time into "ours" (the module process) and "Ansible's" (the
//! rest). Ansible copies this file under the module's name and runs `<tmp>/AnsiballZ_lk_x <argsfile>`; it
//! runs `$LKBENCH_REAL_DIR/lk_x <argsfile>` with the same stdio, waits, and appends one line
//! `name start_ns end_ns wall_us cpu_us` to `$LKBENCH_LOG` (one write with O_APPEND, so parallel
//! hosts do not interleave). cpu_us is the module's user+sys time including the commands it ran.
//! Its own cost (one extra fork+exec, ~1 ms) is outside the interval it reports.
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::time::{SystemTime, UNIX_EPOCH};

fn ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    // Ansible 2.19 names the copied binary `AnsiballZ_<module>`.
    let name = name.strip_prefix("AnsiballZ_").unwrap_or(&name).to_string();
    let real_dir = std::env::var_os("LKBENCH_REAL_DIR").expect("LKBENCH_REAL_DIR");
    let real = std::path::Path::new(&real_dir).join(&name);
    let start = ns();
    let child = std::process::Command::new(&real)
        .args(args)
        .spawn()
        .unwrap_or_else(|e| {
            println!(
                "{{\"failed\": true, \"msg\": \"bench_timing_wrap: cannot run {}: {e}\"}}",
                real.display()
            );
            std::process::exit(1)
        });
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 for the child's rusage (its own CPU time plus that of the commands it waited for).
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let end = ns();
    let cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) as i64 * 1_000_000
        + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) as i64;
    if let Some(log) = std::env::var_os("LKBENCH_LOG") {
        let line = format!("{name} {start} {end} {} {cpu_us}\n", (end - start) / 1000);
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(log)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
    std::mem::forget(child);
    let code = if r == pid {
        let st = std::process::ExitStatus::from_raw(status);
        st.code().unwrap_or(1)
    } else {
        1
    };
    std::process::exit(code)
}

//! Security properties that hold for the whole product code (src/), checked on the source.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Product code without its `#[cfg(test)] mod tests` blocks (tests may use a shell).
fn product_sources() -> Vec<(PathBuf, String)> {
    let mut files = vec![];
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let product = text.split("#[cfg(test)]").next().unwrap().to_string();
            (p, product)
        })
        .collect()
}

#[test]
fn no_shell_is_ever_started_by_product_code() {
    for (path, src) in product_sources() {
        for (n, line) in src.lines().enumerate() {
            let l = line.trim();
            if l.starts_with("//") {
                continue;
            }
            for bad in [
                "\"sh\"",
                "\"/bin/sh\"",
                "\"bash\"",
                "\"/bin/bash\"",
                "\"dash\"",
                "\"zsh\"",
                "sh -c",
            ] {
                assert!(
                    !l.contains(bad),
                    "{}:{}: shell invocation {bad}: {l}",
                    path.display(),
                    n + 1
                );
            }
        }
    }
}

#[test]
fn every_command_goes_through_the_shared_runner() {
    for (path, src) in product_sources() {
        if path.ends_with("runtime/cmd.rs") {
            continue;
        }
        for (n, line) in src.lines().enumerate() {
            assert!(
                (!line.contains("Command::new(") || line.contains("clap::Command"))
                    && !line.contains("process::Command"),
                "{}:{}: use runtime::Cmd and ctx.runner, not std::process::Command directly",
                path.display(),
                n + 1
            );
        }
    }
}

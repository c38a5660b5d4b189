//! Bench helper (not a product binary): hash FILE with the exact function lk_backup uses
//! (`lkops::runtime::fs::sha256_file`) and print `<hex>  <FILE>` like sha256sum, so `bench/run`
//! can time it against `sha256sum FILE` with hyperfine and check that both agree.
//!
//!   cargo build --release --example sha256_bench
//!   target/release/examples/sha256_bench FILE
use std::path::Path;

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: sha256_bench FILE");
        std::process::exit(2);
    };
    match lkops::runtime::fs::sha256_file(Path::new(&path)) {
        Ok(hex) => println!("{hex}  {}", Path::new(&path).display()),
        Err(e) => {
            eprintln!("sha256_bench: {e}");
            std::process::exit(1);
        }
    }
}

//! Bench helper (not a product binary): parse time and peak heap of the shared `lcdstatus -e`
//! parser (`lkops::lifekeeper::status::parse`) on a given output file.
//!
//!   target/release/examples/lcdstatus_parse_bench FILE [RUNS]
//!
//! Prints one JSON object. Every timing is also given for a baseline measured in the same
//! process on the same text: the least any line-oriented parser must do (split into lines, split
//! each line into words, touch every word). Peak heap is measured by a counting global allocator
//! around one parse (bytes live at the peak, above what was live before the parse started).
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
            ALLOCS.fetch_add(1, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            let now = if new >= l.size() {
                LIVE.fetch_add(new - l.size(), Relaxed) + (new - l.size())
            } else {
                LIVE.fetch_sub(l.size() - new, Relaxed) - (l.size() - new)
            };
            PEAK.fetch_max(now, Relaxed);
            ALLOCS.fetch_add(1, Relaxed);
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The floor: lines, words, and a checksum over the words so nothing is optimised away.
fn baseline(text: &str) -> usize {
    let mut acc = 0usize;
    for line in text.lines() {
        for w in line.split_whitespace() {
            acc = acc
                .wrapping_add(w.len())
                .wrapping_add(w.as_bytes()[0] as usize);
        }
    }
    acc
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[0], v[v.len() / 2])
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: lcdstatus_parse_bench FILE [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let text = std::fs::read_to_string(&file).expect("read FILE");

    // Peak heap of one (cold) parse.
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let allocs0 = ALLOCS.load(Relaxed);
    let t = Instant::now();
    let st = lkops::lifekeeper::status::parse(&text).expect("parse");
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let peak = PEAK.load(Relaxed) - before;
    let retained = LIVE.load(Relaxed) - before;
    let allocs = ALLOCS.load(Relaxed) - allocs0;
    let n = st.resources.len();
    let max_depth = st.resources.iter().map(|r| r.depth).max().unwrap_or(0);
    let roots = st.roots().count();
    drop(st);

    let mut parse_ms = vec![];
    let mut base_ms = vec![];
    let mut sink = 0usize;
    for _ in 0..runs {
        let t = Instant::now();
        sink = sink.wrapping_add(baseline(std::hint::black_box(&text)));
        base_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let st = lkops::lifekeeper::status::parse(std::hint::black_box(&text)).expect("parse");
        parse_ms.push(t.elapsed().as_secs_f64() * 1e3);
        sink = sink.wrapping_add(st.resources.len());
    }
    // The parser's duplicate-tag check, reproduced on its own (same expression as in
    // status::parse: each new tag compared with every tag already kept), so its share of the
    // parse time is a measurement rather than a reading of the profile.
    let st = lkops::lifekeeper::status::parse(&text).expect("parse");
    let mut dup_ms = vec![];
    for _ in 0..runs.min(5) {
        let t = Instant::now();
        let mut dups = 0usize;
        for i in 0..st.resources.len() {
            let tag = &std::hint::black_box(&st.resources)[i].tag;
            if st.resources[..i].iter().any(|x| x.tag == *tag) {
                dups += 1;
            }
        }
        dup_ms.push(t.elapsed().as_secs_f64() * 1e3);
        sink = sink.wrapping_add(dups);
    }
    drop(st);
    let (dmin, dmed) = stats(dup_ms);
    let (pmin, pmed) = stats(parse_ms);
    let (bmin, bmed) = stats(base_ms);
    println!(
        "{{\"file_bytes\":{},\"lines\":{},\"resources\":{n},\"roots\":{roots},\"max_depth\":{max_depth},\
\"runs\":{runs},\"first_parse_ms\":{first_ms:.3},\"parse_ms_min\":{pmin:.3},\"parse_ms_median\":{pmed:.3},\
\"baseline_ms_min\":{bmin:.3},\"baseline_ms_median\":{bmed:.3},\"peak_heap_bytes\":{peak},\
\"retained_heap_bytes\":{retained},\"dup_check_ms_min\":{dmin:.3},\"dup_check_ms_median\":{dmed:.3},\"allocations\":{allocs},\"sink\":{}}}",
        text.len(),
        text.lines().count(),
        sink % 10
    );
}

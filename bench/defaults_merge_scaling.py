#!/usr/bin/env python3
"""How lk_defaults_merge scales with the number of carried keys (issue 22, defect 14).

Usage: bench/defaults_merge_scaling.py [BINARY] [N ...]
Runs BINARY (default target/release/lk_defaults_merge, else target/debug) on generated files with
N carried keys each (default 7500 15000 30000 60000), all in this one run, and prints a Markdown
table: seconds (min of 3) and the ratio of each size's time to the previous size's. A linear merge
doubles its time when the keys double (ratio ~2); the quadratic one it replaced quadrupled (~4).
Each key lands in one of the three places the merge writes: in place, after its commented-out
default, appended. Files go to bench/.work/ (ignored).
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def files(n, work):
    pad = "x" * 64
    src, dest = [], []
    for i in range(n):
        src.append(f"K{i}=site{i}{pad}\n")
        dest.append(
            [f"# about K{i}\nK{i}=new{i}\n", f"#K{i}=default\n", f"# unrelated {i}\n"][i % 3]
        )
    s, d = os.path.join(work, f"old{n}"), os.path.join(work, f"dest{n}")
    with open(s, "w") as f:
        f.write("".join(src))
    return s, d, "".join(dest)


def run(binary, n, work):
    s, d, dest = files(n, work)
    best = None
    for _ in range(3):
        with open(d, "w") as f:
            f.write(dest)
        args = os.path.join(work, "args.json")
        with open(args, "w") as f:
            json.dump({"src": s, "dest": d, "backup": False}, f)
        t = time.monotonic()
        out = subprocess.run([binary, args], capture_output=True, check=False)
        took = time.monotonic() - t
        v = json.loads(out.stdout)
        assert not v["failed"] and len(v["carried"]) == n, v["msg"]
        best = took if best is None else min(best, took)
    return best, os.path.getsize(s)


def main():
    args = sys.argv[1:]
    binary = None
    if args and not args[0].isdigit():
        binary = args.pop(0)
    if binary is None:
        for p in ("target/release/lk_defaults_merge", "target/debug/lk_defaults_merge"):
            if os.path.exists(os.path.join(ROOT, p)):
                binary = os.path.join(ROOT, p)
                break
    sizes = [int(a) for a in args] or [7500, 15000, 30000, 60000]
    work = os.path.join(HERE, ".work", "defaults_merge_scaling")
    os.makedirs(work, exist_ok=True)
    print(f"binary: `{os.path.relpath(binary, ROOT)}`, load at start: {os.getloadavg()[0]:.2f}\n")
    print("| carried keys | src bytes | seconds (min of 3) | x previous size |")
    print("|---|---|---|---|")
    prev = None
    for n in sizes:
        secs, size = run(binary, n, work)
        ratio = f"{secs / prev:.2f}x" if prev else ""
        print(f"| {n} | {size} | {secs:.3f} | {ratio} |")
        prev = secs


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Write an lksim --hierarchies SPEC with N resources in deep hierarchies (bench item 4).

Each hierarchy has a root with two dependency chains under it, so a hierarchy of size S is
~S/2 levels deep (default S=50: depth 25), the depth LifeKeeper prints as indentation. IDs mix
shapes seen in real output (IPs, paths, WWID-like strings). Half the hierarchies are active on
the second node so both BACKUP/PRIMARY spellings appear.

    gen_hierarchies.py N [SIZE] > spec.json
"""
import json
import sys

n = int(sys.argv[1])
size = int(sys.argv[2]) if len(sys.argv) > 2 else 50
res = []
h = 0
while len(res) < n:
    k = min(size, n - len(res))
    active = "node-a" if h % 2 == 0 else "node-b"
    tags = [f"h{h:04d}-r{i:03d}" for i in range(k)]
    for i, tag in enumerate(tags):
        kind = i % 4
        rid = [f"IP-10.{h // 250}.{h % 250}.{i}", f"/export/h{h}/vol{i}",
               f"36000c29{h:08x}{i:016x}", f"pgsql-{5432 + i}"][kind]
        # root -> r1 -> r3 -> r5 ...  and  root -> r2 -> r4 -> r6 ...
        children = [t for t in (tags[i + 2] if i + 2 < k and i > 0 else None,) if t]
        if i == 0:
            children = tags[1:3]
        res.append({"tag": tag, "id": rid, "app": "gen", "type": "app",
                    "children": children, "active": active})
    h += 1
json.dump(res, sys.stdout)

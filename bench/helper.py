#!/usr/bin/env python3
"""Helper for bench/run (standard library only).

  helper.py compare OUTDIR LABEL        redline's JSON vs ccusage's, in tokens
  helper.py ccstat-check OUTDIR LABEL   ccstat's daily totals vs ccusage's (information only)
  helper.py table TIMES.tsv SIZES.tsv OUT.md [--quick]
                                        medians, ratios, targets; prints and writes OUT.md
  helper.py standin SRC OUT COPIES      a stand-in corpus: COPIES renamed copies of SRC/projects
"""

import json
import os
import re
import pathlib
import statistics
import sys

DAILY_TOKENS = ["inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens"]
BREAKDOWN_TOKENS = ["inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens"]
BLOCK_TOKENS = ["inputTokens", "outputTokens", "cacheCreationInputTokens", "cacheReadInputTokens"]
MAX_SHOWN = 20


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------- parity

def compare_rows(kind, list_key, key, fields, want, got, diffs, breakdowns=False, nested=None):
    def index(doc):
        rows = doc.get(list_key)
        if not isinstance(rows, list):
            raise ValueError(f"no `{list_key}` array")
        return {str(r.get(key)): r for r in rows}

    w, g = index(want), index(got)
    for k in sorted(set(w) - set(g)):
        diffs.append(f"{kind} [{k}]: row only in ccusage")
    for k in sorted(set(g) - set(w)):
        diffs.append(f"{kind} [{k}]: row only in redline")
    for k in sorted(set(w) & set(g)):
        a, b = w[k], g[k]
        if nested:
            a, b = a.get(nested) or {}, b.get(nested) or {}
        for f in fields:
            if a.get(f) != b.get(f):
                where = f"{nested}.{f}" if nested else f
                diffs.append(f"{kind} [{k}] {where}: ccusage {a.get(f)}, redline {b.get(f)}")
        if breakdowns:
            bw = {m.get("modelName"): m for m in w[k].get("modelBreakdowns") or []}
            bg = {m.get("modelName"): m for m in g[k].get("modelBreakdowns") or []}
            if set(bw) != set(bg):
                diffs.append(f"{kind} [{k}] models: ccusage {sorted(bw)}, redline {sorted(bg)}")
            for m in sorted(set(bw) & set(bg)):
                for f in BREAKDOWN_TOKENS:
                    if bw[m].get(f) != bg[m].get(f):
                        diffs.append(
                            f"{kind} [{k} {m}] {f}: ccusage {bw[m].get(f)}, redline {bg[m].get(f)}")
    return len(w), len(g)


def compare_totals(kind, want, got, diffs):
    a, b = want.get("totals") or {}, got.get("totals") or {}
    for f in DAILY_TOKENS:
        if a.get(f) != b.get(f):
            diffs.append(f"{kind} totals {f}: ccusage {a.get(f)}, redline {b.get(f)}")


def block_totals(doc):
    t = dict.fromkeys(BLOCK_TOKENS, 0)
    for blk in doc.get("blocks") or []:
        for f in BLOCK_TOKENS:
            t[f] += (blk.get("tokenCounts") or {}).get(f) or 0
    return t


def cmd_compare(outdir, label):
    diffs = []
    summary = []
    for kind, list_key, key in [("daily", "daily", "date"), ("session", "sessions", "sessionId"),
                                ("blocks", "blocks", "id")]:
        here = []
        try:
            want = load(os.path.join(outdir, f"ccusage-{kind}.json"))
            got = load(os.path.join(outdir, f"redline-{kind}.json"))
            if kind == "blocks":
                nw, ng = compare_rows(kind, list_key, key, BLOCK_TOKENS, want, got, here,
                                      nested="tokenCounts")
                tw, tg = block_totals(want), block_totals(got)
                for f in BLOCK_TOKENS:
                    if tw[f] != tg[f]:
                        here.append(f"blocks sum {f}: ccusage {tw[f]}, redline {tg[f]}")
            else:
                nw, ng = compare_rows(kind, list_key, key, DAILY_TOKENS, want, got, here,
                                      breakdowns=True)
                compare_totals(kind, want, got, here)
            if nw == 0:
                here.append(f"{kind}: ccusage reports no rows (corpus not read?)")
        except (OSError, ValueError) as e:
            here.append(f"{kind}: cannot compare: {e}")
            nw = ng = 0
        summary.append(f"{kind} {'OK' if not here else 'DIFFERS'} ({nw} rows)")
        diffs += here
    print(f"  parity {label}: " + ", ".join(summary))
    for d in diffs[:MAX_SHOWN]:
        print(f"    {d}")
    if len(diffs) > MAX_SHOWN:
        print(f"    ... and {len(diffs) - MAX_SHOWN} more differences")
    return 1 if diffs else 0


def load_ccstat(path):
    """ccstat 0.6.2 prints its log warnings on stdout, before the JSON document."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find("\n{")
    return json.loads(text if text.startswith("{") else text[start + 1:] if start >= 0 else text)


def find_totals(doc):
    """ccstat's shape is not ccusage's: {"totals": {"tokens": {"input_tokens", ...}}}."""
    if isinstance(doc, dict):
        t = doc.get("totals")
        if isinstance(t, dict):
            return t.get("tokens") if isinstance(t.get("tokens"), dict) else t
    return None


def cmd_ccstat_check(outdir, label):
    try:
        want = load(os.path.join(outdir, "ccusage-daily.json"))["totals"]
        got = find_totals(load_ccstat(os.path.join(outdir, "ccstat-daily.json")))
    except (OSError, ValueError, KeyError) as e:
        print(f"  ccstat {label}: cannot read its daily JSON: {e}")
        return 0
    if got is None:
        print(f"  ccstat {label}: no totals in its daily JSON")
        return 0
    names = {
        "inputTokens": ["inputTokens", "input_tokens"],
        "outputTokens": ["outputTokens", "output_tokens"],
        "cacheCreationTokens": ["cacheCreationTokens", "cache_creation_tokens"],
        "cacheReadTokens": ["cacheReadTokens", "cache_read_tokens"],
    }
    parts = []
    for f, alts in names.items():
        v = next((got[a] for a in alts if a in got), None)
        parts.append(f"{f} {'same' if v == want.get(f) else f'{v} (ccusage {want.get(f)})'}")
    print(f"  ccstat {label} daily totals (information only): " + ", ".join(parts))
    return 0


# ---------------------------------------------------------------- timing table

TOOLS = ["redline", "redline-warm", "redline+1%", "listing", "floor", "ccusage", "ccstat", "cat"]


def cmd_table(times_path, sizes_path, out_path, quick, index_path=None):
    # times: label tool round wall user sys maxrss_kb
    runs = {}
    with open(times_path) as f:
        for line in f:
            p = line.split()
            if len(p) != 7:
                continue
            label, tool, _round, wall, user, sys_, rss = p
            runs.setdefault(label, {}).setdefault(tool, []).append(
                (float(wall), float(user) + float(sys_), int(rss) / 1024.0))
    index = {}
    if index_path and os.path.exists(index_path):
        with open(index_path) as f:
            for line in f:
                p = line.split()
                if len(p) == 3:
                    index[p[0]] = (int(p[1]), float(p[2]))
    sizes = {}
    with open(sizes_path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 4:
                sizes[p[0]] = (int(p[1]), int(p[2]), int(p[3]))  # bytes, files, responses
    out = []
    med = {}
    for label in sizes:
        if label not in runs:
            continue
        size, files, responses = sizes[label]
        n = max(len(v) for v in runs[label].values())
        out.append(f"### {label} corpus: {size / 1e6:.0f} MB, {files} files, {responses} responses "
                   f"(medians of {n} runs)")
        out.append("")
        out.append("| tool | wall s | CPU s | peak RSS MB | wall / redline's |")
        out.append("|---|---:|---:|---:|---:|")
        m = {}
        for tool in TOOLS:
            if tool not in runs[label]:
                continue
            rs = runs[label][tool]
            m[tool] = tuple(statistics.median(x[i] for x in rs) for i in range(3))
        med[label] = m
        r = m.get("redline")
        for tool, (wall, cpu, rss) in m.items():
            ratio = f"{wall / r[0]:.2f}x" if r and r[0] > 0 else "-"
            if tool == "listing":
                out.append(f"| {tool} (of the warm run) | {wall:.3f} | - | - | {ratio} |")
            elif tool == "floor":
                out.append(f"| floor (listing + decoding the index) | {wall:.3f} | - | - | {ratio} |")
            else:
                out.append(f"| {tool} | {wall:.3f} | {cpu:.2f} | {rss:.1f} | {ratio} |")
        if r:
            said = [f"{m[t][0] / r[0]:.1f}x faster than {t}" for t in ("ccusage", "ccstat") if t in m]
            if "cat" in m:
                said.append(f"{r[0] / m['cat'][0]:.2f}x the wall time of cat")
            out.append("")
            out.append("redline: " + ", ".join(said) + ".")
        w = m.get("redline-warm")
        if w and w[0] > 0:
            said = [f"{m[t][0] / w[0]:.1f}x faster than {t}" for t in ("ccusage", "ccstat") if t in m]
            if "listing" in m and m["listing"][0] > 0:
                said.append(f"{w[0] / m['listing'][0]:.2f}x its own listing")
                if "floor" in m:
                    said.append(f"the floor is {m['floor'][0] / m['listing'][0]:.2f}x the listing")
            if "redline+1%" in m:
                said.append(f"after 1 % new responses {m['redline+1%'][0] / w[0]:.2f}x the warm time")
            if label in index:
                size, per = index[label]
                said.append(f"index {size / 1e6:.1f} MB, {per:.1f} bytes a response")
            out.append("")
            out.append("redline with its index: " + ", ".join(said) + ".")
        out.append("")

    # Targets: the corpora in order are the ~250 MB, ~700 MB and ~1.8 GB ones.
    labels = [lb for lb in sizes if lb in med]
    checks = []
    ok_all = True

    def check(name, ok, detail):
        nonlocal ok_all
        if ok is None:
            checks.append(f"{name} n/a ({detail})")
            return
        ok_all &= ok
        checks.append(f"{name} {'PASS' if ok else 'FAIL'} ({detail})")

    for lb in labels[1:3]:
        m = med[lb]
        if "redline" in m and "ccusage" in m:
            x = m["ccusage"][0] / m["redline"][0]
            check(f">=10x ccusage on {lb}", x >= 10, f"{x:.1f}x")
    if labels:
        m = med[labels[0]]
        if "redline" in m and "cat" in m:
            x = m["redline"][0] / m["cat"][0]
            check(f"<=1.5x cat on {labels[0]}", x <= 1.5, f"{x:.2f}x")
    if len(labels) >= 3:
        lb = labels[2]
        m = med[lb]
        w = m.get("redline-warm")
        if w and "ccusage" in m:
            x = m["ccusage"][0] / w[0]
            check(f"warm >=100x ccusage on {lb}", x >= 100, f"{x:.1f}x, {w[0] * 1000:.0f} ms")
        if w and "redline+1%" in m:
            x = m["redline+1%"][0] / w[0]
            check(f"+1 % <=2x warm on {lb}", x <= 2, f"{x:.2f}x")
        if w and "listing" in m:
            x = w[0] / m["listing"][0]
            holds = "75 ms holds" if w[0] <= 0.075 else ("1.5x the listing holds" if x <= 1.5 else "neither holds")
            floor = ""
            if "floor" in m:
                floor = f"; the floor alone {m['floor'][0] * 1000:.0f} ms, {m['floor'][0] / m['listing'][0]:.2f}x"
            check(f"warm <=75 ms or <=1.5x the listing on {lb}", w[0] <= 0.075 or x <= 1.5,
                  f"{w[0] * 1000:.0f} ms, {x:.2f}x the listing's {m['listing'][0] * 1000:.0f} ms: {holds}{floor}")
        if lb in index:
            check(f"index <40 bytes a response on {lb}", index[lb][1] < 40, f"{index[lb][1]:.1f}")
    for lb in labels:
        if "redline" in med[lb]:
            rss = med[lb]["redline"][2]
            worst = max(x[2] for x in runs[lb]["redline"])
            check(f"<64 MB RSS on {lb}", worst < 64, f"median {rss:.0f} MB, max {worst:.0f} MB")
    if len(labels) < 3:
        checks.append("(the 10x targets need the 700MB and 1.8GB corpora: run without --quick)")
    out.append("targets: " + "; ".join(checks))
    text = "\n".join(out) + "\n"
    print(text, end="")
    with open(out_path, "w") as f:
        f.write(text)
    return 0 if ok_all else 2


# ---------------------------------------------------------------- 1 % more
def cmd_append(projects, gen_dir, undo_path, seed):
    """Appends each generated transcript to an existing one of the corpus (picked by a
    seeded generator), as sessions that go on; writes what it takes to undo it."""
    import random
    targets = sorted(str(p) for p in pathlib.Path(projects).rglob("*.jsonl"))
    new = sorted(str(p) for p in pathlib.Path(gen_dir).rglob("*.jsonl"))
    rng = random.Random(seed)
    undo = {}
    for src in new:
        dst = rng.choice(targets)
        if dst not in undo:
            st = os.stat(dst)
            undo[dst] = (st.st_size, st.st_atime_ns, st.st_mtime_ns)
        with open(src, "rb") as f, open(dst, "ab") as g:
            g.write(f.read())
    with open(undo_path, "w") as f:
        for dst, (size, atime, mtime) in undo.items():
            f.write(f"{size}\t{atime}\t{mtime}\t{dst}\n")
    return 0


def cmd_undo(undo_path):
    """Cuts each appended transcript back to its size and puts its times back."""
    with open(undo_path) as f:
        for line in f:
            size, atime, mtime, dst = line.rstrip("\n").split("\t", 3)
            os.truncate(dst, int(size))
            os.utime(dst, ns=(int(atime), int(mtime)))
    os.remove(undo_path)
    return 0


# ---------------------------------------------------------------- stand-in corpus

def cmd_standin(src, out, copies):
    """Copies SRC/projects COPIES times into OUT/projects under renamed projects, sessions,
    message ids and request ids, so every copy counts as new responses."""
    src_projects = os.path.join(src, "projects")
    files = []
    for root, _dirs, names in os.walk(src_projects):
        for n in names:
            if n.endswith(".jsonl"):
                files.append(os.path.relpath(os.path.join(root, n), src_projects))
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    sessions = set()
    for rel in files:
        sessions.update(uuid.findall(rel))
    for i in range(copies):
        tag = f"{i:04x}"
        for rel in sorted(files):
            with open(os.path.join(src_projects, rel), encoding="utf-8") as f:
                text = f.read()
            new_rel = rel
            for s in sessions:
                s2 = s[:-4] + tag
                text = text.replace(s, s2)
                new_rel = new_rel.replace(s, s2)
            project, rest = new_rel.split(os.sep, 1)
            new_rel = os.path.join(f"{project}-c{tag}", rest)
            text = text.replace('"msg_', f'"msg_c{tag}').replace('"req_', f'"req_c{tag}')
            dst = os.path.join(out, "projects", new_rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "w", encoding="utf-8") as f:
                f.write(text)
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "compare":
        return cmd_compare(argv[1], argv[2])
    if len(argv) >= 3 and argv[0] == "ccstat-check":
        return cmd_ccstat_check(argv[1], argv[2])
    if len(argv) >= 4 and argv[0] == "table":
        rest = argv[4:]
        index = rest[rest.index("--index") + 1] if "--index" in rest[:-1] else None
        return cmd_table(argv[1], argv[2], argv[3], "--quick" in rest, index)
    if len(argv) == 5 and argv[0] == "append":
        return cmd_append(argv[1], argv[2], argv[3], int(argv[4]))
    if len(argv) == 2 and argv[0] == "undo":
        return cmd_undo(argv[1])
    if len(argv) == 4 and argv[0] == "standin":
        return cmd_standin(argv[1], argv[2], int(argv[3]))
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

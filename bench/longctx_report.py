#!/usr/bin/python3
"""Turns bench/longctx.sh's runs (runs.tsv and each run's JSON) into the Markdown table of the README's
long-context section and an SVG plot (explanation CPU time and peak RSS against the length, log-log, engine
and PyTorch twin).

    bench/longctx_report.py [--runs bench/longctx-out] [--svg docs/long-context.svg] [--attn auto]
                            [--results bench/RESULTS.md]   # also write the table as its longctx section

For each (program, length) the latest successful run counts; a length at which the twin only failed is
shown as failed. Engine runs of other attention modes (LONG_ATTN=stored, blockwise) are listed in extra
rows, not plotted.
"""
import argparse
import csv
import json
import math
import os


def load(runs_dir):
    rows = []
    with open(os.path.join(runs_dir, "runs.tsv")) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            who, T = r["who"], int(r["T"])
            tag = f"{who}-{r['attn']}-{T}" if who == "engine" else f"{who}-{T}"
            js = os.path.join(runs_dir, tag + ".json")
            res = None
            if r["status"] == "ok":
                try:
                    res = json.load(open(js))["results"][0]
                except (OSError, ValueError, KeyError, IndexError):
                    res = None
            rows.append(dict(who=who, T=T, attn=r["attn"], ok=res is not None, res=res,
                             rss_kb=int(r["peak_rss_kb"]) if r["peak_rss_kb"].isdigit() else None,
                             wall=r["wall_s"], note=r.get("note") or ""))
    return rows


def latest(rows, who, attn=None):
    out = {}
    for r in rows:
        if r["who"] != who or (attn is not None and r["attn"] != attn):
            continue
        if r["ok"] or r["T"] not in out or not out[r["T"]]["ok"]:
            out[r["T"]] = r
    return out


def fmt_s(ms):
    return f"{ms / 1000:.1f} s" if ms < 600000 else f"{ms / 60000:.1f} min"


def fmt_mb(kb):
    return f"{kb / 1024 / 1024:.2f} GiB"


def table(rows, attn):
    eng, tor = latest(rows, "engine", attn), latest(rows, "torch")
    lengths = sorted(set(eng) | set(tor))
    out = ["| tokens | engine explain (CPU time) | engine peak RSS | PyTorch explain (CPU time) | PyTorch peak RSS | "
           "PyTorch / engine time, wall (CPU) | memory engine / PyTorch |", "|---|---|---|---|---|---|---|"]
    for T in lengths:
        e, t = eng.get(T), tor.get(T)
        cells = [str(T)]
        for r in (e, t):
            if r is None:
                cells += ["not run", "-"]
            elif not r["ok"]:
                oom = "allocate" in r["note"] or "out of memory" in r["note"]
                cells += ["failed: out of memory" if oom else "failed: " + (r["note"][:70] or "?"),
                          f"> {fmt_mb(r['rss_kb'])}" if oom and r["rss_kb"] else "-"]
            else:
                cells += [f"{fmt_s(r['res']['explain_ms'])} ({fmt_s(r['res']['explain_cpu_ms'])})", fmt_mb(r["rss_kb"])]
        if e and t and e["ok"] and t["ok"]:
            cells += [f"{t['res']['explain_ms'] / e['res']['explain_ms']:.2f} "
                      f"({t['res']['explain_cpu_ms'] / e['res']['explain_cpu_ms']:.2f})", f"{e['rss_kb'] / t['rss_kb']:.2f}"]
        else:
            cells += ["-", "-"]
        out.append("| " + " | ".join(cells) + " |")
    extra = [r for r in rows if r["who"] == "engine" and r["attn"] != attn and r["ok"]]
    for r in sorted(extra, key=lambda r: (r["attn"], r["T"])):
        out.append(f"| {r['T']} (engine, ATTNLRP_ATTN={r['attn']}) | {fmt_s(r['res']['explain_ms'])} "
                   f"({fmt_s(r['res']['explain_cpu_ms'])}) | {fmt_mb(r['rss_kb'])} | | | | |")
    return "\n".join(out)


def svg(rows, attn, path):
    eng, tor = latest(rows, "engine", attn), latest(rows, "torch")
    series = []
    for name, d, color in (("engine", eng, "#1f77b4"), ("PyTorch twin", tor, "#d62728")):
        pts = sorted((T, r["res"]["explain_cpu_ms"] / 1000, r["rss_kb"] / 1024 / 1024) for T, r in d.items() if r["ok"])
        fail = sorted(T for T, r in d.items() if not r["ok"])
        series.append((name, pts, fail, color))
    Ts = [p[0] for s in series for p in s[1]] + [T for s in series for T in s[2]]
    if not Ts:
        return
    W, H = 900, 430
    panels = [("explanation CPU time (s, both threads)", 1), ("peak RSS (GiB)", 2)]
    x0s = [70, 510]
    pw, ph, top = 340, 300, 70
    lo_T, hi_T = math.log2(min(Ts)), math.log2(max(Ts))
    if hi_T == lo_T:
        hi_T += 1
    o = ['<?xml version="1.0" encoding="UTF-8"?>',
         f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
         'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">',
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="70" y="26" font-size="16" font-weight="bold">One AttnLRP explanation of the 125M LLaMA-shaped model: '
         'time and peak memory vs length</text>',
         '<text x="70" y="45" fill="#555">2 threads, float32; log-log; x: the run failed (out of the memory limit)</text>']
    for (label, k), x0 in zip(panels, x0s):
        vals = [p[k] for s in series for p in s[1]]
        lo_v, hi_v = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
        if hi_v == lo_v:
            hi_v += 1

        def X(T):
            return x0 + (math.log2(T) - lo_T) / (hi_T - lo_T) * pw

        def Y(v):
            return top + ph - (math.log10(v) - lo_v) / (hi_v - lo_v) * ph

        o.append('<g stroke="#e3e3e3" stroke-width="1">')
        for e in range(int(lo_T), int(hi_T) + 1):
            o.append(f'<line x1="{X(2 ** e):.1f}" y1="{top}" x2="{X(2 ** e):.1f}" y2="{top + ph}"/>')
        for e in range(lo_v, hi_v + 1):
            o.append(f'<line x1="{x0}" y1="{Y(10 ** e):.1f}" x2="{x0 + pw}" y2="{Y(10 ** e):.1f}"/>')
        o.append('</g><g fill="#333">')
        for e in range(int(lo_T), int(hi_T) + 1):
            T = 2 ** e
            lab = f"{T // 1024}k" if T >= 1024 else str(T)
            o.append(f'<text x="{X(T):.1f}" y="{top + ph + 18}" text-anchor="middle">{lab}</text>')
        for e in range(lo_v, hi_v + 1):
            v = 10 ** e
            lab = f"{v:g}"
            o.append(f'<text x="{x0 - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{lab}</text>')
        o.append(f'<text x="{x0 + pw / 2}" y="{top + ph + 38}" text-anchor="middle">tokens</text>')
        o.append(f'<text x="{x0}" y="{top - 8}" font-weight="bold">{label}</text></g>')
        for name, pts, fail, color in series:
            if pts:
                path_d = " ".join(f"{'M' if i == 0 else 'L'}{X(p[0]):.1f},{Y(p[k]):.1f}" for i, p in enumerate(pts))
                o.append(f'<path d="{path_d}" fill="none" stroke="{color}" stroke-width="2"/>')
                for p in pts:
                    o.append(f'<circle cx="{X(p[0]):.1f}" cy="{Y(p[k]):.1f}" r="3.5" fill="{color}"/>')
            for T in fail:
                cx, cy = X(T), top + 10
                o.append(f'<path d="M{cx - 5:.1f},{cy - 5} L{cx + 5:.1f},{cy + 5} M{cx - 5:.1f},{cy + 5} '
                         f'L{cx + 5:.1f},{cy - 5}" stroke="{color}" stroke-width="2"/>')
    ly = H - 22
    for i, (name, _, _, color) in enumerate(series):
        lx = 70 + i * 200
        o.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 24}" y2="{ly - 4}" stroke="{color}" stroke-width="2"/>')
        o.append(f'<text x="{lx + 30}" y="{ly}">{name}</text>')
    o.append('</svg>')
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def write_section(path, body):
    """Replaces (or appends) the longctx section of bench/RESULTS.md, keeping every other section."""
    start, end = "<!-- section longctx -->", "<!-- /section longctx -->"
    text = open(path).read() if os.path.exists(path) else ""
    block = start + "\n" + body.rstrip("\n") + "\n" + end
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="bench/longctx-out")
    ap.add_argument("--svg", default=None, help="write the plot here (e.g. docs/long-context.svg)")
    ap.add_argument("--attn", default="auto", help="the engine's attention mode to tabulate (default auto)")
    ap.add_argument("--results", default=None, help="write the table into this file's longctx section")
    a = ap.parse_args()
    rows = load(a.runs)
    tab = table(rows, a.attn)
    print(tab)
    if a.results:
        head = ("## Long context: the 125M LLaMA-shaped model up to 32k tokens (bench/longctx.sh)\n\n"
                "Generated by `BENCH_FAMILY=longctx bench/run.sh` (bench/longctx_report.py). One explanation per "
                "length and program, each in its own process under `/usr/bin/time -v` (peak RSS of the whole "
                "process, weights included) and an address-space limit; engine attention mode "
                f"`ATTNLRP_ATTN={a.attn}`; times are wall clock (process CPU time in brackets).\n\n")
        write_section(a.results, head + tab + "\n")
    if a.svg:
        svg(rows, a.attn, a.svg)


if __name__ == "__main__":
    main()

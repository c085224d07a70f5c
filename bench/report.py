#!/usr/bin/env python3
"""Summarises bench/run.sh results: medians per scenario and system as markdown, the
ratios of lbd to the best of HAProxy and nginx, and a bar chart as plain SVG text.

Usage: report.py results.jsonl [--machine machine.txt] [--md report.md] [--svg out.svg]
"""

import argparse
import json
import os
import statistics
from collections import defaultdict

PEERS = ("haproxy", "nginx")
SCENARIOS = [
    ("keepalive", "http keep-alive"),
    ("tcp", "tcp mode (persistent connections)"),
    ("close", "new connection per request"),
    ("big", "1 MiB response body"),
    ("idle", "10,000 idle keep-alive connections"),
    ("tls-close", "TLS: a new connection (full handshake) per request"),
    ("tls-keepalive", "TLS keep-alive"),
    ("h2", "HTTP/2 over TLS (10 streams per connection)"),
]
COLORS = {
    "direct": "#9e9e9e",
    "haproxy": "#3b6fb6",
    "nginx": "#3c9a4a",
    "lbd": "#e0782a",
}
EXTRA_COLORS = ["#b5479b", "#c9a227", "#2aa1b3", "#7a5230"]


def is_lbd(t):
    return t not in PEERS and t != "direct"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def per_run(r, ncpu):
    """The figures of one wrk run."""
    w = r["wrk"]
    secs = w["duration_us"] / 1e6
    req = w["requests"]
    hz = r["hz"]
    own = r["origin_ticks"] + r["wrk_cpu_s"] * hz
    if r["target"] != "direct":
        own += r["proxy_ticks"]
    other = max(0.0, (r["busy_ticks"] - own) / hz / secs / ncpu * 100) if secs else None
    return {
        "rps": req / secs if secs else 0,
        "p50": w.get("p50_us", 0) / 1000,
        "p99": w.get("p99_us", 0) / 1000,
        "errors": sum(v for k, v in w.items() if k.startswith("err_")),
        "cpu100k": (r["proxy_ticks"] / hz) / req * 1e5 if req else None,
        # User space alone (the rest is the kernel's); absent from older results.
        "user100k": (r["proxy_user_ticks"] / hz) / req * 1e5
        if req and "proxy_user_ticks" in r
        else None,
        "rss": r["hwm_kb"] / 1024 if r["target"] != "direct" else None,
        # What the whole machine spent per 100k requests (every process and the kernel).
        "machine100k": (r["busy_ticks"] / hz) / req * 1e5 if req else None,
        "busy": r["busy_ticks"] / hz / secs / ncpu * 100 if secs else None,
        "other": other,
    }


def load(path, ncpu):
    runs = defaultdict(list)
    idle = defaultdict(list)
    rounds = {}
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        rounds[r["round"]] = (r.get("round_load1"), r.get("round_quiet"))
        if r["scenario"] == "idle":
            i = r["idle"]
            idle[r["target"]].append(
                {
                    "rss": i["rss_kb"] / 1024,
                    "before": i["rss_before_kb"] / 1024,
                    "per_conn": (i["rss_kb"] - i["rss_before_kb"]) / max(1, i["opened"]),
                    "open": i["still_open"],
                    "errors": i["errors"],
                }
            )
        else:
            runs[(r["scenario"], r["target"])].append(per_run(r, ncpu))
    return runs, idle, rounds


def medians(rows):
    return {k: med([x[k] for x in rows]) for k in rows[0]} | {"n": len(rows)}


def fmt(v, spec, none="–"):
    return none if v is None else format(v, spec)


def table(runs, idle, targets):
    out = []
    out.append(
        "| scenario | system | req/s | p50 ms | p99 ms | errors | CPU s / 100k req | of which user | peak RSS MiB | other load % |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    meds = {}
    for s, title in SCENARIOS:
        if s == "idle":
            continue
        for t in targets:
            rows = runs.get((s, t))
            if not rows:
                continue
            m = medians(rows)
            meds[(s, t)] = m
            out.append(
                f"| {title} | {t} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} | "
                f"{m['errors']:.0f} | {fmt(m['cpu100k'], '.2f')} | {fmt(m['user100k'], '.2f')} | "
                f"{fmt(m['rss'], '.1f')} | "
                f"{fmt(m['other'], '.0f')} |"
            )
    if idle:
        out.append("")
        out.append(
            "| 10,000 idle keep-alive connections | still open | RSS MiB | RSS before MiB | KiB per connection | errors |"
        )
        out.append("|---|---:|---:|---:|---:|---:|")
        for t in targets:
            rows = idle.get(t)
            if not rows:
                continue
            m = medians(rows)
            meds[("idle", t)] = m
            out.append(
                f"| {t} | {m['open']:.0f} | {m['rss']:.1f} | {m['before']:.1f} | "
                f"{m['per_conn']:.1f} | {m['errors']:.0f} |"
            )
    return out, meds


def ratios(meds, targets):
    out = [
        "| scenario | system | lbd | best of HAProxy/nginx | lbd / best | target | met |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for t in [t for t in targets if is_lbd(t)]:
        for s, title in SCENARIOS:
            mine = meds.get((s, t))
            peers = {p: meds[(s, p)] for p in PEERS if (s, p) in meds}
            if not mine or not peers:
                continue
            if s == "idle":
                if "haproxy" not in peers:
                    continue
                ref = peers["haproxy"]["rss"]
                ratio = mine["rss"] / ref
                out.append(
                    f"| {title} (RSS) | {t} | {mine['rss']:.1f} MiB | haproxy {ref:.1f} MiB | "
                    f"{ratio:.2f} | ≤ 1.00 | {'yes' if ratio <= 1.0 else 'no'} |"
                )
                continue
            best = max(peers, key=lambda p: peers[p]["rps"])
            ratio = mine["rps"] / peers[best]["rps"]
            goal = {"keepalive": 1.10, "tcp": 1.10, "close": 1.0, "tls-close": 1.0, "tls-keepalive": 1.0}.get(s)
            met = "" if goal is None else ("yes" if ratio >= goal else "no")
            extra = ""
            if s == "keepalive":
                p99_best = min(p["p99"] for p in peers.values())
                ok = mine["p99"] <= p99_best
                extra = f"; p99 {mine['p99']:.2f} vs {p99_best:.2f} ms"
                met = "yes" if ratio >= goal and ok else "no"
            out.append(
                f"| {title} | {t} | {mine['rps']:,.0f} req/s | {best} {peers[best]['rps']:,.0f} req/s | "
                f"{ratio:.2f}{extra} | {'≥ %.2f' % goal if goal else '–'}"
                f"{' with p99 no worse' if s == 'keepalive' else ''} | {met} |"
            )
    return out


def bound(meds, targets):
    """For the saturated scenarios with a 1.10 target: what that ratio would leave the
    proxy of the machine's CPU per request, beside each proxy's kernel work alone."""
    out = []
    for t in [t for t in targets if is_lbd(t)]:
        for s, title in SCENARIOS:
            mine = meds.get((s, t))
            peers = {p: meds[(s, p)] for p in PEERS if (s, p) in meds}
            if s not in ("keepalive", "tcp") or not mine or not peers:
                continue
            if mine.get("user100k") is None or mine.get("machine100k") is None:
                continue
            best = max(peers, key=lambda p: peers[p]["rps"])
            ref = peers[best]["machine100k"]
            rest = mine["machine100k"] - mine["cpu100k"]
            allowed = ref / 1.10 - rest
            kernels = ", ".join(
                f"{p} {m['cpu100k'] - m['user100k']:.2f}"
                for p, m in [(t, mine)] + sorted(peers.items())
                if m.get("user100k") is not None
            )
            free = ref / (mine["machine100k"] - mine["user100k"])
            out.append(
                f"| {title} | {t} | {mine['busy']:.0f}% | {ref:.2f} ({best}) | {rest:.2f} | "
                f"{allowed:.2f} | {kernels} | {free:.2f} |"
            )
    if not out:
        return []
    return [
        "The machine is saturated in these scenarios, so req/s follows the CPU that one request",
        "costs every process together (CPU s per 100k requests; *rest*: wrk, the origins and",
        "anything else during lbd's run). *1.10× leaves the proxy*: what a 1.10 ratio would",
        "leave lbd in all; *kernel*: each proxy's CPU minus its user space; *no user space*:",
        "lbd's ratio if its user-space work cost nothing.",
        "",
        "| scenario | system | machine busy | best peer's machine cost | rest | 1.10× leaves the proxy | kernel | lbd / best with no user space |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ] + out


def svg(meds, targets, path, subtitle):
    panels = [
        ("keepalive", "rps", "http keep-alive", "req/s"),
        ("keepalive", "p99", "keep-alive p99", "ms, lower is better"),
        ("tcp", "rps", "tcp mode", "req/s"),
        ("close", "rps", "new conn. per request", "req/s"),
        ("big", "rps", "1 MiB body", "req/s"),
        ("idle", "rss", "10k idle conns: RSS", "MiB, lower is better"),
    ]
    panels = [p for p in panels if any((p[0], t) in meds for t in targets)]
    colors = dict(COLORS)
    extra = iter(EXTRA_COLORS)
    for t in targets:
        if t not in colors:
            colors[t] = next(extra, "#555555")
    pw, ph, top, left = 160, 230, 78, 14
    width = left + pw * len(panels) + 10
    height = top + ph + 40
    e = []
    e.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">'
    )
    e.append(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    e.append(
        f'<text x="{left}" y="20" font-size="15" font-weight="bold">lbd vs HAProxy vs nginx '
        f"(medians, wrk -t1 -c64, loopback)</text>"
    )
    e.append(f'<text x="{left}" y="37" fill="#555555">{subtitle}</text>')
    x = left
    for t in targets:
        e.append(f'<rect x="{x}" y="48" width="12" height="12" fill="{colors[t]}"/>')
        e.append(f'<text x="{x + 16}" y="58">{t}</text>')
        x += 24 + 7 * len(t)
    for i, (s, key, title, unit) in enumerate(panels):
        x0 = left + i * pw
        vals = [(t, meds[(s, t)][key]) for t in targets if (s, t) in meds and meds[(s, t)][key] is not None]
        e.append(f'<text x="{x0 + pw / 2 - 5}" y="{top}" text-anchor="middle" font-weight="bold">{title}</text>')
        e.append(f'<text x="{x0 + pw / 2 - 5}" y="{top + 14}" text-anchor="middle" fill="#555555">{unit}</text>')
        if not vals:
            continue
        vmax = max(v for _, v in vals) or 1
        base = top + ph
        area = ph - 50
        e.append(f'<line x1="{x0 + 4}" y1="{base}" x2="{x0 + pw - 14}" y2="{base}" stroke="#333333"/>')
        bw = min(30, (pw - 30) / len(vals) - 4)
        for j, (t, v) in enumerate(vals):
            h = area * v / vmax
            bx = x0 + 10 + j * (bw + 4)
            e.append(
                f'<rect x="{bx:.1f}" y="{base - h:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="{colors[t]}">'
                f"<title>{t}: {v:,.2f}</title></rect>"
            )
            label = f"{v / 1000:.1f}k" if key == "rps" and v >= 10000 else (
                f"{v:.0f}" if v >= 100 else f"{v:.2f}" if v < 10 else f"{v:.1f}")
            e.append(
                f'<text x="{bx + bw / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" '
                f'font-size="9">{label}</text>'
            )
    e.append("</svg>")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(e) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--machine")
    ap.add_argument("--md")
    ap.add_argument("--svg")
    a = ap.parse_args()
    ncpu = os.cpu_count() or 1
    runs, idle, rounds = load(a.results, ncpu)
    seen = []
    for (s, t) in runs:
        if t not in seen:
            seen.append(t)
    for t in idle:
        if t not in seen:
            seen.append(t)
    order = ["direct", "haproxy", "nginx", "lbd"]
    targets = [t for t in order if t in seen] + [t for t in seen if t not in order]
    lines = []
    if a.machine and os.path.exists(a.machine):
        lines += [f"Machine: {l.strip()}  " for l in open(a.machine) if l.strip()]
        lines.append("")
    nr = max(rounds) if rounds else 0
    lines.append(
        "Rounds (1-minute load average at the start of each): "
        + ", ".join(
            f"{k}: {v[0]}{'' if v[1] else ' (not quiet)'}" for k, v in sorted(rounds.items())
        )
    )
    lines.append("")
    lines.append(f"Medians of {nr} rounds.")
    lines.append("")
    t, meds = table(runs, idle, targets)
    lines += t
    lines.append("")
    lines += ratios(meds, targets)
    b = bound(meds, targets)
    if b:
        lines.append("")
        lines += b
    text = "\n".join(lines) + "\n"
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)
    if a.svg:
        loads = ", ".join(f"{v[0]}" for _, v in sorted(rounds.items()))
        svg(meds, targets, a.svg, f"{ncpu} cores, medians of {nr} rounds; load at round start: {loads}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""results/summary.jsonl -> results.md tables, goal checks and PNG plots (Debian matplotlib).

usage: /usr/bin/python3 bench/routing/report.py [RESULTS_DIR] [--notes FILE]
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RES = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else os.path.join(HERE, "results")
NOTES = sys.argv[sys.argv.index("--notes") + 1] if "--notes" in sys.argv else os.path.join(HERE, "notes.md")
BASELINES = ["round-robin", "random", "least-request", "power-of-two-choices"]
ORDER = BASELINES + ["infergate"]


def load(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def frac(s):
    fr = str(s.get("fractions", "")).split(",")
    return float(fr[s["stage"]]) if s["stage"] < len(fr) and fr[0] not in ("", "calibration") else None


def ms(v):
    return "-" if v is None else f"{v * 1000:.0f}"


def p(s, key, q):
    d = s.get(key)
    return d[q] if d else None


def completes(s):
    return s["ok_frac"] is not None and s["ok_frac"] >= 0.99 and s["driver_dropped"] == 0


def table(rows):
    out = ["| policy | via | load | rate/s | ok | TTFT p50 ms | p90 ms | p99 ms | out tok/s | prefix hit | driver CPU |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in rows:
        hit = "-" if s["prefix_hit_rate"] is None else f"{100 * s['prefix_hit_rate']:.0f}%"
        out.append(f"| {s['policy']} | {s['via']} | {100 * frac(s):.0f}% | {s['rate']:.1f} | "
                   f"{s['ok']}/{s['requests']} | {ms(p(s, 'ttft', 'p50'))} | {ms(p(s, 'ttft', 'p90'))} | "
                   f"{ms(p(s, 'ttft', 'p99'))} | {s['output_tokens_per_s']:.0f} | {hit} | "
                   f"{100 * s['driver_cpu_frac']:.0f}% |")
    return out


def class_table(rows):
    out = ["| policy | load | class | requests | ok | 429 shed | 503 | other fail | TTFT p50 ms | p90 ms | p99 ms |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in rows:
        for k in ("critical", "standard", "sheddable"):
            c = s["by_class"].get(k)
            if not c:
                continue
            t = c["ttft"] or {}
            out.append(f"| {s['policy']} | {100 * frac(s):.0f}% | {k} | {c['requests']} | {c['ok']} | "
                       f"{c['shed_429']} | {c['rejected_503']} | {c['other_fail']} | {ms(t.get('p50'))} | "
                       f"{ms(t.get('p90'))} | {ms(t.get('p99'))} |")
    return out


def by_policy(rows):
    d = {}
    for s in rows:
        d.setdefault(s["policy"], []).append(s)
    return {k: sorted(v, key=frac) for k, v in d.items()}


def variants(rows):
    return sorted({s["policy"] for s in rows if s["policy"].startswith("infergate")})


ISSUE_MAX_STAGE = 1.2  # the issue's stages run from 10% to 120%; the verdict is judged on those


def goal_shared(rows):
    out = []
    extra = any(frac(s) > ISSUE_MAX_STAGE for s in rows)
    for v in variants(rows) or ["infergate"]:
        out += [f"- **{v}**:"] + ["  " + line for line in goal_shared_one(rows, v, ISSUE_MAX_STAGE)]
        if extra:
            out += [f"- **{v}**, counting the stages past {100 * ISSUE_MAX_STAGE:.0f}% too (not the issue's "
                    "verdict):"] + ["  " + line for line in goal_shared_one(rows, v, float("inf"))]
    return out


def goal_shared_one(rows, name, max_stage):
    pol = by_policy(rows)
    ig = {frac(s): s for s in pol.get(name, [])}
    if not ig:
        return ["- pending: no infergate run."]
    cands = []
    for b in BASELINES:
        done = [s for s in pol.get(b, []) if completes(s) and frac(s) <= max_stage]
        if done:
            top = done[-1]
            cands.append((-frac(top), p(top, "ttft", "p90"), b, top))
    if not cands:
        return ["- no baseline completed any stage."]
    lines = []
    for _, _, b, top in sorted(cands):
        f = frac(top)
        me = ig.get(f)
        if not me or not me.get("ttft"):
            lines.append(f"- {b}: infergate has no result at {100 * f:.0f}%.")
            continue
        r_t = p(me, "ttft", "p90") / p(top, "ttft", "p90")
        r_x = me["output_tokens_per_s"] / top["output_tokens_per_s"]
        lines.append(f"- vs {b} at {100 * f:.0f}% (its highest completed stage): p90 TTFT ratio "
                     f"{r_t:.2f} (goal <= 0.2: {'met' if r_t <= 0.2 else 'NOT met'}), output tok/s ratio "
                     f"{r_x:.2f} (goal >= 1.3: {'met' if r_x >= 1.3 else 'NOT met'})")
    best = sorted(cands)[0][2]
    return [f"- best baseline (highest completed stage, then lowest p90 TTFT): **{best}**"] + lines


def goal_noreuse(rows):
    out = []
    for v in variants(rows) or ["infergate"]:
        out += [f"- **{v}**:"] + ["  " + line for line in goal_noreuse_one(rows, v)]
    return out


def goal_noreuse_one(rows, name):
    pol = by_policy(rows)
    lines = []
    for me in pol.get(name, []):
        f = frac(me)
        others = [s for b in BASELINES for s in pol.get(b, []) if frac(s) == f and s.get("ttft")]
        if not others or not me.get("ttft"):
            continue
        bt = min(others, key=lambda s: p(s, "ttft", "p90"))
        bx = max(others, key=lambda s: s["output_tokens_per_s"])
        rt = p(me, "ttft", "p90") / p(bt, "ttft", "p90")
        rx = me["output_tokens_per_s"] / bx["output_tokens_per_s"]
        ok = rt <= 1.05 and rx >= 0.95
        lines.append(f"- {100 * f:.0f}%: p90 TTFT {rt:.2f}x best ({bt['policy']}), output tok/s {rx:.2f}x best "
                     f"({bx['policy']}): {'within 5%' if ok else 'NOT within 5%'}")
    return lines or ["- pending: no infergate run."]


def goal_priority(rows):
    lines = []
    for policy, ss in by_policy(rows).items():
        if len(ss) < 2:
            continue
        low, high = ss[0], ss[-1]
        cl, ch = low["by_class"].get("critical"), high["by_class"].get("critical")
        sh = high["by_class"].get("sheddable") or {}
        if not (cl and ch and cl["ttft"] and ch["ttft"]):
            continue
        r = ch["ttft"]["p99"] / cl["ttft"]["p99"]
        lines.append(f"- {policy}: Critical p99 TTFT {ms(ch['ttft']['p99'])} ms at {100 * frac(high):.0f}% vs "
                     f"{ms(cl['ttft']['p99'])} ms at {100 * frac(low):.0f}% = {r:.2f}x (goal <= 1.2: "
                     f"{'met' if r <= 1.2 else 'NOT met'}); Sheddable shed (429) {sh.get('shed_429', 0)}, "
                     f"503 {sh.get('rejected_503', 0)} of {sh.get('requests', 0)}")
    return lines or ["- no priority run."]


def plots(rows_by_wl):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["(no plots: run bench/routing/install-tools.sh)"]
    made = []
    for wl in ("shared-prefix", "no-reuse"):
        rows = rows_by_wl.get(wl)
        if not rows:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        extra = sorted(p for p in by_policy(rows) if p not in ORDER)
        for policy in ORDER + extra:
            ss = [s for s in by_policy(rows).get(policy, []) if s.get("ttft")]
            if not ss:
                continue
            xs = [100 * frac(s) for s in ss]
            style = dict(marker="o", linewidth=2.5 if policy.startswith("infergate") else 1.3,
                         label=f"{policy} ({ss[0]['via']})")
            axes[0].plot(xs, [1000 * p(s, "ttft", "p90") for s in ss], **style)
            axes[1].plot(xs, [s["output_tokens_per_s"] for s in ss], **style)
        axes[0].set_yscale("log")
        axes[0].set_title(f"{wl}: TTFT p90 vs load")
        axes[0].set_ylabel("TTFT p90 (ms, log)")
        axes[1].set_title(f"{wl}: output tokens/s vs load")
        axes[1].set_ylabel("output tokens/s")
        for ax in axes:
            ax.set_xlabel("offered load (% of round-robin saturation)")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        name = f"{wl}.png"
        fig.savefig(os.path.join(RES, name), dpi=110)
        plt.close(fig)
        made.append(f"![{wl}](results/{name})")
    return made


def main():
    rows = load(os.path.join(RES, "summary.jsonl"))
    cal = load(os.path.join(RES, "calibration.jsonl"))
    info = open(os.path.join(RES, "run-info.txt")).read() if os.path.exists(os.path.join(RES, "run-info.txt")) else ""
    by_wl = {}
    for s in rows:
        by_wl.setdefault(s["workload"], []).append(s)
    for wl in by_wl:
        by_wl[wl].sort(key=lambda s: (ORDER.index(s["policy"]) if s["policy"] in ORDER else 99, s["policy"], frac(s)))
    md = ["# Routing benchmark: results", "",
          "Generated by `bench/routing/report.py` from `results/summary.jsonl` "
          "(raw per-request records and gateway configs in `results/raw/`).", ""]
    if os.path.exists(NOTES):
        md += [open(NOTES).read().rstrip(), ""]
    md += ["## Run", "", "```", info.rstrip(), "```", ""]
    if cal:
        md += ["Calibration stages (round-robin, overload):", ""] + table(
            [dict(s, fractions="1") for s in cal]) + [""]
    md += ["## Goals", "", "### Shared prefixes", ""] + goal_shared(by_wl.get("shared-prefix", []))
    md += ["", "### No reuse", ""] + goal_noreuse(by_wl.get("no-reuse", []))
    md += ["", "### Priorities under overload", ""] + goal_priority(by_wl.get("priority", [])) + [""]
    md += ["## Plots", ""] + plots(by_wl) + [""]
    for wl in ("shared-prefix", "no-reuse", "lora", "priority"):
        if wl in by_wl:
            md += [f"## {wl}", ""] + table(by_wl[wl]) + [""]
    if "priority" in by_wl:
        md += ["### priority: per class", ""] + class_table(by_wl["priority"]) + [""]
    open(os.path.join(os.path.dirname(RES), "results.md"), "w").write("\n".join(md) + "\n")
    print(os.path.join(os.path.dirname(RES), "results.md"))


if __name__ == "__main__":
    main()

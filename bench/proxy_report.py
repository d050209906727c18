#!/usr/bin/env python3
"""Turns the raw outputs of bench/run-proxy-bench.sh into the markdown results table (stdout).

Inputs in --raw: <target>-<size>-c64.txt and <target>-<size>-c1.txt (wrk output; the line
"RESULT {json}" comes from bench/wrk/chat_post.lua), <target>-<size>-sweep-c<N>.txt (--conns),
strace-<target>-<size>.txt, stream.json, routing.txt, machine.txt, commands.txt.
"""
import argparse
import json
import math
import os
import re
import statistics

PEERS = ("haproxy", "nginx")


def wrk_result(path):
    """The RESULT json of a wrk run, plus the command line (first line of the file)."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    m = re.search(r"^RESULT (\{.*\})$", text, re.M)
    if not m:
        return {"missing": True, "cmd": text.splitlines()[0] if text else ""}
    r = json.loads(m.group(1))
    r["cmd"] = text.splitlines()[0]
    r["errors"] = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    return r


def wrk_rounds(raw, stem, runs):
    """Median over rounds of a wrk measurement; `spread` keeps every round's value for the table."""
    rs = [wrk_result(os.path.join(raw, f"{stem}-r{i}.txt")) for i in range(1, runs + 1)]
    if any(r is None or r.get("missing") for r in rs):
        return next((r for r in rs if r is None or r.get("missing")), None)
    out = {"cmd": rs[0]["cmd"], "rounds": rs}
    for k in ("rps", "p50_us", "p99_us"):
        out[k] = statistics.median(r[k] for r in rs)
        out[k + "_all"] = [r[k] for r in rs]
    for k in ("non2xx", "errors"):
        out[k] = sum(r[k] for r in rs)
    return out


def strace_result(path):
    """(syscalls per request, top syscalls per request) from an strace -c table and its wrk run."""
    if not os.path.exists(path):
        return None, []
    with open(path) as f:
        text = f.read()
    m = re.search(r"^RESULT (\{.*\})$", text, re.M)
    if not m:
        return None, []
    requests = json.loads(m.group(1))["requests"]
    rows = []
    total = None
    for line in text.splitlines():
        tok = line.split()
        if len(tok) >= 5 and re.match(r"^\d+\.\d+$", tok[0]) and tok[3].isdigit():
            if tok[-1] == "total":
                total = int(tok[3])
            else:
                rows.append((tok[-1], int(tok[3])))
    if not requests or total is None:
        return None, []
    rows.sort(key=lambda r: -r[1])
    return total / requests, [(name, calls / requests) for name, calls in rows[:4]]


def fmt(v, digits=0, suffix=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:,.{digits}f}{suffix}"


def cell(r, key, suffix=""):
    """The median, then every round's value when there were several: `41 us (40, 41, 45)`."""
    if not r:
        return "-"
    text = fmt(r[key], 0, suffix)
    values = r.get(key + "_all", [])
    if len(values) > 1:
        text += " (" + ", ".join(fmt(v) for v in values) + ")"
    return text


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def handshakes(w, raw, runs, targets, sizes):
    """--tls: requests/s when every request is a new connection (`Connection: close`), i.e. full
    TLS handshakes per second, at 64 connections."""
    w("## TLS handshakes\n")
    w("Every request on a new connection (`Connection: close`, wrk -c64, no session resumption): "
      "requests/s = full handshakes/s (ECDSA P-256).\n")
    w("| body | target | handshakes/s | p50 | ratio to haproxy |")
    w("|---|---|---:|---:|---:|")
    for size in sizes:
        rows = {}
        for t in targets:
            r = wrk_rounds(raw, f"{t}-{size}-hs", runs)
            rows[t] = r if r and not r.get("missing") else None
        hp = rows.get("haproxy")
        for t, r in rows.items():
            vs = ratio(r["rps"], hp["rps"]) if r and hp and t != "haproxy" else None
            w(f"| {size // 1024} KB | {t} | {cell(r, 'rps')} | {cell(r, 'p50_us', ' us')} "
              f"| {fmt(vs, 2)} |")
    w("")


def sweep(w, raw, runs, targets, sizes, conns, failures, kind, pace_ms=0):
    """The --conns tables: per body size, req/s and latency at each connection count, the latency
    added over direct at the same count, and infergate's ratios to each peer. kind "paced": each
    connection pauses pace_ms before every request (a load below saturation)."""
    for size in sizes:
        if kind == "paced":
            w(f"## Body {size // 1024} KB, by connections, paced ({pace_ms} ms between requests)\n")
            w(f"Each connection waits {pace_ms} ms before each request, so no target is saturated "
              "and the latency is the proxy's own work, not its queue.\n")
        else:
            w(f"## Body {size // 1024} KB, by connections\n")
        w("wrk -t1 --latency at each count (on the load core); *added p50*: the target's p50 minus "
          "direct's at the same count (for these small non-streamed answers, the time to first "
          "byte the proxy adds).\n")
        w("| target | conns | req/s | p50 | p99 | added p50 | added p99 | status |")
        w("|---|---:|---:|---:|---:|---:|---:|---|")
        res = {}
        for c in conns:
            direct = wrk_rounds(raw, f"direct-{size}-{kind}-c{c}", runs)
            d = direct if direct and not direct.get("missing") else None
            for t in targets:
                r = wrk_rounds(raw, f"{t}-{size}-{kind}-c{c}", runs)
                problems = []
                if r is None or r.get("missing"):
                    problems.append("no result")
                    r = None
                else:
                    if r["non2xx"]:
                        problems.append(f"{r['non2xx']} non-2xx")
                    if r["errors"]:
                        problems.append(f"{r['errors']} socket errors")
                if problems:
                    failures.append(f"{t} {size} {kind} c{c}: {'; '.join(problems)}")
                add50 = r["p50_us"] - d["p50_us"] if r and d and t != "direct" else None
                add99 = r["p99_us"] - d["p99_us"] if r and d and t != "direct" else None
                res[(t, c)] = {"rps": r and r["rps"], "add50": add50}
                w(f"| {t} | {c} | {cell(r, 'rps')} | {cell(r, 'p50_us', ' us')} "
                  f"| {cell(r, 'p99_us', ' us')} | {fmt(add50, 0, ' us')} | {fmt(add99, 0, ' us')} "
                  f"| {'ok' if not problems else 'FAIL: ' + '; '.join(problems)} |")
        w("")
        peers = [p for p in PEERS if p in targets]
        if "infergate" in targets and peers:
            w("| conns | peer | req/s ratio | added p50 ratio |")
            w("|---:|---|---:|---:|")
            for c in conns:
                ig = res.get(("infergate", c), {})
                for p in peers:
                    pr = res.get((p, c), {})
                    w(f"| {c} | {p} | {fmt(ratio(ig.get('rps'), pr.get('rps')), 2)} "
                      f"| {fmt(ratio(ig.get('add50'), pr.get('add50')), 2)} |")
            w("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--targets", required=True)
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--duration", required=True)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--cores", required=True)
    ap.add_argument("--workers", default="1", help="infergate workers / HAProxy threads / nginx workers")
    ap.add_argument("--notes", help="markdown inserted after the tables (the reading of the run)")
    ap.add_argument("--conns", default="", help="connection counts of the sweep runs")
    ap.add_argument("--baseline", default="1", help="0: no 64- and 1-connection runs")
    ap.add_argument("--paced-ms", default="0", help="the pause of the paced sweep runs")
    ap.add_argument("--tls", default="0", help="1: the proxies terminated TLS (handshake runs)")
    a = ap.parse_args()
    targets, sizes = a.targets.split(), [int(s) for s in a.sizes.split()]
    raw = a.raw
    out = []
    w = out.append

    def read(name):
        p = os.path.join(raw, name)
        return open(p).read().strip() if os.path.exists(p) else ""

    proxy_core, rps_core, lat_core = a.cores.split("/")
    w("# Proxy baseline: infergate vs HAProxy vs nginx+njs, routing on the JSON body\n")
    w("Generated by `bench/run-proxy-bench.sh` (raw outputs in `bench/results/raw/`). Every target "
      "routes POST `/v1/chat/completions` by the body's top-level `model` to a pool of "
      f"`infergate-sim --fast` (one instance per pool), {a.workers} worker(s)/thread(s) each, "
      "HTTP/1.1 keep-alive "
      "on both sides, loopback. Bodies are exactly the sizes below, with `model` *after* a large "
      "`messages` array (`bench/wrk/chat_post.lua`).\n")
    w(f"Pinning: simulators and the proxy on core {proxy_core}; wrk on core {rps_core} for "
      f"requests/s at 64 connections, on core {lat_core} for latency at 1 connection (a wake-up "
      "across cores costs 50-70 us here, more than the hop being measured). Every process of the "
      "run has nice -19, so that other work on this shared 2-vCPU VM perturbs it less. "
      f"Each figure is the median of {a.runs} wrk run(s) of {a.duration} s, each after a 1 s "
      "warm-up, rounds interleaved over targets; the rounds' values follow in brackets.\n")
    w("```\n" + read("machine.txt") + "\n```\n")

    failures = []
    results = {}
    for size in sizes if a.baseline != "0" else []:
        w(f"## Body {size // 1024} KB\n")
        w("| target | req/s @64 conn | p50 @1 conn | p99 @1 conn | added p50 | added p99 "
          "| syscalls/req | top syscalls/req | status |")
        w("|---|---:|---:|---:|---:|---:|---:|---|---|")
        direct = wrk_rounds(raw, f"direct-{size}-c1", a.runs)
        for t in targets:
            thr = wrk_rounds(raw, f"{t}-{size}-c64", a.runs)
            lat = wrk_rounds(raw, f"{t}-{size}-c1", a.runs)
            sc, top = strace_result(os.path.join(raw, f"strace-{t}-{size}.txt"))
            problems = []
            for label, r in (("c64", thr), ("c1", lat)):
                if r is None or r.get("missing"):
                    problems.append(f"{label}: no result")
                    continue
                if r["non2xx"]:
                    problems.append(f"{label}: {r['non2xx']} non-2xx")
                if r["errors"]:
                    problems.append(f"{label}: {r['errors']} socket errors")
            ok = not problems
            if not ok:
                failures.append(f"{t} {size}: {'; '.join(problems)}")
            good = lambda r: r if r and not r.get("missing") else None
            thr, lat = good(thr), good(lat)
            d = good(direct)
            add50 = lat["p50_us"] - d["p50_us"] if lat and d and t != "direct" else None
            add99 = lat["p99_us"] - d["p99_us"] if lat and d and t != "direct" else None
            results[(t, size)] = {"rps": thr and thr["rps"], "add50": add50, "add99": add99}
            top_s = ", ".join(f"{n} {c:.1f}" for n, c in top)
            w(f"| {t} | {cell(thr, 'rps')} | {cell(lat, 'p50_us', ' us')} "
              f"| {cell(lat, 'p99_us', ' us')} | {fmt(add50, 0, ' us')} "
              f"| {fmt(add99, 0, ' us')} | {fmt(sc, 1)} | {top_s} "
              f"| {'ok' if ok else 'FAIL: ' + '; '.join(problems)} |")
        w("")

    if a.tls == "1":
        handshakes(w, raw, a.runs, [t for t in targets if t != "direct"], sizes)

    conns = [int(c) for c in a.conns.split()]
    if conns:
        sweep(w, raw, a.runs, targets, sizes, conns, failures, "sweep")
        if a.paced_ms != "0":
            sweep(w, raw, a.runs, targets, sizes, conns, failures, "paced", int(a.paced_ms))

    if a.baseline != "0" and "infergate" in targets and any(p in targets for p in PEERS):
        w("## infergate / peer\n")
        w("req/s ratio above 1: infergate serves more; added-latency ratio below 1: infergate adds "
          "less.\n")
        w("| body | peer | req/s ratio | added p50 ratio | added p99 ratio |")
        w("|---|---|---:|---:|---:|")
        for size in sizes:
            ig = results.get(("infergate", size), {})
            for p in PEERS:
                if p not in targets:
                    continue
                pr = results.get((p, size), {})
                w(f"| {size // 1024} KB | {p} | {fmt(ratio(ig.get('rps'), pr.get('rps')), 2)} "
                  f"| {fmt(ratio(ig.get('add50'), pr.get('add50')), 2)} "
                  f"| {fmt(ratio(ig.get('add99'), pr.get('add99')), 2)} |")
        w("")

    variants = [v for v in ("infergate-keys", "infergate-redis", "infergate-log") if v in targets]
    if a.baseline != "0" and "infergate" in targets and variants:
        w("## Variants / plain infergate\n")
        w("The same gateway with one feature on. infergate-keys / infergate-redis: the wrk "
          "script's key checked and its requests and tokens limits charged (never reached), "
          "locally or shared through Redis; goal >= 0.97x req/s and <= +5 us p50 locally, "
          ">= 0.90x and <= +20 us with Redis. infergate-log: every request written to an access "
          "log file (JSON lines); goal >= 0.97x req/s and <= +3 us p50.\n")
        w("| body | variant | req/s ratio | p50 over plain | p99 over plain |")
        w("|---|---|---:|---:|---:|")
        for size in sizes:
            plain = results.get(("infergate", size), {})
            for v in variants:
                r = results.get((v, size), {})
                d50 = r["add50"] - plain["add50"] if r.get("add50") is not None and plain.get("add50") is not None else None
                d99 = r["add99"] - plain["add99"] if r.get("add99") is not None and plain.get("add99") is not None else None
                w(f"| {size // 1024} KB | {v} | {fmt(ratio(r.get('rps'), plain.get('rps')), 3)} "
                  f"| {fmt(d50, 0, ' us')} | {fmt(d99, 0, ' us')} |")
        w("")

    stream_path = os.path.join(raw, "stream.json")
    if os.path.exists(stream_path):
        with open(stream_path) as f:
            stream = json.load(f)
        w("## Streaming: SSE events one by one\n")
        w("`infergate-sim --itl-ms 20` (one event every 20 ms), 5 streams of 20 tokens per target, "
          "one at a time (`bench/stream_check.py`). *bunched*: gaps under 2 ms, i.e. events held "
          "back and delivered together; direct shows 2 per stream by design (the simulator writes "
          "the role chunk with the first token, and `[DONE]` with the last). A proxy that "
          "coalesces shows many more, and a first event late by its flush timer.\n")
        w("| path | status | events/stream | first event p50 | first event max | gap p50 "
          "| gap p90 | gap max | bunched |")
        w("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for r in stream:
            w(f"| {r['name']} | {','.join(map(str, r['statuses']))} "
              f"| {','.join(map(str, r['events_per_stream']))} "
              f"| {fmt(r['ttfe_ms_p50'], 1, ' ms')} | {fmt(r['ttfe_ms_max'], 1, ' ms')} "
              f"| {fmt(r['gap_ms_p50'], 1, ' ms')} | {fmt(r['gap_ms_p90'], 1, ' ms')} "
              f"| {fmt(r['gap_ms_max'], 1, ' ms')} | {r['bunched_gaps']}/{r['gaps']} |")
        w("")

    if a.notes and os.path.exists(a.notes):
        with open(a.notes) as f:
            w(f.read().strip() + "\n")

    w("## Routing check (before measuring)\n")
    w("```\n" + read("routing.txt") + "\n```\n")
    w("## Commands\n")
    w("The whole run (binaries from `build-bench/`, built with `ninja -C build-bench`):\n")
    w("```\n" + read("run.txt") + "\n```\n")
    w("Processes (configs as run: `raw/infergate.yaml`, `raw/haproxy.cfg`, `raw/nginx.conf`):\n")
    w("```\n" + read("commands.txt") + "\n```\n")
    w("Load (per target and body size; `BODY_BYTES` selects the body):\n")
    w("```")
    for size in sizes[:1]:
        for t in targets[:1]:
            for kind in ("c64", "c1"):
                r = wrk_result(os.path.join(raw, f"{t}-{size}-{kind}-r1.txt"))
                if r:
                    w(r["cmd"])
    w("```\n")
    if failures:
        w("## Failures\n")
        for f in failures:
            w(f"- {f}")
        w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()

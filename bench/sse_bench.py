#!/usr/bin/env python3
"""Many concurrent SSE streams through a proxy: each event's lateness and the proxy's CPU.

One `infergate-sim` (one event every --itl-ms per stream, a batch large enough for every stream,
no slow-down when it is full), then for each target in turn (direct, infergate, HAProxy) the
client `sse_fanout` (bench/sse_fanout.cpp: one thread, epoll) opens --streams streams at once of
--tokens tokens each. Lateness: an event's arrival minus its place on the schedule (the stream's
first event + k * ITL); the same simulator feeds every target, so its own drift is in every row.
CPU: the proxy process's user+system time over the run, in cores. Loopback only; bounded in
time; every process it starts is stopped by PID.

usage: bench/sse_bench.py [--streams 2000] [--tokens 100] [--itl-ms 20] [--runs 3] [--out FILE]
env:   INFERGATE_BIN, INFERGATE_SIM_BIN, SSE_FANOUT_BIN (default: build/...)
"""
import argparse
import json
import os
import pathlib
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from loopback import haproxy_one_backend, listening_port, wait_port

MODEL = "bench-stream"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def run_fanout(fanout, port, args, proxy_pid):
    before = cpu_seconds(proxy_pid) if proxy_pid else 0.0
    t0 = time.monotonic()
    out = subprocess.run([fanout, "127.0.0.1", str(port), str(args.streams), str(args.tokens),
                          str(args.itl_ms), MODEL, "120"], capture_output=True, text=True, timeout=180)
    wall = time.monotonic() - t0
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if not line:
        raise RuntimeError(f"sse_fanout: {out.stdout}{out.stderr}")
    r = json.loads(line[7:])
    r["cores"] = (cpu_seconds(proxy_pid) - before) / wall if proxy_pid else None
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=2000)
    ap.add_argument("--tokens", type=int, default=100)
    ap.add_argument("--itl-ms", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out")
    args = ap.parse_args()
    args.streams = max(1, min(args.streams, 8000))
    args.runs = max(1, min(args.runs, 10))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gw_bin = os.environ.get("INFERGATE_BIN", "build/src/app/infergate")
    sim_bin = os.environ.get("INFERGATE_SIM_BIN", "build/src/sim/infergate-sim")
    fanout = os.environ.get("SSE_FANOUT_BIN", "build/bench/sse_fanout")
    work = pathlib.Path(tempfile.mkdtemp(prefix="infergate-sse-"))
    started = []

    def spawn(argv, **kw):
        p = subprocess.Popen(["nice", "-n", "-19"] + argv if os.geteuid() == 0 else argv, **kw)
        started.append(p)
        return p

    rows = {}
    try:
        sim = spawn([sim_bin, "--host", "127.0.0.1", "--port", "0", "--model", MODEL,
                     "--itl-ms", str(args.itl_ms), "--itl-load-factor", "1",
                     "--max-num-seqs", str(args.streams + 100), "--log-level", "warn"],
                    stdout=subprocess.PIPE, text=True)
        sim_port = listening_port(sim)
        (work / "gateway.yaml").write_text(
            f"workers: 1\npools:\n  - name: p\n    endpoints: [127.0.0.1:{sim_port}]\n"
            f"models:\n  - name: {MODEL}\n    targets: [{{pool: p}}]\n")
        gw = spawn([gw_bin, "--config", str(work / "gateway.yaml"), "--listen", "127.0.0.1:0",
                    "--admin", "127.0.0.1:0", "--log-level", "warn"], stdout=subprocess.PIPE, text=True)
        gw_port = listening_port(gw)
        cfg = work / "haproxy.cfg"
        hp_port = haproxy_one_backend(cfg, sim_port, args.streams + 100, 120, ["http-no-delay"])
        hp = spawn(["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(hp_port, hp)
        targets = [("direct", sim_port, None), ("infergate", gw_port, gw.pid), ("haproxy", hp_port, hp.pid)]
        for rnd in range(args.runs):  # rounds interleaved over targets
            for name, port, pid in targets:
                r = run_fanout(fanout, port, args, pid)
                rows.setdefault(name, []).append(r)
                print(f"round {rnd + 1} {name}: {json.dumps(r)}", flush=True)
    finally:
        for p in reversed(started):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(started):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()

    def med(name, key):
        values = [r[key] for r in rows[name] if r[key] is not None]
        return statistics.median(values) if values else None

    lines = [f"{args.streams} streams x {args.tokens} events, one every {args.itl_ms} ms "
             f"({args.streams * 1000 // args.itl_ms:,} events/s); median of {args.runs} rounds", "",
             "| target | streams done | events | lateness p50 | lateness p99 | gap p99 | proxy CPU |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in rows:
        cores = med(name, "cores")
        lines.append(f"| {name} | {med(name, 'done'):.0f}/{args.streams} | {med(name, 'events'):,.0f} "
                     f"| {med(name, 'late_p50_us') / 1000:.1f} ms | {med(name, 'late_p99_us') / 1000:.1f} ms "
                     f"| {med(name, 'gap_p99_us') / 1000:.1f} ms "
                     f"| {'-' if cores is None else f'{cores:.2f} cores'} |")
    if "infergate" in rows and "haproxy" in rows:
        ig, hpx = med("infergate", "late_p99_us"), med("haproxy", "late_p99_us")
        lines += ["", f"lateness p99, infergate / haproxy: {ig / hpx:.2f}" if hpx else ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n\n```\n" + json.dumps(rows, indent=1) + "\n```\n")
    failed = any(r["failed"] for rs in rows.values() for r in rs)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

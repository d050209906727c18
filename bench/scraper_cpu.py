"""CPU cost of the metrics scraper: one infergate scraping N simulated endpoints every INTERVAL,
its CPU time (utime + stime from /proc/PID/stat) over a window, idle otherwise (no requests).
Also runs the same gateway without `metrics:` as the baseline.

Usage: INFERGATE_BIN=build-scraper/src/app/infergate INFERGATE_SIM_BIN=build-scraper/src/sim/infergate-sim \
       python3 bench/scraper_cpu.py [--endpoints 64] [--interval 50ms] [--seconds 10]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def measure(ports, metrics, seconds):
    listed = ", ".join(f"127.0.0.1:{p}" for p in ports)
    config = f"workers: 1\npools:\n  - name: p\n    endpoints: [{listed}]\n{metrics}" \
             f"models:\n  - {{name: Qwen/Qwen3-0.6B, pool: p}}\n"
    with harness.start_gateway(config) as gw:
        admin = int(gw.admin.rsplit(":", 1)[1])
        time.sleep(1.0)  # let every connection open before the window
        start, t0 = cpu_seconds(gw.proc.pid), time.monotonic()
        time.sleep(seconds)
        used, wall = cpu_seconds(gw.proc.pid) - start, time.monotonic() - t0
        _, _, page = harness.request(admin, "GET", "/debug/endpoints")
        scraped = page.count(b'"age_ms"')
    return used / wall, scraped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoints", type=int, default=64)
    ap.add_argument("--interval", default="50ms")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    with harness.start_sim("--fast", instances=args.endpoints) as sim:
        ports = [sim.port(i) for i in range(args.endpoints)]
        _, _, body = harness.request(ports[0], "GET", "/metrics")
        base, _ = measure(ports, "", args.seconds)
        cost, scraped = measure(
            ports, f"    metrics: {{flavour: vllm, interval: {args.interval}, timeout: 1s}}\n", args.seconds)
    print(f"endpoints={args.endpoints} interval={args.interval} window={args.seconds}s "
          f"page={len(body)}B scraped_endpoints={scraped}")
    print(f"gateway CPU without scraping: {100 * base:.2f}% of a core")
    print(f"gateway CPU with scraping:    {100 * cost:.2f}% of a core")


if __name__ == "__main__":
    main()

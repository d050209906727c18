"""CPU cost of the metrics scraper: one infergate scraping N simulated endpoints every INTERVAL,
its CPU time over a window, idle otherwise (no requests). Two clocks: utime + stime from
/proc/PID/stat (tick-sampled, 10 ms resolution) and the scheduler's exact run time summed over the
gateway's threads (/proc/PID/task/*/schedstat, nanoseconds), plus the context switches of those
threads. Also runs the same gateway without `metrics:` as the baseline.

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


def run_ns_and_switches(pid):
    """Exact CPU time (ns) and context switches (voluntary + not) summed over every thread."""
    ns = switches = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns += int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if "ctxt_switches:" in line:  # voluntary_... and nonvoluntary_...
                        switches += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return ns, switches


def measure(ports, metrics, seconds):
    listed = ", ".join(f"127.0.0.1:{p}" for p in ports)
    config = f"workers: 1\npools:\n  - name: p\n    endpoints: [{listed}]\n{metrics}" \
             f"models:\n  - {{name: Qwen/Qwen3-0.6B, pool: p}}\n"
    with harness.start_gateway(config) as gw:
        admin = int(gw.admin.rsplit(":", 1)[1])
        time.sleep(1.0)  # let every connection open before the window
        start, t0 = cpu_seconds(gw.proc.pid), time.monotonic()
        ns0, sw0 = run_ns_and_switches(gw.proc.pid)
        time.sleep(seconds)
        ns1, sw1 = run_ns_and_switches(gw.proc.pid)
        used, wall = cpu_seconds(gw.proc.pid) - start, time.monotonic() - t0
        _, _, page = harness.request(admin, "GET", "/debug/endpoints")
        scraped = page.count(b'"age_ms"')
    return used / wall, (ns1 - ns0) / 1e9 / wall, (sw1 - sw0) / wall, scraped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoints", type=int, default=64)
    ap.add_argument("--interval", default="50ms")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=1, help="scraping windows, each with a fresh gateway")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with harness.start_sim("--fast", instances=args.endpoints) as sim:
        ports = [sim.port(i) for i in range(args.endpoints)]
        _, _, body = harness.request(ports[0], "GET", "/metrics")
        base = measure(ports, "", args.seconds)
        runs = [measure(ports, f"    metrics: {{flavour: vllm, interval: {args.interval}, timeout: 1s}}\n",
                        args.seconds) for _ in range(args.runs)]
    print(f"endpoints={args.endpoints} interval={args.interval} window={args.seconds}s "
          f"page={len(body)}B scraped_endpoints={runs[-1][3]}")
    print(f"gateway CPU without scraping: {100 * base[0]:.2f}% of a core (ticks), "
          f"{100 * base[1]:.2f}% (schedstat)")
    for ticks, exact, switches, _ in runs:
        print(f"gateway CPU with scraping:    {100 * ticks:.2f}% of a core (ticks), "
              f"{100 * exact:.2f}% (schedstat), {switches:.0f} context switches/s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

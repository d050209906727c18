"""CPU cost of the metrics scraper: one infergate scraping N simulated endpoints every INTERVAL,
its CPU time over a window, idle otherwise (no requests). Two clocks: utime + stime from
/proc/PID/stat (tick-sampled, 10 ms resolution) and the scheduler's exact run time summed over the
gateway's threads (/proc/PID/task/*/schedstat, nanoseconds), plus the context switches of those
threads. Also runs the same gateway without `metrics:` as the baseline.

--floor BIN measures bench/scraper_floor.cpp (the least a scraper can do: keep-alive sockets,
epoll, one recv per response, no parsing) the same way, in each run right after the gateway, on
the same simulators; --compare BIN measures a second gateway binary in each run too (old and new
back to back on a shared, noisy machine).

Usage: INFERGATE_BIN=build-scraper/src/app/infergate INFERGATE_SIM_BIN=build-scraper/src/sim/infergate-sim \
       python3 bench/scraper_cpu.py [--endpoints 64] [--interval 50ms] [--seconds 10] [--runs 3] \
       [--floor build-scraper/bench/scraper_floor] [--compare OLD_INFERGATE]
"""
import argparse
import os
import select
import subprocess
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


def window(pid, seconds):
    """The gateway's and the floor's CPU over `seconds`, after a 1 s warm-up: (ticks, schedstat)
    in cores, context switches per second."""
    time.sleep(1.0)  # let every connection open before the window
    start, t0 = cpu_seconds(pid), time.monotonic()
    ns0, sw0 = run_ns_and_switches(pid)
    time.sleep(seconds)
    ns1, sw1 = run_ns_and_switches(pid)
    used, wall = cpu_seconds(pid) - start, time.monotonic() - t0
    return used / wall, (ns1 - ns0) / 1e9 / wall, (sw1 - sw0) / wall


def measure_floor(binary, ports, interval_ms, seconds):
    """bench/scraper_floor on the same endpoints; ready once it printed `connected N`."""
    argv = [binary, str(interval_ms), str(int(seconds + 3)), *map(str, ports)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], harness.START_TIMEOUT)
        line = proc.stdout.readline() if ready else b""
        if not line.startswith(b"connected"):
            raise RuntimeError(f"scraper_floor not ready: {line!r}")
        result = window(proc.pid, seconds)
        _, err = proc.communicate(timeout=10)  # it stops by itself after seconds + 3
        return (*result, err.decode().strip())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def measure(ports, metrics, seconds):
    listed = ", ".join(f"127.0.0.1:{p}" for p in ports)
    config = f"workers: 1\npools:\n  - name: p\n    endpoints: [{listed}]\n{metrics}" \
             f"models:\n  - {{name: Qwen/Qwen3-0.6B, pool: p}}\n"
    with harness.start_gateway(config) as gw:
        admin = int(gw.admin.rsplit(":", 1)[1])
        ticks, exact, switches = window(gw.proc.pid, seconds)
        _, _, page = harness.request(admin, "GET", "/debug/endpoints")
        scraped = page.count(b'"age_ms"')
    return ticks, exact, switches, scraped


def interval_ms(text):
    if text.endswith("ms"):
        return int(text[:-2])
    if text.endswith("s"):
        return int(float(text[:-1]) * 1000)
    raise ValueError(f"interval: {text}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoints", type=int, default=64)
    ap.add_argument("--interval", default="50ms")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=1, help="scraping windows, each with a fresh gateway")
    ap.add_argument("--floor", help="bench/scraper_floor binary: measured in each run too")
    ap.add_argument("--compare", help="a second infergate binary: measured in each run too")
    args = ap.parse_args()
    binaries = [("gateway", harness.GATEWAY_BIN)] + ([("compare", args.compare)] if args.compare else [])
    metrics = f"    metrics: {{flavour: vllm, interval: {args.interval}, timeout: 1s}}\n"
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    results = []  # (run, label, ticks, schedstat, switches, note)
    with harness.start_sim("--fast", instances=args.endpoints) as sim:
        ports = [sim.port(i) for i in range(args.endpoints)]
        _, _, body = harness.request(ports[0], "GET", "/metrics")
        base = measure(ports, "", args.seconds)
        for run in range(args.runs):
            for label, binary in binaries:
                harness.GATEWAY_BIN = binary
                ticks, exact, switches, scraped = measure(ports, metrics, args.seconds)
                results.append((run, label, ticks, exact, switches, f"scraped_endpoints={scraped}"))
            if args.floor:
                results.append((run, "floor", *measure_floor(args.floor, ports, interval_ms(args.interval),
                                                             args.seconds)))
            print(f"  run {run + 1} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    print(f"endpoints={args.endpoints} interval={args.interval} window={args.seconds}s page={len(body)}B")
    for label, binary in binaries + ([("floor", args.floor)] if args.floor else []):
        print(f"  {label}: {binary}")
    print(f"gateway CPU without scraping: {100 * base[0]:.2f}% of a core (ticks), "
          f"{100 * base[1]:.2f}% (schedstat)")
    for run, label, ticks, exact, switches, note in results:
        print(f"run {run + 1} {label:8} CPU with scraping: {100 * ticks:.2f}% of a core (ticks), "
              f"{100 * exact:.2f}% (schedstat), {switches:.0f} context switches/s; {note}")
    if args.floor:
        for label, _ in binaries:
            ratios = [a[3] / f[3] for a in results for f in results
                      if a[1] == label and f[1] == "floor" and a[0] == f[0] and f[3] > 0]
            print(f"{label}/floor (schedstat, per run): " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

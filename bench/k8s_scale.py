#!/usr/bin/env python3
"""What Kubernetes mode costs infergate on a large cluster (Python 3 standard library only).

For each N in --pods: the stand-in API server (tests/k8s/fake_apiserver.py, TLS + bearer token
unless --plain-http) is preloaded with N realistic pods (bench/k8s_pods.py: ~7.3 KB of JSON each,
with managedFields, probes, volumes, tolerations, kubelet status) spread over a few namespaces.
Only --pool-pods of them (8) belong to the benchmark's InferencePool (namespace `models`, label
app=bench-pool) and are Ready; they point at infergate-sim servers on 127.0.0.2, 127.0.0.3, ... (every
127/8 address is local on Linux, as in tests/integration/k8s_routes_test.py), all on one port. An
HTTPRoute sends model `bench-model` to the pool. The gateway watches every namespace (the real case:
it sees every pod).

Measured, per N:
  ready s       gateway start -> admin /readyz answers 200 (its list of every pod included)
  cpu s gw/api  CPU seconds the gateway and the API server spent from the gateway's start to ready
                (the API server's close to `ready s`: the Python server limits the start, not the gateway)
  rss MB        VmRSS once ready (peak VmHWM in brackets)
  idle cpu %    gateway CPU with no change at all, over --idle-seconds
  churn         updates per second asked / achieved: whole-pod replaces of unrelated pods (new
                annotation, heartbeat time and restart count, the way kubelet status updates look),
                sent in batches through the control API for --seconds
  gw cpu %      gateway CPU over the churn window, % of one core: utime+stime of /proc/PID/stat (all
                threads; 10 ms ticks). `+catch-up` is the extra seconds until the gateway's
                infergate_k8s_watch_events_total shows every churn event (the CPU of that tail is in
                `cpu ms/1k upd`, CPU per 1000 updates from churn start to caught-up)
  flip ms       during churn (at half time), one pool pod is made not Ready: milliseconds until
                /debug/routes shows the pool with one endpoint less (`-`: not within 30 s)
  top thr %     the busiest gateway thread's CPU over the churn window, % of one core (near 100 %:
                that thread, e.g. the Kubernetes watcher's, is saturated and the gateway falls behind)
  rss after     VmRSS after churn (MB)
  api cpu %     the Python API server's own CPU over the churn window (same clock): near 100 % means
                it, not the gateway, limits the achieved churn rate
  relists       infergate_k8s_relists_total during churn (a watcher too slow for the API server's
                --history gets 410 and lists everything again)
  builds        infergate_k8s_table_builds_total during churn (routing table rebuilds)
  route         after churn: 16 chat requests for bench-model through the gateway all 200, spread
                over the pool's pods

Usage (from the repository root):
  python3 bench/k8s_scale.py --gateway build/src/app/infergate --pods 5000,20000 [--seconds 20]
      [--rate 100] [--sim build/src/sim/infergate-sim] [--workdir /tmp/k8s-scale]
--perf records a flat profile of the gateway during churn (perf report -i WORKDIR/perf-N.data).
Old vs new: run it once per binary; the preload file is cached in --workdir (per N), so the cluster
is the same. Every wait is bounded; only processes this script started are stopped, by PID.
"""
import argparse
import http.client
import json
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import k8s_pods  # noqa: E402

POOL_NS, POOL_APP, MODEL = "models", "bench-pool", "bench-model"
POOL_API, ROUTE_API = "inference.networking.k8s.io/v1", "gateway.networking.k8s.io/v1"
GENERATOR_VERSION = 1  # bump when k8s_pods.py changes, so cached preload files are rebuilt
TICK = os.sysconf("SC_CLK_TCK")
MAX_SECONDS = 120


# ---------------------------------------------------------------------------------------------
# Processes (stdout read for ready lines; stderr to a file so a chatty child never blocks)

class Child:
    def __init__(self, argv, log_path, want, timeout):
        """Starts argv; waits (bounded) until stdout has shown the first word of each of `want`."""
        self.argv = argv
        self.log = open(log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log)
        self.lines = []
        deadline = time.monotonic() + timeout
        buf = b""
        seen = set()
        while not set(want) <= seen:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise TimeoutError(f"{argv[0]}: no ready line in {timeout}s (log {log_path})")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            chunk = os.read(self.proc.stdout.fileno(), 65536) if r else b""
            if r and not chunk:
                self.stop()
                raise RuntimeError(f"{argv} exited early; see {log_path}")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                words = line.decode(errors="replace").split()
                if words:
                    self.lines.append(words)
                    seen.add(words[0])
        # Keep draining stdout so the child never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        try:
            while os.read(self.proc.stdout.fileno(), 65536):
                pass
        except (OSError, ValueError):
            pass

    def word(self, key):
        """The word after `key` in the ready lines (`listening HOST:PORT`, `... control URL ...`)."""
        for words in self.lines:
            for k, v in zip(words, words[1:]):
                if k == key:
                    return v
        raise RuntimeError(f"{self.argv[0]} printed no {key!r}: {self.lines}")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()


def cpu_seconds(pid):
    """utime + stime of every thread of the process, seconds (10 ms ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def thread_cpu_seconds(pid):
    """{tid: utime + stime} of each live thread (the threads have no names: tids only)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[tid] = (int(fields[11]) + int(fields[12])) / TICK
        except FileNotFoundError:
            pass  # ended meanwhile
    return out


def memory_mb(pid):
    """(VmRSS, VmHWM) in MB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out.get("VmRSS", 0.0), out.get("VmHWM", 0.0)


# ---------------------------------------------------------------------------------------------
# HTTP

def http_call(port, method, path, body=None, headers=None, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class Control:
    """The fake API server's control API (tests/k8s/fake_apiserver.py docstring)."""

    def __init__(self, url):
        host_port = url.split("://", 1)[1]
        self.port = int(host_port.rsplit(":", 1)[1])

    def apply(self, objects, timeout=60.0):
        status, _, body = http_call(self.port, "POST", "/control/objects", {"objects": objects}, timeout=timeout)
        if status != 200:
            raise RuntimeError(f"control apply: {status} {body[:300]!r}")

    def state(self):
        return json.loads(http_call(self.port, "GET", "/control/state")[2])


def metrics(admin_port):
    """The gateway's unlabelled /metrics samples as {name: value} (absent names: not reported)."""
    status, _, body = http_call(admin_port, "GET", "/metrics")
    if status != 200:
        return {}
    out = {}
    for line in body.decode(errors="replace").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            if "{" not in name:
                try:
                    out[name] = float(value.split()[0])
                except (ValueError, IndexError):
                    pass
    return out


def pool_endpoints(admin_port):
    """Endpoints of the benchmark's pool on /debug/routes, or None when it is not there."""
    status, _, body = http_call(admin_port, "GET", "/debug/routes")
    if status != 200:
        return None
    for p in json.loads(body).get("pools", []):
        if p.get("name") == f"{POOL_NS}/{POOL_APP}":
            return p.get("endpoints", [])
    return None


def wait_for(predicate, timeout, interval=0.02):
    """Polls predicate() until true; returns seconds taken, or None on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    return None


# ---------------------------------------------------------------------------------------------
# The cluster

def pool_pod(i, port, ready=True, revision=0):
    obj = k8s_pods.pod(1_000_000 + i, revision, pool={"namespace": POOL_NS, "app": POOL_APP,
                                                      "ip": f"127.0.0.{2 + i}", "port": port})
    if not ready:
        for c in obj["status"]["conditions"]:
            if c["type"] in ("Ready", "ContainersReady"):
                c["status"] = "False"
        obj["status"]["containerStatuses"][0]["ready"] = False
    return obj


def pool_and_route(port):
    pool = {"apiVersion": POOL_API, "kind": "InferencePool", "metadata": {"name": POOL_APP, "namespace": POOL_NS},
            "spec": {"selector": {"matchLabels": {"app": POOL_APP}}, "targetPorts": [{"number": port}],
                     "endpointPickerRef": {"name": "epp"}}}
    route = {"apiVersion": ROUTE_API, "kind": "HTTPRoute", "metadata": {"name": "bench", "namespace": POOL_NS},
             "spec": {"parentRefs": [{"name": "infergate", "namespace": POOL_NS}],
                      "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"},
                                              "headers": [{"type": "Exact", "name": "X-Gateway-Model-Name",
                                                           "value": MODEL}]}],
                                 "backendRefs": [{"group": "inference.networking.k8s.io", "kind": "InferencePool",
                                                  "name": POOL_APP, "weight": 1}]}]}}
    return [pool, route]


def preload_file(workdir, pods):
    """The N unrelated pods as a JSON list, cached per N (generating 20,000 takes a while)."""
    path = os.path.join(workdir, f"pods-{pods}-v{GENERATOR_VERSION}.json")
    if not os.path.exists(path):
        t0 = time.monotonic()
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("[")
            for i in range(pods):
                if i:
                    f.write(",")
                f.write(json.dumps(k8s_pods.pod(i), separators=(",", ":")))
            f.write("]")
        os.replace(tmp, path)
        print(f"  generated {path} ({os.path.getsize(path) / 1e6:.0f} MB) in {time.monotonic() - t0:.0f}s",
              file=sys.stderr)
    return path


def start_sims(sim_bin, count, workdir):
    """One infergate-sim per pod address 127.0.0.2.., all on one port (a pool has one target port)."""
    args = ["--fast", "--model", MODEL]
    for attempt in range(20):
        first = Child([sim_bin, "--host", "127.0.0.2", "--port", "0", *args],
                      os.path.join(workdir, "sim-0.log"), ["listening"], 20)
        port = int(first.word("listening").rsplit(":", 1)[1])
        sims = [first]
        try:
            for i in range(1, count):
                sims.append(Child([sim_bin, "--host", f"127.0.0.{2 + i}", "--port", str(port), *args],
                                  os.path.join(workdir, f"sim-{i}.log"), ["listening"], 20))
            return sims, port
        except (RuntimeError, TimeoutError):  # that port is taken on another address: another one
            for s in sims:
                s.stop()
    raise RuntimeError("no port free on every pod address")


# ---------------------------------------------------------------------------------------------
# One run

class Churn:
    """Replaces unrelated pods at `rate` per second in batches, for `seconds`; at half time flips one
    pool pod to not Ready and times how long until /debug/routes shows it gone."""

    def __init__(self, control, admin_port, pods, rate, seconds, batches_per_second, sim_port, pool_pods,
                 seed):
        self.control, self.admin_port, self.pool_pods = control, admin_port, pool_pods
        self.pods, self.rate, self.seconds = pods, rate, seconds
        self.batch = max(1, round(rate / batches_per_second))
        self.sim_port = sim_port
        self.rng = random.Random(seed)
        self.revisions = {}
        self.applied = 0
        self.flip_ms = None
        self.flip_started = False

    def run(self, at_window_end):
        """Returns the window's wall time; calls at_window_end() as soon as the last batch is sent
        (before waiting for the flip to show, so the CPU window is the churn window)."""
        total = int(self.rate * self.seconds)
        interval = self.batch / self.rate
        start = time.monotonic()
        next_send = start
        flipper = None
        while self.applied < total and time.monotonic() - start < self.seconds:
            now = time.monotonic()
            if now < next_send:
                time.sleep(next_send - now)
            objs = []
            for _ in range(min(self.batch, total - self.applied)):
                i = self.rng.randrange(self.pods)
                rev = self.revisions[i] = self.revisions.get(i, 0) + 1
                objs.append(k8s_pods.pod(i, rev))
            self.control.apply(objs)
            self.applied += len(objs)
            next_send += interval
            if flipper is None and time.monotonic() - start >= self.seconds / 2:
                flipper = threading.Thread(target=self._flip, daemon=True)
                flipper.start()
        self.wall = time.monotonic() - start
        at_window_end()
        if flipper:
            flipper.join(timeout=35)
        return self.wall

    def _flip(self):
        """The last pool pod stops being ready; measures the time until the table drops it."""
        self.control.apply([pool_pod(self.pool_pods - 1, self.sim_port, ready=False, revision=1)])
        t0 = time.monotonic()
        took = wait_for(lambda: len(pool_endpoints(self.admin_port) or []) == self.pool_pods - 1, 30.0)
        self.flip_ms = None if took is None else (time.monotonic() - t0) * 1000


def run_one(a, pods, workdir, sims, sim_port):
    row = {"pods": pods}
    preload = preload_file(workdir, pods)
    row["preload_mb"] = os.path.getsize(preload) / 1e6
    kubeconfig = os.path.join(workdir, "kubeconfig")
    api_args = [sys.executable, os.path.join(ROOT, "tests", "k8s", "fake_apiserver.py"), "--preload", preload,
                "--kubeconfig", kubeconfig, "--history", str(a.history), "--bookmark-interval", "1"]
    if a.plain_http:
        api_args.append("--plain-http")
    t0 = time.monotonic()
    api = Child(api_args, os.path.join(workdir, f"apiserver-{pods}.log"), ["apiserver"], a.preload_timeout)
    gw = None
    try:
        row["api_load_s"] = time.monotonic() - t0
        control = Control(api.word("control"))
        control.apply([pool_pod(i, sim_port) for i in range(a.pool_pods)] + pool_and_route(sim_port))

        config = os.path.join(workdir, "gateway.yaml")
        with open(config, "w") as f:
            f.write(f"kubernetes:\n  kubeconfig: {kubeconfig}\n  gateway: {{name: infergate, namespace: {POOL_NS}}}\n"
                    f"  probe_models: false\n")
        gw_log = os.path.join(workdir, f"gateway-{pods}.log")
        api_start = cpu_seconds(api.pid)
        gw = Child([a.gateway, "--config", config, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                    "--workers", str(a.workers)], gw_log, ["admin", "listening"], 60)
        admin = int(gw.word("admin").rsplit(":", 1)[1])
        listen = int(gw.word("listening").rsplit(":", 1)[1])
        ready = wait_for(lambda: http_call(admin, "GET", "/readyz")[0] == 200, a.ready_timeout, 0.05)
        if ready is None:
            raise RuntimeError(f"gateway not ready in {a.ready_timeout}s; see {gw_log}")
        row["ready_s"] = time.monotonic() - gw.started
        row["ready_gw_cpu"], row["ready_api_cpu"] = cpu_seconds(gw.pid), cpu_seconds(api.pid) - api_start
        row["rss_ready"], row["hwm_ready"] = memory_mb(gw.pid)
        if wait_for(lambda: len(pool_endpoints(admin) or []) == a.pool_pods, 30.0) is None:
            raise RuntimeError(f"pool never had {a.pool_pods} endpoints: {pool_endpoints(admin)}")
        row["list_requests"] = metrics(admin).get("infergate_k8s_list_requests_total")

        time.sleep(1.0)  # the route status writes and their echoes settle before the idle window
        c0 = cpu_seconds(gw.pid)
        time.sleep(a.idle_seconds)
        row["idle_cpu"] = (cpu_seconds(gw.pid) - c0) / a.idle_seconds * 100

        m0 = metrics(admin)
        gw0, api0, threads0 = cpu_seconds(gw.pid), cpu_seconds(api.pid), thread_cpu_seconds(gw.pid)
        churn = Churn(control, admin, pods, a.rate, a.seconds, a.batches_per_second, sim_port,
                      a.pool_pods, a.seed)
        perf = None
        if a.perf:  # a flat profile of the churn window (it costs CPU too: not for the table)
            perf = subprocess.Popen(["perf", "record", "-F", "499", "-p", str(gw.pid), "-o",
                                     os.path.join(workdir, f"perf-{pods}.data"), "--", "sleep", str(a.seconds)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = {}
        wall = churn.run(lambda: end.update(gw=cpu_seconds(gw.pid), api=cpu_seconds(api.pid),
                                            threads=thread_cpu_seconds(gw.pid)))
        gw1, api1, threads1 = end["gw"], end["api"], end["threads"]
        if perf:
            perf.wait(timeout=a.seconds + 60)
        row["top_thread"] = max((v - threads0.get(t, 0.0) for t, v in threads1.items()), default=0) / wall * 100
        row["rate_asked"], row["rate_done"] = a.rate, churn.applied / wall
        row["gw_cpu"], row["api_cpu"] = (gw1 - gw0) / wall * 100, (api1 - api0) / wall * 100
        row["flip_ms"] = churn.flip_ms
        # Every churn event reached the gateway: the updates and the flip.
        want = m0.get("infergate_k8s_watch_events_total", 0) + churn.applied + 1
        t_end = time.monotonic()
        caught = wait_for(lambda: metrics(admin).get("infergate_k8s_watch_events_total", 0) >= want,
                          a.catchup_timeout, 0.1) if "infergate_k8s_watch_events_total" in m0 else None
        row["catchup_s"] = None if caught is None else time.monotonic() - t_end
        row["cpu_per_1k"] = (cpu_seconds(gw.pid) - gw0) / churn.applied * 1000 * 1000  # ms per 1000
        m1 = metrics(admin)
        row["relists"] = m1.get("infergate_k8s_relists_total", 0) - m0.get("infergate_k8s_relists_total", 0)
        row["builds"] = (m1.get("infergate_k8s_table_builds_total", 0)
                         - m0.get("infergate_k8s_table_builds_total", 0))
        row["rss_after"], row["hwm_after"] = memory_mb(gw.pid)

        control.apply([pool_pod(a.pool_pods - 1, sim_port, ready=True, revision=2)])
        back = wait_for(lambda: len(pool_endpoints(admin) or []) == a.pool_pods, 30.0)
        served, ok = set(), 0
        for _ in range(16 if back is not None else 0):
            status, headers, _ = http_call(listen, "POST", "/v1/chat/completions",
                                           {"model": MODEL, "max_tokens": 2,
                                            "messages": [{"role": "user", "content": "hi"}]})
            ok += status == 200
            served.add(headers.get("x-gateway-destination-endpoint-served"))
        row["route"] = f"{ok}/16 ok, {len(served)} pods" if back is not None else "pool not restored"
        row["load"] = os.getloadavg()
        return row
    finally:
        if gw:
            gw.stop()
        api.stop()


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_table(rows, a):
    head = ("pods", "JSON MB", "ready s", "cpu s gw/api", "rss MB (peak)", "idle cpu %", "churn/s asked/done", "gw cpu %", "top thr %",
            "+catch-up s", "cpu ms/1k upd", "flip ms", "rss after (peak)", "api cpu %", "relists", "builds",
            "route", "load 1/5 min")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        if "error" in r:
            print(f"| {r['pods']} | error: {r['error']} |")
            continue
        print("| " + " | ".join([
            str(r["pods"]), fmt(r["preload_mb"], ".0f"), fmt(r["ready_s"], ".2f"),
            f"{r['ready_gw_cpu']:.1f} / {r['ready_api_cpu']:.1f}",
            f"{r['rss_ready']:.0f} ({r['hwm_ready']:.0f})", fmt(r["idle_cpu"], ".1f"),
            f"{r['rate_asked']} / {r['rate_done']:.0f}", fmt(r["gw_cpu"], ".1f"), fmt(r["top_thread"], ".0f"),
            fmt(r["catchup_s"], ".1f"),
            fmt(r["cpu_per_1k"], ".0f"), fmt(r["flip_ms"], ".0f"),
            f"{r['rss_after']:.0f} ({r['hwm_after']:.0f})", fmt(r["api_cpu"], ".0f"),
            fmt(r["relists"], ".0f"), fmt(r["builds"], ".0f"), r["route"],
            f"{r['load'][0]:.1f} / {r['load'][1]:.1f}"]) + " |")
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--gateway", default=os.path.join(ROOT, "build", "src", "app", "infergate"))
    p.add_argument("--sim", default=os.path.join(ROOT, "build", "src", "sim", "infergate-sim"))
    p.add_argument("--pods", default="20000", help="unrelated pods; a comma-separated list runs each")
    p.add_argument("--pool-pods", type=int, default=8, help="ready pods of the InferencePool (at most 200)")
    p.add_argument("--seconds", type=float, default=20.0, help=f"churn window (at most {MAX_SECONDS})")
    p.add_argument("--rate", type=int, default=100, help="pod updates per second during churn")
    p.add_argument("--batches-per-second", type=float, default=10.0, help="control API calls per second")
    p.add_argument("--idle-seconds", type=float, default=5.0)
    p.add_argument("--workers", type=int, default=1, help="gateway --workers")
    p.add_argument("--history", type=int, default=20000,
                   help="API server event history (watch replay); small values force relists")
    p.add_argument("--plain-http", action="store_true", help="API over plain HTTP (default: TLS)")
    p.add_argument("--preload-timeout", type=float, default=900.0)
    p.add_argument("--ready-timeout", type=float, default=600.0)
    p.add_argument("--catchup-timeout", type=float, default=60.0)
    p.add_argument("--perf", action="store_true",
                   help="perf record the gateway during churn into WORKDIR/perf-N.data (perturbs the figures)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), f"k8s-scale-{os.getuid()}"),
                   help="cached preload files, logs, kubeconfig")
    a = p.parse_args()
    if not 0 < a.seconds <= MAX_SECONDS:
        p.error(f"--seconds must be in (0, {MAX_SECONDS}]")
    if not 1 <= a.pool_pods <= 200 or a.rate < 1 or a.rate > 5000:
        p.error("--pool-pods must be 1..200 and --rate 1..5000")
    for b in (a.gateway, a.sim):
        if not os.access(b, os.X_OK):
            p.error(f"not an executable: {b}")
    os.makedirs(a.workdir, exist_ok=True)
    print(f"gateway {a.gateway}; workdir {a.workdir}; load {os.getloadavg()}", file=sys.stderr)
    sims, sim_port = start_sims(a.sim, a.pool_pods, a.workdir)
    rows = []
    try:
        for n in (int(x) for x in a.pods.split(",")):
            print(f"N={n} ...", file=sys.stderr)
            try:
                rows.append(run_one(a, n, a.workdir, sims, sim_port))
            except (RuntimeError, TimeoutError, OSError) as e:
                rows.append({"pods": n, "error": str(e)})
            print(f"  {rows[-1]}", file=sys.stderr)
    finally:
        for s in sims:
            s.stop()
    print_table(rows, a)
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

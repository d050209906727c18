#!/usr/bin/env python3
"""Soak: a bounded run of mixed, partly hostile traffic through one gateway, then the books.

Drives for --seconds (at most 900) a gateway in front of simulators that fail on purpose (500s,
resets before and mid-stream, hangs), with the default scheduling profile and its prefix index
churning on unique prompts:
  - wrk: keep-alive chat completions, half streamed, each prompt new (wrk/soak_chat.lua);
  - clients that leave mid-stream, during the prefill, or before sending the body;
  - bad input: broken JSON, unknown models, oversized heads; audio forms, whole and broken.
It samples the gateway's RSS, open files and threads every --sample seconds, and when the load
stops checks what must hold after any amount of traffic:
  - every endpoint's in-flight count and pending prefill back at 0 (/metrics, /debug/endpoints);
  - open files back near the start (pooled upstream connections aside);
  - RSS flat over the second half of the run (the prefix index is bounded by bytes).
Prints one line per check, PASS or FAIL, and exits non-zero on any FAIL.

  python3 bench/soak.py --gateway build/src/app/infergate --sim build/src/sim/infergate-sim \
      --seconds 120
"""
import argparse
import json
import os
import pathlib
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
MODEL = "Qwen/Qwen3-0.6B"


def wait_ready(proc, count, timeout=20.0):
    """Reads 'listening HOST:PORT' / 'admin HOST:PORT' lines; returns them in order."""
    lines, deadline = [], time.monotonic() + timeout
    while len(lines) < count:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} not ready")
        line = proc.stdout.readline().decode().split()
        if len(line) >= 2 and line[0] in ("listening", "admin"):
            lines.append(line[1])
    return lines


def proc_status(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_kb": int(fields["VmRSS"].split()[0]),
        "threads": int(fields["Threads"].strip()),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def http_get(addr, path, timeout=5.0):
    with urllib.request.urlopen(f"http://{addr}{path}", timeout=timeout) as r:
        return r.read().decode()


def in_flight_total(admin):
    total = 0.0
    for line in http_get(admin, "/metrics").splitlines():
        if line.startswith("infergate_endpoint_in_flight{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def pending_prefill_total(admin):
    doc = json.loads(http_get(admin, "/debug/endpoints"))
    total = 0
    for pool in doc.get("pools", []):
        for e in pool.get("endpoints", []):
            total += e["pending_prefill"]["requests"]
    return total


def chat(content, stream, max_tokens):
    return json.dumps({"model": MODEL, "stream": stream, "max_tokens": max_tokens,
                       "messages": [{"role": "user", "content": content}]}).encode()


def post(body, extra=b""):
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
            + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")


class Hostile(threading.Thread):
    """Clients that leave early and send bad input, back to back until told to stop."""

    def __init__(self, port, stop, seed):
        super().__init__(daemon=True)
        self.port, self.stop, self.rng = port, stop, random.Random(seed)
        self.counts = {}

    def one(self):
        kind = self.rng.choice(["leave_mid_stream", "leave_in_prefill", "leave_before_body",
                                "broken_json", "unknown_model", "huge_head", "audio_form", "broken_form"])
        self.counts[kind] = self.counts.get(kind, 0) + 1
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            if kind == "leave_mid_stream":
                body = chat(f"stream {self.rng.random()}", True, 64)
                s.sendall(post(body) + body)
                s.recv(512)  # the head or the first events: then gone
            elif kind == "leave_in_prefill":
                body = chat("x" * 4000 + str(self.rng.random()), True, 64)
                s.sendall(post(body) + body)
            elif kind == "leave_before_body":
                body = chat("never sent", False, 8)
                s.sendall(post(body) + body[:10])
            elif kind == "broken_json":
                body = b'{"model": "' + MODEL.encode() + b'", "messages": [}'
                s.sendall(post(body) + body)
                s.recv(4096)
            elif kind == "unknown_model":
                body = json.dumps({"model": "no-such-model", "messages": []}).encode()
                s.sendall(post(body) + body)
                s.recv(4096)
            elif kind in ("audio_form", "broken_form"):
                body = (b"--soakb\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
                        + bytes(self.rng.randrange(256) for _ in range(512))
                        + b"\r\n--soakb\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
                        + MODEL.encode() + b"\r\n--soakb--\r\n")
                if kind == "broken_form":  # cut or scrambled somewhere
                    at = self.rng.randrange(len(body))
                    body = body[:at] if self.rng.random() < 0.5 else body[:at] + b"--soak" + body[at:]
                s.sendall(b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: soak\r\n"
                          b"Content-Type: multipart/form-data; boundary=soakb\r\n"
                          b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                s.recv(4096)
            else:
                s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: soak\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
                s.recv(4096)
        except OSError:
            pass  # the gateway may close first (431, reset): that is an answer too
        finally:
            s.close()

    def run(self):
        while not self.stop.is_set():
            self.one()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateway", default="build/src/app/infergate")
    ap.add_argument("--sim", default="build/src/sim/infergate-sim")
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--sample", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--hostile", type=int, default=4, help="threads of leaving/bad clients")
    args = ap.parse_args()
    seconds = max(10, min(args.seconds, 900))
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (apt-get install wrk)")

    work = pathlib.Path(tempfile.mkdtemp(prefix="infergate-soak-"))
    started = []

    def spawn(argv, name):
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(work / f"{name}.log", "wb"))
        started.append(p)
        return p

    try:
        sim = spawn([args.sim, "--host", "127.0.0.1", "--port", "0", "--instances", "4",
                     "--itl-ms", "1", "--prefill-overhead-ms", "1", "--prefill-per-token-us", "2",
                     "--max-num-seqs", "64", "--fail-500-rate", "0.01", "--reset-before-rate", "0.005",
                     "--reset-midstream-rate", "0.01", "--hang-rate", "0.002", "--log-level", "warn"], "sim")
        endpoints = wait_ready(sim, 4)
        (work / "gateway.yaml").write_text(f"""
workers: 2
timeouts: {{first_byte: 2s, stream_idle: 2s}}
pools:
  - name: soak
    endpoints: [{", ".join(endpoints)}]
    metrics: {{flavour: vllm}}
    scheduler:  # the default profile with a small prefix index, so the soak reaches its bound
      plugins:
        - {{type: available-filter}}
        - {{type: queue-scorer, weight: 2}}
        - {{type: kv-cache-scorer, weight: 2}}
        - {{type: prefix-cache-scorer, weight: 3, parameters: {{index_bytes: 1MiB}}}}
        - {{type: lora-affinity-scorer, weight: 1}}
        - {{type: prefill-load-scorer, weight: 1}}
        - {{type: max-score-picker}}
models:
  - {{name: {MODEL}, pool: soak}}
""")
        gw = spawn([args.gateway, "--config", str(work / "gateway.yaml"), "--listen", "127.0.0.1:0",
                    "--admin", "127.0.0.1:0", "--log-level", "warn"], "gateway")
        listen, admin = wait_ready(gw, 2)
        port = int(listen.rsplit(":", 1)[1])
        before = proc_status(gw.pid)

        stop = threading.Event()
        hostile = [Hostile(port, stop, seed) for seed in range(args.hostile)]
        for h in hostile:
            h.start()
        wrk = subprocess.Popen(["wrk", "-t", "2", "-c", str(args.connections), "-d", f"{seconds}s",
                                "--timeout", "5s", "-s", str(HERE / "wrk" / "soak_chat.lua"),
                                f"http://{listen}"], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "MODEL": MODEL})
        started.append(wrk)
        samples, t0 = [], time.monotonic()
        while wrk.poll() is None and time.monotonic() - t0 < seconds + 30:
            samples.append((time.monotonic() - t0, proc_status(gw.pid)))
            time.sleep(args.sample)  # a sampling period, not a wait for readiness
        wrk_out = wrk.communicate(timeout=30)[0]
        stop.set()
        for h in hostile:
            h.join(timeout=10)

        # The load has stopped; hung upstream requests end at first_byte (2 s).
        deadline, in_flight, prefill = time.monotonic() + 10, None, None
        while time.monotonic() < deadline:
            in_flight, prefill = in_flight_total(admin), pending_prefill_total(admin)
            if in_flight == 0 and prefill == 0:
                break
            time.sleep(0.2)
        after = proc_status(gw.pid)
        alive = gw.poll() is None

        print(f"soak: {seconds} s, {args.connections} wrk connections, {args.hostile} hostile clients")
        print(wrk_out.strip())
        print("hostile:", json.dumps({k: sum(h.counts.get(k, 0) for h in hostile)
                                      for k in sorted({k for h in hostile for k in h.counts})}))
        print("t_s rss_kb fds threads")
        for t, s in samples:
            print(f"{t:6.1f} {s['rss_kb']:8d} {s['fds']:5d} {s['threads']:3d}")
        half = [s["rss_kb"] for t, s in samples if t >= seconds / 2]
        growth = (max(half) - min(half)) / min(half) if half else 0.0
        checks = [
            ("gateway alive", alive, ""),
            ("in-flight back to 0", in_flight == 0, f"{in_flight}"),
            ("pending prefill back to 0", prefill == 0, f"{prefill}"),
            ("open files near start", after["fds"] <= before["fds"] + 4 * 2 * 4 + 8,
             f"{before['fds']} -> {after['fds']} (pooled upstream connections allowed)"),
            ("RSS flat over the second half (< 5 %)", growth < 0.05,
             f"{min(half) if half else 0} -> {max(half) if half else 0} kB ({growth * 100:.1f} %)"),
        ]
        failed = 0
        for name, ok, detail in checks:
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
        return 1 if failed else 0
    finally:
        for p in reversed(started):
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=5)
        print(f"logs: {work}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Memory per idle keep-alive connection: one gateway (one worker) in front of one
`infergate-sim --fast`, N client connections held open from this process, RSS read from
/proc/PID/status. Two phases on the same connections:

  connected   every connection accepted, nothing sent yet
  after-one   every connection has had one 2 KB chat completion answered (CONCURRENCY at a time,
              as a busy client pool would send them), and stays idle

Per-connection cost = (RSS with N open - RSS before) / N (kernel socket buffers are not in it).
With --peer haproxy, HAProxy (one thread, its default 16 KB buffers, one backend: no body
routing) is measured the same way in the same run.
Loopback only; bounded in time; every process it starts is stopped by PID.

usage: bench/idle_connections.py [--connections 10000] [--concurrency 64] [--peer haproxy] [--out FILE]
env:   INFERGATE_BIN, INFERGATE_SIM_BIN (default: build/src/{app,sim}/...)
"""
import argparse
import json
import os
import pathlib
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

from loopback import haproxy_one_backend, listening_port, wait_port

HERE = pathlib.Path(__file__).resolve().parent
MODEL = "Qwen/Qwen3-0.6B"
BODY = json.dumps({"messages": [{"role": "user", "content": "x" * 1900}], "max_tokens": 2,
                   "model": MODEL}).encode()
REQUEST = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
           b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
DEADLINE_S = 240


def rss_kb(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settle_rss(pid, seconds=1.0):
    """RSS once it stopped moving (the worker has accepted or answered everything)."""
    last, stable_since = rss_kb(pid), time.monotonic()
    while time.monotonic() - stable_since < seconds:
        time.sleep(0.1)
        now = rss_kb(pid)
        if now != last:
            last, stable_since = now, time.monotonic()
    return last


def open_connections(port, n, deadline):
    socks = []
    for _ in range(n):
        if time.monotonic() > deadline:
            raise RuntimeError("connecting took too long")
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        socks.append(s)
    return socks


def one_request_each(socks, deadline):
    """Sends one request on every connection and reads each whole response (content-length)."""
    sel = selectors.DefaultSelector()
    pending = {}
    for s in socks:
        s.setblocking(True)
        s.sendall(REQUEST)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        pending[s] = b""
    bad = 0
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} responses missing at the deadline")
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            data = s.recv(65536)
            if not data:
                raise RuntimeError("a connection closed before its response")
            buf = pending[s] + data
            head, sep, body = buf.partition(b"\r\n\r\n")
            if not sep:
                pending[s] = buf
                continue
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            if len(body) < length:
                pending[s] = buf
                continue
            if not head.startswith(b"HTTP/1.1 200"):
                bad += 1
            sel.unregister(s)
            del pending[s]
    if bad:
        raise RuntimeError(f"{bad} responses were not 200")


def in_waves(socks, concurrency, deadline):
    for i in range(0, len(socks), concurrency):
        one_request_each(socks[i:i + concurrency], deadline)


def measure(name, pid, port, n, concurrency):
    deadline = time.monotonic() + DEADLINE_S
    warm = socket.create_connection(("127.0.0.1", port), timeout=10)  # first request's allocations
    warm.sendall(REQUEST)
    warm.recv(65536)
    warm.close()
    base = settle_rss(pid)
    socks = open_connections(port, n, deadline)
    try:
        connected = settle_rss(pid)
        in_waves(socks, concurrency, deadline)
        after = settle_rss(pid)
        alive = sum(1 for s in socks if s.fileno() >= 0)
    finally:
        for s in socks:
            s.close()
    return {"target": name, "connections": n, "concurrency": concurrency, "alive": alive, "rss_base_kb": base,
            "connected_kib_each": (connected - base) / n, "after_one_kib_each": (after - base) / n}


def start_haproxy(work, sim_port, n):
    port = haproxy_one_backend(work / "haproxy.cfg", sim_port, n + 50, 300, ["http-keep-alive"])
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(work / "haproxy.cfg")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


def report(result):
    return (f"{result['target']}: {result['connections']} idle keep-alive connections, RSS base "
            f"{result['rss_base_kb']} KiB; connected {result['connected_kib_each']:.1f} KiB each, after "
            f"one 2 KB request ({result['concurrency']} at a time) {result['after_one_kib_each']:.1f} KiB each")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=64, help="requests in flight at a time")
    ap.add_argument("--peer", choices=["haproxy"])
    ap.add_argument("--out")
    args = ap.parse_args()
    n = max(1, min(args.connections, 15000))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n + 100:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} is below {n + 100}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gw_bin = os.environ.get("INFERGATE_BIN", "build/src/app/infergate")
    sim_bin = os.environ.get("INFERGATE_SIM_BIN", "build/src/sim/infergate-sim")
    work = pathlib.Path(tempfile.mkdtemp(prefix="infergate-idle-"))
    started = []
    try:
        sim = subprocess.Popen([sim_bin, "--fast", "--host", "127.0.0.1", "--port", "0", "--log-level", "warn"],
                               stdout=subprocess.PIPE, text=True)
        started.append(sim)
        sim_port = listening_port(sim)
        (work / "gateway.yaml").write_text(
            f"workers: 1\nmax_connections: {n + 1000}\ntimeouts: {{keepalive_idle: 300s}}\n"
            f"pools:\n  - name: p\n    endpoints: [127.0.0.1:{sim_port}]\n"
            f"models:\n  - name: {MODEL}\n    targets: [{{pool: p}}]\n")
        gw = subprocess.Popen([gw_bin, "--config", str(work / "gateway.yaml"), "--listen", "127.0.0.1:0",
                               "--admin", "127.0.0.1:0", "--log-level", "warn"],
                              stdout=subprocess.PIPE, text=True)
        started.append(gw)
        concurrency = max(1, min(args.concurrency, n))
        results = [measure("infergate", gw.pid, listening_port(gw), n, concurrency)]
        print(report(results[0]), flush=True)
        gw.send_signal(signal.SIGTERM)
        gw.wait(30)
        if args.peer == "haproxy":
            peer, port = start_haproxy(work, sim_port, n)
            started.append(peer)
            results.append(measure("haproxy", peer.pid, port, n, concurrency))
            print(report(results[1]), flush=True)
    finally:
        for p in reversed(started):
            p.send_signal(signal.SIGTERM)
        for p in reversed(started):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Streaming check: does a proxy pass every SSE event on as it arrives, or does it hold events back
and coalesce them? For each target it sends REQUESTS streaming chat requests (one at a time, over a
raw socket so that nothing on our side buffers), stamps the arrival of every complete SSE event
("\\n\\n"), and reports the time to the first event and the gaps between events. Behind a simulator
that emits one event every ITL ms, a good proxy shows the same gaps as a direct connection; a
coalescing one shows gaps near zero ("bunched": events that arrived within 2 ms of the previous one)
next to long ones, or a first event late by its flush timer.

usage: stream_check.py --model M --tokens N --requests R --json OUT NAME=HOST:PORT [...]
"""
import argparse
import json
import socket
import statistics
import sys
import time


def one_stream(hostport, model, tokens, timeout=30.0):
    host, port = hostport.rsplit(":", 1)
    body = json.dumps({"model": model, "stream": True, "max_tokens": tokens,
                       "messages": [{"role": "user", "content": "stream check"}]}).encode()
    req = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {hostport}\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
           f"Connection: close\r\n\r\n").encode() + body
    deadline = time.monotonic() + timeout
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        t0 = time.monotonic()
        s.sendall(req)
        buf, head_done, status, stamps, done = b"", False, None, [], False
        while not done and time.monotonic() < deadline:
            chunk = s.recv(65536)
            now = time.monotonic()
            if not chunk:
                break
            buf += chunk
            if not head_done:
                if b"\r\n\r\n" not in buf:
                    continue
                head, buf = buf.split(b"\r\n\r\n", 1)
                status = int(head.split(b" ", 2)[1])
                head_done = True
            # Every complete event ends with a blank line; chunk framing uses \r\n and the head
            # ends with \r\n\r\n, so "\n\n" counts events only.
            n = buf.count(b"\n\n")
            stamps.extend([now - t0] * n)
            done = b"[DONE]" in buf
            buf = buf[buf.rfind(b"\n\n") + 2:] if n else buf
        return status, stamps
    finally:
        s.close()


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def check(name, hostport, args):
    ttfe, gaps, events, statuses = [], [], [], []
    for _ in range(args.requests):
        status, stamps = one_stream(hostport, args.model, args.tokens)
        statuses.append(status)
        events.append(len(stamps))
        if stamps:
            ttfe.append(stamps[0] * 1e3)
            gaps.extend((b - a) * 1e3 for a, b in zip(stamps, stamps[1:]))
    bunched = sum(1 for g in gaps if g < 2.0)
    return {
        "name": name, "statuses": sorted(set(statuses)), "events_per_stream": sorted(set(events)),
        "ttfe_ms_p50": statistics.median(ttfe) if ttfe else float("nan"),
        "ttfe_ms_max": max(ttfe) if ttfe else float("nan"),
        "gap_ms_p50": pct(gaps, 50), "gap_ms_p90": pct(gaps, 90), "gap_ms_max": max(gaps or [0]),
        "bunched_gaps": bunched, "gaps": len(gaps),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--requests", type=int, default=5)
    ap.add_argument("--json", required=True)
    ap.add_argument("targets", nargs="+")
    args = ap.parse_args()
    results = []
    for t in args.targets:
        name, hostport = t.split("=", 1)
        r = check(name, hostport, args)
        results.append(r)
        print(f"stream {name:<24} status {r['statuses']} events {r['events_per_stream']} "
              f"ttfe p50 {r['ttfe_ms_p50']:.1f} ms max {r['ttfe_ms_max']:.1f} | gap p50 "
              f"{r['gap_ms_p50']:.1f} p90 {r['gap_ms_p90']:.1f} max {r['gap_ms_max']:.1f} ms | "
              f"bunched {r['bunched_gaps']}/{r['gaps']}", flush=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())

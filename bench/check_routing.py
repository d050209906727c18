#!/usr/bin/env python3
"""Verifies that a proxy really routes by the body's `model`: for every MODEL=PORT pair, a POST with
a 2 KB and a 50 KB body (the `model` after a large `messages` array, as bench/wrk/chat_post.lua
builds them) must return 200 with `x-inference-port: PORT` (the simulator names the instance that
answered). An unknown model must not return 2xx. Exit status 0 only if every check passed.

usage: check_routing.py NAME [https://]HOST:PORT MODEL=PORT [MODEL=PORT ...]
(https: the proxy's certificate is not verified; the bench makes it for the run)
"""
import http.client
import json
import ssl
import sys


def make_body(n_bytes, model):
    """Same layout as bench/wrk/chat_post.lua: messages first, then model, padded to n_bytes."""
    head, tail = '{"messages":[', '],"model":%s,"max_tokens":2}' % json.dumps(model)
    filler = "lorem ipsum dolor sit amet " * 8
    parts, used, i = [], len(head) + len(tail), 0
    while True:
        role = "user" if i % 2 == 0 else "assistant"
        m = '{"role":"%s","content":"%d %s"}' % (role, i, filler)
        sep = 1 if i else 0
        if used + sep + len(m) > n_bytes:
            break
        parts.append(("," if sep else "") + m)
        used += sep + len(m)
        i += 1
    return (head + "".join(parts) + " " * (n_bytes - used) + tail).encode()


def post(hostport, body):
    tls = hostport.startswith("https://")
    host, port = hostport.split("://", 1)[-1].rsplit(":", 1)
    if tls:
        conn = http.client.HTTPSConnection(host, int(port), timeout=10,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/v1/chat/completions", body=body,
                     headers={"Content-Type": "application/json",
                              "Authorization": "Bearer bench"})  # the key of the -keys targets
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("x-inference-port")
    finally:
        conn.close()


def main():
    name, hostport, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
    failures = 0
    for pair in pairs:
        model, want_port = pair.rsplit("=", 1)
        for size in (2048, 51200):
            status, port = post(hostport, make_body(size, model))
            ok = status == 200 and port == want_port
            failures += not ok
            print(f"routing {name:<10} model={model:<13} body={size:>6}B -> status {status} "
                  f"x-inference-port {port} (want {want_port}) {'ok' if ok else 'FAIL'}")
    status, _ = post(hostport, make_body(2048, "no-such-model"))
    ok = not 200 <= status < 300
    failures += not ok
    print(f"routing {name:<10} model=no-such-model body=  2048B -> status {status} "
          f"{'ok' if ok else 'FAIL'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

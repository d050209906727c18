#!/usr/bin/env python3
"""Instructions per proxied request (callgrind): one worker, one pool of one `infergate-sim --fast`,
the default profile, a 2 KB chat body. (Ir(1200) - Ir(200)) / 1000 sequential keep-alive requests,
so start-up and shutdown cancel out: repeatable to a few instructions, unlike wall-clock figures on
a shared VM. Loopback only; every process it starts is stopped by PID.

usage: bench/proxy_instructions.py [--keys] [--access-log] GATEWAY_BIN SIM_BIN
  --keys: an API key with local request and token limits (never refusing), sent on every request
  --access-log: every request written to an access log file (the writer thread counts too)
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

MODEL = "Qwen/Qwen3-0.6B"
HEADERS = {"content-type": "application/json"}
BODY = json.dumps({"messages": [{"role": "user", "content": "x" * 1900}], "max_tokens": 2, "model": MODEL})


def listening_port(proc):
    for line in proc.stdout:
        if line.startswith("listening "):
            return int(line.split()[1].rsplit(":", 1)[1])
    raise RuntimeError("no 'listening' line")


KEYS = ("auth:\n  keys:\n    - {name: bench, team: bench, key: bench, limits: "
        "{requests_per_minute: 1000000000, tokens_per_minute: 1000000000000}}\n")


def instructions(gw_bin, sim_bin, requests, work, keys, access_log=False):
    """Total instructions callgrind counts in the gateway for `requests` requests."""
    sim = subprocess.Popen([sim_bin, "--fast", "--host", "127.0.0.1", "--port", "0", "--log-level", "warn"],
                           stdout=subprocess.PIPE, text=True)
    gw = None
    try:
        config = os.path.join(work, "gateway.yaml")
        with open(config, "w") as f:
            f.write(f"workers: 1\npools:\n  - name: p\n    endpoints: [127.0.0.1:{listening_port(sim)}]\n"
                    f"models:\n  - name: {MODEL}\n    targets: [{{pool: p}}]\n" + (KEYS if keys else "") +
                    (f"access_log: {{path: {os.path.join(work, 'access.log')}}}\n" if access_log else ""))
        out = os.path.join(work, f"callgrind.{requests}")
        gw = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", gw_bin,
                               "--config", config, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                               "--log-level", "warn"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        conn = http.client.HTTPConnection("127.0.0.1", listening_port(gw), timeout=60)
        for _ in range(requests):
            conn.request("POST", "/v1/chat/completions", body=BODY, headers=HEADERS | ({"authorization": "Bearer bench"} if keys else {}))
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"status {resp.status}")
        conn.close()
        gw.send_signal(signal.SIGTERM)  # drains, then callgrind writes its totals
        gw.wait(120)
        with open(out) as f:
            for line in f:
                m = re.match(r"(?:summary|totals): (\d+)", line)
                if m:
                    return int(m.group(1))
        raise RuntimeError("no totals in " + out)
    finally:
        for p in (gw, sim):
            if p and p.poll() is None:
                p.kill()
                p.wait()


def main():
    args = sys.argv[1:]
    keys = "--keys" in args
    access_log = "--access-log" in args
    args = [a for a in args if a not in ("--keys", "--access-log")]
    gw_bin, sim_bin = args
    with tempfile.TemporaryDirectory(prefix="proxy-instructions.") as work:
        few = instructions(gw_bin, sim_bin, 200, work, keys, access_log)
        many = instructions(gw_bin, sim_bin, 1200, work, keys, access_log)
        if os.environ.get("KEEP_CALLGRIND"):  # for callgrind_annotate: the 1200-request profile
            os.replace(os.path.join(work, "callgrind.1200"), os.environ["KEEP_CALLGRIND"])
    flags = (" --keys" if keys else "") + (" --access-log" if access_log else "")
    print(f"{gw_bin}{flags}: {(many - few) / 1000:.0f} instructions per request "
          f"(Ir {few} for 200 requests, {many} for 1200)")


if __name__ == "__main__":
    main()

"""infergate-sim fault injection: each fault at rate 1 is what a gateway will see from a sick pod.

Run: INFERGATE_SIM_BIN=build/src/sim/infergate-sim python3 tests/integration/sim_faults_test.py
"""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CHAT = {"model": "Qwen/Qwen3-0.6B", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


def raw_post(port, body):
    data = json.dumps(body).encode()
    s = harness.raw_connect(port, timeout=5)
    s.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
    return s


def read_until_close(s, limit=5.0):
    """Everything the server sends until it closes; raises on a reset."""
    out = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk
    raise TimeoutError(out)


class SimFaultsTest(unittest.TestCase):
    def sim(self, *args):
        p = harness.start_sim("--jitter", "0", "--itl-ms", "5", "--prefill-overhead-ms", "1", *args)
        self.addCleanup(p.close)
        return p.port()

    def test_500(self):
        port = self.sim("--fail-500-rate", "1")
        status, _, raw = harness.request(port, "POST", "/v1/chat/completions", CHAT)
        self.assertEqual(status, 500)
        self.assertEqual(json.loads(raw)["error"]["code"], 500)
        self.assertEqual(harness.request(port, "GET", "/health")[0], 200)  # health is not a model call

    def test_429_with_retry_after(self):
        port = self.sim("--fail-429-rate", "1")
        status, headers, _ = harness.request(port, "POST", "/v1/chat/completions", CHAT)
        self.assertEqual(status, 429)
        self.assertEqual(headers["retry-after"], "1")

    def test_reset_before_response(self):
        port = self.sim("--reset-before-rate", "1")
        s = raw_post(port, CHAT)
        try:
            with self.assertRaises(ConnectionResetError):
                read_until_close(s)
        finally:
            s.close()

    def test_hang_sends_nothing_and_counts_nothing(self):
        port = self.sim("--hang-rate", "1")
        s = raw_post(port, CHAT)
        s.settimeout(0.5)
        try:
            with self.assertRaises(socket.timeout):
                s.recv(1)
        finally:
            s.close()
        self.assertEqual(harness.metric(harness.scrape(port), "vllm:request_success_total"), 0)

    def test_reset_midstream(self):
        port = self.sim("--reset-midstream-rate", "1")
        s = raw_post(port, {**CHAT, "stream": True, "max_tokens": 10})
        got = b""
        try:
            with self.assertRaises(ConnectionResetError):
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
                raise AssertionError("closed without a reset: " + got.decode(errors="replace"))
        finally:
            s.close()
        self.assertIn(b"HTTP/1.1 200 OK", got)
        self.assertNotIn(b"[DONE]", got)
        m = harness.scrape(port)
        self.assertEqual(harness.metric(m, "vllm:request_success_total", finished_reason="abort"), 1)
        self.assertEqual(harness.metric(m, "vllm:num_requests_running"), 0)

    def test_rates_are_fractions(self):
        port = self.sim("--fail-500-rate", "0.5", "--seed", "3")
        statuses = [harness.request(port, "POST", "/v1/chat/completions", CHAT)[0] for _ in range(40)]
        self.assertEqual(set(statuses), {200, 500})
        self.assertTrue(8 <= statuses.count(500) <= 32, statuses)


if __name__ == "__main__":
    unittest.main()

"""What the gateway says about each request: the access log's lines after known traffic (a
success, a 404, a 429, a client that leaves mid-stream), the log under a burst larger than its
buffer, x-request-id both ways, and W3C trace context continued or replaced.

Real processes: infergate-sim or a recording upstream, and infergate, on OS-chosen ports.
Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_observe_test.py
"""
import json
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
REPLY = json.dumps({"id": "x", "object": "chat.completion", "model": MODEL, "choices": [],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}).encode()
HEX32 = re.compile(r"^[0-9a-f]{32}$")
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def admin_port(gw):
    return int(gw.admin.rsplit(":", 1)[1])


def read_lines(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


class GatewayObserveTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="infergate-observe-")
        self.addCleanup(self.dir.cleanup)

    def gateway(self, upstream_port, extra="", workers=2):
        gw = harness.start_gateway(f"""
workers: {workers}
pools:
  - name: qwen
    endpoints: [127.0.0.1:{upstream_port}]
models:
  - {{name: {MODEL}, pool: qwen}}
{extra}
""")
        self.addCleanup(gw.close)
        return gw

    def sim(self, *args):
        p = harness.start_sim("--model", MODEL, *args)
        self.addCleanup(p.close)
        return p.port()

    def test_access_log_fields_after_known_traffic(self):
        log = os.path.join(self.dir.name, "access.log")
        gw = self.gateway(self.sim("--itl-ms", "5"), f"""
access_log: {{path: {log}}}
auth:
  keys:
    - {{name: alice, team: research, key: sk-alice, limits: {{requests_per_minute: 3}}}}
""")
        key = {"Authorization": "Bearer sk-alice"}
        ok = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT, headers=key)
        self.assertEqual(ok[0], 200, ok[2])
        missing = harness.request(gw.port(), "POST", "/v1/chat/completions",
                                  {**CHAT, "model": "no-such-model"}, headers=key)
        self.assertEqual(missing[0], 404)
        # A stream the client leaves after its first bytes.
        s = harness.raw_connect(gw.port())
        body = json.dumps({**CHAT, "stream": True, "max_tokens": 2000}).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-alice\r\n"
                  b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
                  b"\r\n\r\n" + body)
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 200"))
        s.close()
        limited = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT, headers=key)
        self.assertEqual(limited[0], 429)

        self.assertTrue(harness.wait_until(lambda: len(read_lines(log)) >= 4, timeout=5.0),
                        read_lines(log))
        lines = {line["request_id"]: line for line in read_lines(log)}
        first = lines[ok[1]["x-request-id"]]
        self.assertEqual(first["status"], 200)
        self.assertEqual((first["method"], first["path"]), ("POST", "/v1/chat/completions"))
        self.assertEqual((first["team"], first["key"]), ("research", "alice"))
        self.assertEqual((first["model"], first["model_forwarded"], first["pool"]), (MODEL, MODEL, "qwen"))
        self.assertRegex(first["endpoint"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(first["client"], "127.0.0.1")
        self.assertEqual(first["retries"], 0)
        self.assertGreater(first["bytes_in"], len(json.dumps(CHAT)))
        self.assertGreater(first["bytes_out"], len(ok[2]))
        self.assertGreater(first["output_tokens"], 0)
        self.assertGreater(first["input_tokens"], 0)
        self.assertFalse(first["client_aborted"])
        self.assertLessEqual(first["ttfb_ms"], first["duration_ms"])
        self.assertRegex(first["trace_id"], HEX32)
        self.assertRegex(first["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

        gone = lines[missing[1]["x-request-id"]]
        self.assertEqual((gone["status"], gone["reason"]), (404, "model_not_found"))
        self.assertEqual(gone["model"], "no-such-model")
        self.assertEqual(gone.get("pool", ""), "")
        refused = lines[limited[1]["x-request-id"]]
        self.assertEqual((refused["status"], refused["reason"]), (429, "rate_limit_requests"))
        aborted = [l for l in lines.values() if l["client_aborted"]]
        self.assertEqual(len(aborted), 1, lines)
        self.assertTrue(aborted[0]["stream"])
        self.assertEqual(aborted[0]["team"], "research")

    def test_a_burst_larger_than_the_buffer_drops_lines_not_requests(self):
        # The log goes to the process's stdout, a pipe the test never reads after start-up: once
        # the pipe is full the writer is stuck, the one-worker ring of 16 fills, the rest drop.
        gw = self.gateway(self.sim("--fast"), "access_log: {path: '-', buffer: 16}", workers=1)
        statuses = [harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)[0]
                    for _ in range(600)]
        self.assertEqual(statuses, [200] * 600)
        samples = harness.scrape(admin_port(gw))
        dropped = harness.metric(samples, "infergate_access_log_dropped_total", reason="buffer_full")
        self.assertGreater(dropped, 0)

    def test_request_id_is_passed_on_or_made(self):
        port, seen = harness.recording_upstream(self, REPLY, extra_headers=[("x-request-id", "server-own")])
        gw = self.gateway(port)
        cases = [("sane", {"x-request-id": "req-abc.123:4"}, "req-abc.123:4"),
                 ("none", {}, None),
                 ("with a space", {"x-request-id": "two words"}, None),
                 ("too long", {"x-request-id": "r" * 300}, None)]
        for name, headers, kept in cases:
            with self.subTest(name):
                status, resp, _ = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT,
                                                  headers=headers)
                self.assertEqual(status, 200)
                upstream = seen[-1][1]["x-request-id"]
                self.assertEqual(resp["x-request-id"], upstream)  # the server's own is not echoed
                if kept:
                    self.assertEqual(upstream, kept)
                else:
                    self.assertRegex(upstream, HEX32)
        # The gateway's own answers carry one too.
        status, resp, _ = harness.request(gw.port(), "POST", "/v1/chat/completions",
                                          {**CHAT, "model": "nope"}, headers={"x-request-id": "mine-1"})
        self.assertEqual((status, resp["x-request-id"]), (404, "mine-1"))
        status, resp, _ = harness.request(gw.port(), "POST", "/v1/chat/completions", b"{not json")
        self.assertEqual(status, 400)
        self.assertRegex(resp["x-request-id"], HEX32)

    def test_trace_context_is_continued_or_replaced(self):
        port, seen = harness.recording_upstream(self, REPLY)
        gw = self.gateway(port)
        trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        status, _, _ = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT, headers={
            "traceparent": f"00-{trace}-{span}-01", "tracestate": "vendor=abc,other=1"})
        self.assertEqual(status, 200)
        sent = seen[-1][1]
        m = TRACEPARENT.match(sent["traceparent"])
        self.assertIsNotNone(m, sent["traceparent"])
        self.assertEqual(m.group(1), trace)   # the same trace
        self.assertNotEqual(m.group(2), span)  # the gateway's span is the server's parent
        self.assertEqual(m.group(3), "01")     # the caller's sampling decision
        self.assertEqual(sent["tracestate"], "vendor=abc,other=1")

        for bad in (f"00-{trace.upper()}-{span}-01", f"ff-{trace}-{span}-01", f"00-{'0' * 32}-{span}-01",
                    f"00-{trace}-{span}-01-extra", "garbage"):
            with self.subTest(bad):
                status, _, _ = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT,
                                               headers={"traceparent": bad, "tracestate": "vendor=abc"})
                self.assertEqual(status, 200)
                sent = seen[-1][1]
                m = TRACEPARENT.match(sent["traceparent"])
                self.assertIsNotNone(m, sent["traceparent"])
                self.assertNotEqual(m.group(1), trace)
                self.assertNotIn("tracestate", sent)
        # No traceparent at all: the gateway starts the trace.
        harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
        self.assertIsNotNone(TRACEPARENT.match(seen[-1][1]["traceparent"]))

    def test_the_log_level_is_read_back_and_changed_at_run_time(self):
        gw = self.gateway(self.sim("--fast"))
        admin = admin_port(gw)
        level = lambda: json.loads(harness.request(admin, "GET", "/debug/log-level")[2])["level"]
        self.assertEqual(level(), "info")
        status, _, body = harness.request(admin, "PUT", "/debug/log-level?level=debug")
        self.assertEqual((status, json.loads(body)["level"]), (200, "debug"))
        self.assertEqual(level(), "debug")
        self.assertEqual(harness.request(admin, "PUT", "/debug/log-level?level=loud")[0], 400)
        self.assertEqual(harness.request(admin, "DELETE", "/debug/log-level")[0], 405)
        self.assertEqual(level(), "debug")
        self.assertEqual(harness.request(admin, "POST", "/debug/log-level?level=warn")[0], 200)
        self.assertEqual(level(), "warning")  # spdlog's name for it


if __name__ == "__main__":
    unittest.main()

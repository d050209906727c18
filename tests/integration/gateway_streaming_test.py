"""infergate streaming: SSE events pass one by one at the server's pace, a client that leaves
aborts the server's request (streaming or not), and a server dying mid-stream ends the stream
with an SSE error event and a clean close.

Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_streaming_test.py
"""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
ABORTS = "vllm:request_success_total"


def config_for(port, extra=""):
    return f"""
workers: 2
pools:
  - name: qwen
    endpoints: [127.0.0.1:{port}]
models:
  - name: {MODEL}
    targets: [{{pool: qwen}}]
{extra}
"""


def send_chat(port, stream, max_tokens):
    s = harness.raw_connect(port)
    resend_chat(s, stream, max_tokens)
    return s


def resend_chat(s, stream, max_tokens):
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "tell me"}],
                       "max_tokens": max_tokens, "stream": stream}).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)


class GatewayStreamingTest(unittest.TestCase):
    def start(self, *sim_args, extra=""):
        sim = harness.start_sim("--jitter", "0", *sim_args)
        self.addCleanup(sim.close)
        gw = harness.start_gateway(config_for(sim.port(), extra))
        self.addCleanup(gw.close)
        return sim, gw

    def aborts(self, sim):
        return harness.metric(harness.scrape(sim.port()), ABORTS, finished_reason="abort")

    def test_sse_events_arrive_at_the_servers_pace(self):
        _, gw = self.start("--itl-ms", "50", "--prefill-overhead-ms", "1")
        s = send_chat(gw.port(), stream=True, max_tokens=8)
        self.addCleanup(s.close)
        s.settimeout(10)
        arrivals = []  # arrival time of each "data:" event
        per_read = []
        raw = b""
        deadline = time.monotonic() + 10
        while b"data: [DONE]" not in raw and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            now = time.monotonic()
            before = raw.count(b"data:")
            raw += chunk
            new = raw.count(b"data:") - before
            arrivals += [now] * new
            per_read.append(new)
        self.assertIn(b"data: [DONE]", raw)
        self.assertIn(b"transfer-encoding: chunked", raw.lower())
        self.assertGreaterEqual(len(arrivals), 9)
        # Tokens come 50 ms apart: at least 7 gaps of over 30 ms between consecutive events, and
        # never a burst of everything at the end.
        gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
        self.assertGreaterEqual(sum(g > 0.030 for g in gaps), 7, gaps)
        self.assertGreater(arrivals[-1] - arrivals[0], 0.3)
        self.assertLessEqual(max(per_read), 2, per_read)

    def test_client_close_mid_stream_aborts_the_server_request(self):
        sim, gw = self.start("--itl-ms", "50", "--prefill-overhead-ms", "1")
        before = self.aborts(sim)
        s = send_chat(gw.port(), stream=True, max_tokens=400)  # 20 s if nobody stops it
        s.settimeout(10)
        raw = b""
        while raw.count(b"data:") < 3:
            chunk = s.recv(65536)
            self.assertTrue(chunk)
            raw += chunk
        closed_at = time.monotonic()
        s.close()
        aborted = harness.wait_until(lambda: self.aborts(sim) > before, timeout=2.0)
        self.assertTrue(aborted, "the simulator never saw the request aborted")
        self.assertLess(time.monotonic() - closed_at, 2.0)
        self.assertTrue(harness.wait_until(
            lambda: harness.metric(harness.scrape(int(gw.admin.rsplit(":", 1)[1])),
                                   "infergate_client_aborts_total") >= 1, timeout=2.0))

    def test_client_close_during_prefill_aborts_the_server_request(self):
        sim, gw = self.start("--itl-ms", "10", "--prefill-overhead-ms", "20000")
        before = self.aborts(sim)
        s = send_chat(gw.port(), stream=False, max_tokens=4)
        running = harness.wait_until(
            lambda: harness.metric(harness.scrape(sim.port()), "vllm:num_requests_running") +
            harness.metric(harness.scrape(sim.port()), "vllm:num_requests_waiting") >= 1, timeout=5.0)
        self.assertTrue(running, "the request never reached the simulator")
        s.close()
        self.assertTrue(harness.wait_until(lambda: self.aborts(sim) > before, timeout=2.0),
                        "the simulator never saw the request aborted")

    def test_server_death_mid_stream_ends_with_an_error_event_and_the_connection_serves_on(self):
        _, gw = self.start("--itl-ms", "5", "--prefill-overhead-ms", "1",
                           "--reset-midstream-rate", "1")
        s = send_chat(gw.port(), stream=True, max_tokens=40)
        self.addCleanup(s.close)
        reader = harness.HttpReader(s, timeout=10)
        status, headers, body = reader.read_response()  # raises if the chunked body is cut
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/event-stream"))
        events = [e for e in body.decode().split("\n\n") if e.strip()]
        self.assertGreaterEqual(len(events), 2)
        last = events[-1]
        self.assertTrue(last.startswith("data: "), last)
        error = json.loads(last[len("data: "):])["error"]
        self.assertEqual(error["code"], "upstream_died")
        for event in events[:-1]:  # everything before the error is intact
            json.loads(event[len("data: "):])
        # The body ended cleanly, so the connection is still good for the next request (a close
        # here would fail whatever the client sends next on it).
        resend_chat(s, stream=False, max_tokens=2)
        status, headers, body = reader.read_response()
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["choices"][0]["finish_reason"], "length")

    def test_non_streaming_answer_passes_with_its_length(self):
        _, gw = self.start("--itl-ms", "1", "--prefill-overhead-ms", "1")
        status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions",
                                               {"model": MODEL, "max_tokens": 3,
                                                "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(status, 200)
        self.assertEqual(int(headers["content-length"]), len(raw))
        self.assertEqual(json.loads(raw)["choices"][0]["finish_reason"], "length")


if __name__ == "__main__":
    unittest.main()

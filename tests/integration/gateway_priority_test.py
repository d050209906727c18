"""infergate under overload (issue 4, "Priorities and overload"): sheddable requests are refused
with 429 while the rest wait in the pool's queue and are served as capacity frees; the queue's
bounds (size, priority displacement, max wait), a waiting client that leaves, a pool with no
endpoint; and the request headers the scheduler reads (x-session-id, debug scores).

Real processes: infergate-sim and infergate on OS-chosen ports. A server is saturated by
requests sent to it directly (one runs, the others wait: --max-num-seqs 1), which only the
gateway's scraper can see; closing those sockets aborts them and frees the server.
Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_priority_test.py
"""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
POLL = 5.0  # seconds: bound of every wait for a scrape or a queue change to show
QUEUE_SIZE = "inference_extension_flow_control_queue_size"
QUEUE_DURATION = "inference_extension_flow_control_request_queue_duration_seconds_count"
DROPPED = "x-gateway-request-dropped-reason"


def chat(model=MODEL, content="hi", max_tokens=1, stream=False):
    return {"model": model, "messages": [{"role": "user", "content": content}],
            "max_tokens": max_tokens, "stream": stream}


def send(port, body, headers=None):
    """Sends one request on a new connection and returns the socket, response unread."""
    s = harness.raw_connect(port)
    resend(s, body, headers)
    return s


def resend(s, body, headers=None):
    data = json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
               f"{extra}Content-Length: {len(data)}\r\n\r\n").encode() + data)


def config(endpoints, queue="{max_size: 8, max_wait: 20s}", extra=""):
    listed = ", ".join(endpoints)
    return f"""
workers: 2
queue: {queue}
objectives:
  - {{name: offline, priority: Sheddable}}
pools:
  - name: pool
    endpoints: [{listed}]
    metrics: {{flavour: vllm, interval: 20ms, timeout: 300ms}}
    saturation: {{queue: 1, kv_cache: 0.99}}
  - name: empty
    endpoints: []
models:
  - {{name: {MODEL}, pool: pool, priority: Critical}}
  - {{name: standard, pool: pool, model: {MODEL}}}
  - {{name: batch, pool: pool, model: {MODEL}, priority: Sheddable}}
  - {{name: scale-from-zero, pool: empty, model: {MODEL}, priority: Critical}}
  - {{name: scale-from-zero-batch, pool: empty, model: {MODEL}, priority: Sheddable}}
{extra}
"""


class PriorityTestCase(unittest.TestCase):
    def start(self, queue="{max_size: 8, max_wait: 20s}", extra=""):
        self.sim = harness.start_sim("--max-num-seqs", "1", "--itl-ms", "20")
        self.addCleanup(self.sim.close)
        self.endpoint = f"127.0.0.1:{self.sim.port()}"
        self.gw = harness.start_gateway(config([self.endpoint], queue, extra))
        self.addCleanup(self.gw.close)
        self.admin = int(self.gw.admin.rsplit(":", 1)[1])

    def scraped(self):
        status, _, raw = harness.request(self.admin, "GET", "/debug/endpoints")
        self.assertEqual(status, 200, raw)
        doc = json.loads(raw)
        return {e["name"]: e for p in doc["pools"] for e in p["endpoints"]}[self.endpoint]["scraped"]

    def saturate(self):
        """One request running and two waiting on the server, sent directly; returns once the
        gateway has scraped them (waiting 2 > the pool's threshold of 1)."""
        held = []
        for _ in range(3):
            s = send(self.sim.port(), chat(max_tokens=2000, stream=True))
            self.addCleanup(s.close)
            held.append(s)
        seen = harness.wait_until(lambda: (self.scraped() or {}).get("waiting", 0) >= 2, timeout=POLL)
        self.assertTrue(seen, "held requests never scraped")
        return held

    def release(self, held):
        for s in held:
            s.close()

    def gateway_metric(self, name, **labels):
        return harness.metric(harness.scrape(self.admin), name, **labels)

    def wait_metric(self, name, value, **labels):
        got = harness.wait_until(lambda: self.gateway_metric(name, **labels) == value, timeout=POLL)
        self.assertTrue(got, f"{name}{labels} never {value}: {self.gateway_metric(name, **labels)}")

    def sim_metric(self, name, **labels):
        return harness.metric(harness.scrape(self.sim.port()), name, **labels)


class SheddingTest(PriorityTestCase):
    def test_sheddable_gets_429_while_critical_waits_then_is_served(self):
        self.start()
        held = self.saturate()
        # A Sheddable model, then a Critical model whose objective makes it Sheddable.
        for body, headers in ((chat(model="batch"), {}),
                              (chat(), {"x-gateway-inference-objective": "offline"})):
            status, headers, raw = harness.request(self.gw.port(), "POST", "/v1/chat/completions",
                                                   body, headers=headers)
            self.assertEqual(status, 429, raw)
            self.assertEqual(headers["retry-after"], "1")
            self.assertEqual(headers["x-gateway-error-reason"], "saturated")
            self.assertEqual(headers[DROPPED], "rejected-saturated")
            self.assertEqual(json.loads(raw)["error"]["code"], "saturated")
        self.assertEqual(self.gateway_metric("infergate_requests_shed_total", model_name="batch"), 1)
        self.assertEqual(self.gateway_metric("infergate_requests_shed_total", model_name=MODEL), 1)

        critical = send(self.gw.port(), chat())
        self.addCleanup(critical.close)
        self.wait_metric(QUEUE_SIZE, 1, inference_pool="pool", priority="1")
        self.assertEqual(self.sim_metric("vllm:num_requests_waiting"), 2)  # not sent on

        self.release(held)  # the server is idle at its next scrape: the queue moves
        status, headers, raw = harness.HttpReader(critical, timeout=POLL).read_response()
        self.assertEqual(status, 200, raw)
        self.assertEqual(headers["x-gateway-destination-endpoint-served"], self.endpoint)
        self.assertEqual(self.gateway_metric(QUEUE_SIZE, inference_pool="pool"), 0)
        self.assertEqual(self.gateway_metric(QUEUE_DURATION, inference_pool="pool", outcome="Dispatched"), 1)

    def test_standard_request_is_queued_not_shed(self):
        self.start()
        held = self.saturate()
        standard = send(self.gw.port(), chat(model="standard"))
        self.addCleanup(standard.close)
        self.wait_metric(QUEUE_SIZE, 1, inference_pool="pool", priority="0")
        self.release(held)
        status, _, raw = harness.HttpReader(standard, timeout=POLL).read_response()
        self.assertEqual(status, 200, raw)


class QueueBoundsTest(PriorityTestCase):
    def test_waiting_client_that_leaves_is_removed_and_never_sent(self):
        self.start()
        held = self.saturate()
        leaving = send(self.gw.port(), chat(content="I will not wait"))
        self.wait_metric(QUEUE_SIZE, 1, inference_pool="pool")
        leaving.close()
        self.wait_metric(QUEUE_SIZE, 0, inference_pool="pool")
        self.assertEqual(
            self.gateway_metric(QUEUE_DURATION, inference_pool="pool", outcome="EvictedContextCancelled"), 1)
        self.release(held)
        # A later request is served; had the one that left still been queued, it would have gone
        # first (same band, earlier) and the server would count one more request.
        status, _, raw = harness.request(self.gw.port(), "POST", "/v1/chat/completions", chat(),
                                         timeout=POLL)
        self.assertEqual(status, 200, raw)
        self.assertEqual(self.gateway_metric("inference_model_request_total", model_name=MODEL), 1)
        finished = harness.wait_until(
            lambda: self.sim_metric("vllm:request_success_total", finished_reason="abort") == 3, timeout=POLL)
        self.assertTrue(finished, "the held requests were not aborted")
        self.assertEqual(self.sim_metric("vllm:request_success_total"), 4)  # 3 held + 1 served

    def test_full_queue_refuses_and_higher_priority_displaces_the_lowest(self):
        self.start(queue="{max_size: 1, max_wait: 20s}")
        held = self.saturate()
        standard = send(self.gw.port(), chat(model="standard"))
        self.addCleanup(standard.close)
        self.wait_metric(QUEUE_SIZE, 1, inference_pool="pool", priority="0")

        # Same priority, no room: 503 at once.
        status, headers, raw = harness.request(self.gw.port(), "POST", "/v1/chat/completions",
                                               chat(model="standard"))
        self.assertEqual(status, 503, raw)
        self.assertEqual(headers["x-gateway-error-reason"], "queue_full")
        self.assertEqual(headers["retry-after"], "1")
        self.assertEqual(headers[DROPPED], "rejected-queue-full")

        # Critical outranks it: the Standard waiter is pushed out with 503, Critical takes its place.
        critical = send(self.gw.port(), chat())
        self.addCleanup(critical.close)
        status, headers, raw = harness.HttpReader(standard, timeout=POLL).read_response()
        self.assertEqual(status, 503, raw)
        self.assertEqual(headers[DROPPED], "evicted-priority")
        self.wait_metric(QUEUE_SIZE, 1, inference_pool="pool", priority="1")
        self.assertEqual(self.gateway_metric(QUEUE_SIZE, inference_pool="pool", priority="0"), 0)

        self.release(held)
        status, _, raw = harness.HttpReader(critical, timeout=POLL).read_response()
        self.assertEqual(status, 200, raw)

    def test_saturated_pool_max_wait_is_503(self):
        self.start(queue="{max_size: 8, max_wait: 300ms}")
        self.saturate()
        status, headers, raw = harness.request(self.gw.port(), "POST", "/v1/chat/completions", chat(),
                                               timeout=POLL)
        self.assertEqual(status, 503, raw)
        self.assertEqual(headers["x-gateway-error-reason"], "queue_full")
        self.assertEqual(headers[DROPPED], "rejected-ttl-expired")
        self.assertEqual(self.gateway_metric(QUEUE_DURATION, inference_pool="pool", outcome="EvictedTTL"), 1)

    def test_drain_answers_waiting_requests_at_once(self):
        self.start()
        self.saturate()
        waiting = send(self.gw.port(), chat())
        self.addCleanup(waiting.close)
        self.wait_metric(QUEUE_SIZE, 1, inference_pool="pool")
        self.gw.signal(signal.SIGTERM)
        status, headers, raw = harness.HttpReader(waiting, timeout=POLL).read_response()
        self.assertEqual(status, 503, raw)
        self.assertEqual(headers["x-gateway-error-reason"], "shutting_down")
        self.assertEqual(headers[DROPPED], "rejected-shutting-down")
        self.assertEqual(headers["connection"], "close")
        self.assertEqual(self.gw.wait(timeout=POLL), 0)  # nothing left in flight: it exits


class ScaleFromZeroTest(PriorityTestCase):
    def test_waiting_request_is_served_once_the_pool_gains_an_endpoint(self):
        self.start()
        waiting = send(self.gw.port(), chat(model="scale-from-zero"))
        self.addCleanup(waiting.close)
        self.wait_metric(QUEUE_SIZE, 1, inference_pool="empty", priority="1")
        # The pool scales up: the file gains the endpoint, SIGHUP re-reads it (a new table).
        path = self.gw.argv[self.gw.argv.index("--config") + 1]
        with open(path, "w") as f:
            f.write(config([self.endpoint]).replace("endpoints: []", f"endpoints: [{self.endpoint}]"))
        self.gw.signal(signal.SIGHUP)
        status, headers, raw = harness.HttpReader(waiting, timeout=POLL).read_response()
        self.assertEqual(status, 200, raw)
        self.assertEqual(headers["x-gateway-destination-endpoint-served"], self.endpoint)
        self.assertEqual(self.gateway_metric(QUEUE_SIZE, inference_pool="empty"), 0)

    def test_pool_without_endpoints_queues_until_max_wait(self):
        self.start(queue="{max_size: 8, max_wait: 300ms}")
        started = time.monotonic()
        status, headers, raw = harness.request(self.gw.port(), "POST", "/v1/chat/completions",
                                               chat(model="scale-from-zero"), timeout=POLL)
        self.assertEqual(status, 503, raw)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)  # it waited its max_wait
        self.assertEqual(headers[DROPPED], "rejected-ttl-expired")
        self.assertEqual(self.gateway_metric(QUEUE_DURATION, inference_pool="empty", outcome="EvictedTTL"), 1)

        status, headers, raw = harness.request(self.gw.port(), "POST", "/v1/chat/completions",
                                               chat(model="scale-from-zero-batch"))
        self.assertEqual(status, 503, raw)
        self.assertEqual(headers["x-gateway-error-reason"], "no_ready_endpoint")
        self.assertEqual(headers["retry-after"], "1")
        self.assertEqual(headers[DROPPED], "rejected-no-endpoints")


class RequestContextTest(unittest.TestCase):
    def test_session_id_keeps_a_session_on_one_server_and_scores_are_shown(self):
        sim = harness.start_sim("--fast", instances=4)
        self.addCleanup(sim.close)
        names = [f"127.0.0.1:{sim.port(i)}" for i in range(4)]
        gw = harness.start_gateway(f"""
workers: 2
debug_headers: true
pools:
  - name: sticky
    endpoints: [{", ".join(names)}]
    scheduler: {{plugins: [{{type: available-filter}}, {{type: session-affinity}}]}}
  - name: scored
    endpoints: [{", ".join(names)}]
models:
  - {{name: {MODEL}, pool: sticky}}
  - {{name: scored, pool: scored, model: {MODEL}}}
""")
        self.addCleanup(gw.close)
        for session in ("alice", "bob", "carol"):
            # One keep-alive connection: the next request is read only once the previous one is
            # no longer in flight, so the bounded load never moves the session.
            s = send(gw.port(), chat(content="q0"), headers={"X-Session-Id": session})
            self.addCleanup(s.close)
            reader = harness.HttpReader(s)
            served = set()
            for i in range(1, 5):
                status, headers, raw = reader.read_response()
                self.assertEqual(status, 200, raw)
                served.add(headers["x-gateway-destination-endpoint-served"])
                if i < 4:
                    resend(s, chat(content=f"q{i}"), headers={"X-Session-Id": session})
            self.assertEqual(len(served), 1, f"session {session} moved: {served}")

        status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions",
                                               chat(model="scored"))
        self.assertEqual(status, 200, raw)
        scores = dict(item.split("=") for item in headers["x-gateway-destination-endpoint-scores"].split(","))
        self.assertIn(headers["x-gateway-destination-endpoint-served"], scores)
        self.assertTrue(set(scores) <= set(names))
        for value in scores.values():
            float(value)


if __name__ == "__main__":
    unittest.main()

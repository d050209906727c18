"""Load seen from the server (issue 14, part 1): several gateway replicas behind one load balancer
each see only their own in-flight requests, so the load the others place is visible only in what
the servers report. Here that load is 40 long streams sent straight to one simulator; the gateway
runs with no `metrics` key at all, as a new user writes it, and must still avoid that server.

Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_replica_load_test.py
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
POLL = 10.0  # seconds: bound of every wait for a scrape to show something
STREAMS = 40


def chat(content, max_tokens, stream=False):
    return {"model": MODEL, "messages": [{"role": "user", "content": content}],
            "max_tokens": max_tokens, "stream": stream}


def hold(port, body):
    """Sends `body` straight to a simulator and leaves the response unread: it runs until the
    socket is closed (which aborts it) or its max_tokens are out."""
    s = harness.raw_connect(port)
    data = json.dumps(body).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    return s


class ReplicaLoadTestCase(unittest.TestCase):
    def start_gateway(self, endpoints, pool_extra=""):
        config = f"""
workers: 2
pools:
  - name: pool
    endpoints: [{", ".join(endpoints)}]
{pool_extra}
models:
  - {{name: {MODEL}, pool: pool}}
"""
        gw = harness.start_gateway(config)
        self.addCleanup(gw.close)
        self.admin_port = int(gw.admin.rsplit(":", 1)[1])
        return gw

    def endpoints(self):
        return harness.debug_endpoints(self.admin_port)

    def wait_endpoint(self, name, predicate, what):
        last = {}

        def check():
            last["e"] = self.endpoints()[name]
            return predicate(last["e"])
        self.assertTrue(harness.wait_until(check, timeout=POLL), f"{what}: {last.get('e')}")
        return last["e"]


class LoadFromOthersTest(ReplicaLoadTestCase):
    def test_short_requests_avoid_the_server_loaded_by_others(self):
        # A batch large enough that all 40 streams run (none waits): the load shows as running.
        sim = harness.start_sim("--max-num-seqs", "64", "--itl-ms", "20", instances=4)
        self.addCleanup(sim.close)
        names = [f"127.0.0.1:{sim.port(i)}" for i in range(4)]
        loaded = names[0]
        gw = self.start_gateway(names)  # no metrics key: scraped by default
        streams = [hold(sim.port(0), chat(f"long story {i}", 1500, stream=True)) for i in range(STREAMS)]
        for s in streams:
            self.addCleanup(s.close)
        e = self.wait_endpoint(loaded, lambda e: e["scraped"] and e["scraped"]["running"] >= STREAMS,
                               "the streams are not seen running")
        self.assertEqual(e["scraped"]["waiting"], 0)
        self.assertEqual(e["in_flight"], 0)  # none of them came through this gateway
        self.assertGreaterEqual(e["load"]["others"], STREAMS)
        self.assertGreaterEqual(e["load"]["queue"], STREAMS)
        for name in names[1:]:
            self.wait_endpoint(name, lambda e: e["scraped"] is not None and e["load"]["fresh"], "never scraped")

        served = []
        for i in range(20):
            status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions",
                                                   chat(f"short question {i}", 4))
            self.assertEqual(status, 200, raw)
            served.append(headers["x-gateway-destination-endpoint-served"])
        avoided = sum(1 for s in served if s != loaded)
        self.assertGreaterEqual(avoided, 19, served)
        self.assertEqual(self.endpoints()[loaded]["dispatched_total"], 20 - avoided)


class NoMetricsTest(ReplicaLoadTestCase):
    def test_a_server_without_metrics_stays_available(self):
        # Scraped by default, but nobody asked for metrics: a server that has none is a server.
        port, seen = harness.recording_upstream(self, b'{"ok": true}')
        name = f"127.0.0.1:{port}"
        gw = self.start_gateway([name])
        e = self.wait_endpoint(name, lambda e: e["health"]["scrape_misses"] >= 3, "no scrape missed")
        self.assertEqual(e["health"]["scrape_failures"], 0)
        self.assertTrue(e["health"]["available"])
        self.assertIsNone(e["scraped"])
        self.assertFalse(e["load"]["fresh"])
        status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", chat("hi", 1))
        self.assertEqual(status, 200, raw)
        self.assertEqual([path for path, _, _ in seen], ["/v1/chat/completions"])

    def test_flavour_none_is_not_scraped(self):
        sim = harness.start_sim("--fast", instances=2)
        self.addCleanup(sim.close)
        scraped, plain = (f"127.0.0.1:{sim.port(i)}" for i in range(2))
        config = f"""
workers: 1
pools:
  - {{name: a, endpoints: [{scraped}]}}
  - {{name: b, endpoints: [{plain}], metrics: {{flavour: none}}}}
models:
  - {{name: {MODEL}, pool: a}}
  - {{name: other, pool: b}}
"""
        gw = harness.start_gateway(config)
        self.addCleanup(gw.close)
        self.admin_port = int(gw.admin.rsplit(":", 1)[1])
        self.wait_endpoint(scraped, lambda e: e["scraped"] is not None, "the default pool never scraped")
        status, _, raw = harness.request(self.admin_port, "GET", "/debug/endpoints")
        pools = {p["name"]: p for p in json.loads(raw)["pools"]}
        self.assertEqual((pools["a"]["metrics"], pools["b"]["metrics"]), ("auto", "none"))
        self.assertIsNone(pools["b"]["endpoints"][0]["scraped"])
        self.assertEqual(pools["b"]["endpoints"][0]["health"]["scrape_misses"], 0)


if __name__ == "__main__":
    unittest.main()

"""infergate routes on the load it scrapes from the servers' /metrics (issue 4).

Real processes: infergate-sim instances and one infergate on OS-chosen ports. Load is put on a
simulator by requests sent to it directly, never through the gateway, so only the scraper can
reveal it. Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_load_test.py
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
POLL = 5.0  # seconds: bound of every wait for a scrape to show something


def chat(model=MODEL, content="hi", system=None, max_tokens=1, stream=False):
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": content})
    return {"model": model, "messages": messages, "max_tokens": max_tokens, "stream": stream}


def hold(port, body):
    """Sends `body` straight to a simulator and leaves the response unread: the request runs (or
    waits) until the socket is closed, which aborts it."""
    s = harness.raw_connect(port)
    data = json.dumps(body).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    return s


class LoadTestCase(unittest.TestCase):
    def start_sim(self, *args, instances=1):
        sim = harness.start_sim(*args, instances=instances)
        self.addCleanup(sim.close)
        return sim

    def start_gateway(self, endpoints, models=None, metrics="{flavour: vllm, interval: 50ms, timeout: 300ms}"):
        listed = ", ".join(endpoints)
        config = f"""
workers: 2
pools:
  - name: pool
    endpoints: [{listed}]
    metrics: {metrics}
models:
  - {{name: {MODEL}, pool: pool}}
""" + "".join(f"  - {{name: {m}, pool: pool}}\n" for m in (models or []))
        gw = harness.start_gateway(config)
        self.addCleanup(gw.close)
        self.admin_port = int(gw.admin.rsplit(":", 1)[1])
        return gw

    def endpoints(self):
        return harness.debug_endpoints(self.admin_port)

    def wait_endpoint(self, name, predicate, what):
        """Polls /debug/endpoints (bounded) until endpoint `name` satisfies `predicate`."""
        last = {}

        def check():
            last["e"] = self.endpoints()[name]
            return predicate(last["e"])
        self.assertTrue(harness.wait_until(check, timeout=POLL), f"{what}: {last.get('e')}")
        return last["e"]

    def hold_many(self, port, bodies):
        sockets = [hold(port, b) for b in bodies]
        for s in sockets:
            self.addCleanup(s.close)
        return sockets

    def served(self, gw, body, headers=None):
        status, h, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", body, headers=headers)
        self.assertEqual(status, 200, raw)
        return h["x-gateway-destination-endpoint-served"]

    def served_paced(self, gw, body):
        """served(), then waits for the scrape that follows it: until then the gateway counts the
        request in its endpoint's queue (dispatched since the scrape) even once it has finished,
        and a burst faster than the scrape interval would legitimately spread by queue length."""
        endpoint = self.served(gw, body)
        self.wait_endpoint(endpoint, lambda e: e["dispatched_since_scrape"] == 0 and e["in_flight"] == 0,
                           "no scrape after the request")
        return endpoint


class ScrapedValuesTest(LoadTestCase):
    def test_scraped_values_appear_in_debug_endpoints(self):
        sim = self.start_sim("--max-num-seqs", "1", "--itl-ms", "20", instances=2)
        a, b = (f"127.0.0.1:{sim.port(i)}" for i in range(2))
        self.start_gateway([a, b])
        for name in (a, b):  # idle servers: everything scraped is zero, fresh
            e = self.wait_endpoint(name, lambda e: e["scraped"] is not None, "never scraped")
            self.assertEqual((e["scraped"]["waiting"], e["scraped"]["running"]), (0, 0))
            self.assertFalse(e["scraped"]["stale"])
            self.assertTrue(e["health"]["available"])
        # One running and two waiting on a, sent directly: the scrape shows them.
        self.hold_many(sim.port(0), [chat(max_tokens=2000, stream=True) for _ in range(3)])
        e = self.wait_endpoint(a, lambda e: e["scraped"]["waiting"] == 2 and e["scraped"]["running"] == 1,
                               "held requests not seen")
        self.assertGreater(e["scraped"]["kv_usage"], 0)
        self.assertLess(e["scraped"]["age_ms"], 1000)
        self.assertEqual(e["in_flight"], 0)  # none of them went through the gateway
        self.assertEqual(self.endpoints()[b]["scraped"]["waiting"], 0)


class LoadAwareRoutingTest(LoadTestCase):
    def test_loaded_server_stops_receiving_requests(self):
        sim = self.start_sim("--max-num-seqs", "1", "--itl-ms", "20", instances=2)
        busy, idle = (f"127.0.0.1:{sim.port(i)}" for i in range(2))
        gw = self.start_gateway([busy, idle])
        self.hold_many(sim.port(0), [chat(max_tokens=2000, stream=True) for _ in range(3)])
        self.wait_endpoint(busy, lambda e: e["scraped"] and e["scraped"]["waiting"] >= 2,
                           "load on the busy server not scraped")
        served = [self.served_paced(gw, chat(content=f"question {i}")) for i in range(8)]
        self.assertEqual(served, [idle] * 8)


class PrefixAffinityTest(LoadTestCase):
    def test_repeated_prefix_follows_its_warm_server(self):
        sim = self.start_sim("--fast", instances=3)
        names = [f"127.0.0.1:{sim.port(i)}" for i in range(3)]
        gw = self.start_gateway(names)
        for name in names:
            self.wait_endpoint(name, lambda e: e["scraped"] is not None, "never scraped")
        system = " ".join(f"rule {i}: answer politely and precisely." for i in range(60))  # ~2.3 KB
        first = self.served_paced(gw, chat(system=system, content="user 0"))
        later = [self.served_paced(gw, chat(system=system, content=f"user {i}")) for i in range(1, 6)]
        self.assertEqual(later, [first] * 5)
        self.assertGreater(self.endpoints()[first]["prefix_index_entries"], 0)


class LoraAffinityTest(LoadTestCase):
    def test_lora_request_goes_to_the_server_running_its_adapter(self):
        sim = self.start_sim("--lora-modules", "sql-lora,chat-lora", "--max-loras", "1",
                             "--itl-ms", "20", instances=2)
        warm, other = (f"127.0.0.1:{sim.port(i)}" for i in range(2))
        gw = self.start_gateway([warm, other], models=["sql-lora", "chat-lora"])
        # vllm:lora_requests_info lists the adapters of running requests: keep one running on
        # each server, sql-lora on `warm`, chat-lora on `other` (whose only slot is then taken).
        self.hold_many(sim.port(0), [chat(model="sql-lora", max_tokens=2000, stream=True)])
        self.hold_many(sim.port(1), [chat(model="chat-lora", max_tokens=2000, stream=True)])
        for name, adapter in ((warm, "sql-lora"), (other, "chat-lora")):
            self.wait_endpoint(name, lambda e, a=adapter: e["scraped"] and a in e["scraped"].get("running_loras", []),
                               f"{adapter} not seen running")
        served = [self.served_paced(gw, chat(model="sql-lora", content=f"q{i}")) for i in range(4)]
        self.assertEqual(served, [warm] * 4)
        served = [self.served_paced(gw, chat(model="chat-lora", content=f"q{i}")) for i in range(4)]
        self.assertEqual(served, [other] * 4)


class ScrapeFailureTest(LoadTestCase):
    def test_dead_endpoint_is_marked_unhealthy_and_skipped(self):
        sim = self.start_sim("--fast")
        live, dead = f"127.0.0.1:{sim.port()}", f"127.0.0.1:{harness.unused_port()}"
        gw = self.start_gateway([live, dead])
        e = self.wait_endpoint(dead, lambda e: not e["health"]["available"], "dead endpoint still available")
        self.assertIsNone(e["scraped"])
        self.assertGreaterEqual(e["health"]["scrape_failures"], 3)
        self.assertTrue(self.endpoints()[live]["health"]["available"])
        served = [self.served(gw, chat(content=f"q{i}")) for i in range(6)]
        self.assertEqual(served, [live] * 6)
        self.assertEqual(self.endpoints()[dead]["health"]["connect_failures"], 0)  # never tried

    def test_endpoint_that_never_answers_times_out(self):
        import socket
        silent = socket.socket()  # the kernel accepts connections; nobody ever reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        self.addCleanup(silent.close)
        name = f"127.0.0.1:{silent.getsockname()[1]}"
        self.start_gateway([name], metrics="{flavour: vllm, interval: 20ms, timeout: 100ms}")
        e = self.wait_endpoint(name, lambda e: not e["health"]["available"], "never timed out")
        self.assertGreaterEqual(e["health"]["scrape_failures"], 3)
        self.assertIsNone(e["scraped"])

    def test_endpoint_that_comes_back_recovers(self):
        port = harness.unused_port()
        name = f"127.0.0.1:{port}"
        self.start_gateway([name], metrics="{flavour: vllm, interval: 20ms, timeout: 300ms}")
        self.wait_endpoint(name, lambda e: not e["health"]["available"], "never marked unhealthy")
        self.start_sim("--fast", "--port", str(port))
        # Backoff after a few failures stays well under the poll bound.
        e = self.wait_endpoint(name, lambda e: e["health"]["available"], "never recovered")
        self.assertIsNotNone(e["scraped"])
        self.assertEqual(e["health"]["scrape_failures"], 0)


class PageServer:
    """A /metrics server on raw sockets, to shape how a page arrives: `pieces` writes per
    response (the page split evenly, each write after a short pause), and `close_idle` to drop
    every connection after its response without saying so (as a server's idle timeout does)."""

    def __init__(self, page, pieces=1, close_idle=False):
        import socket
        import threading
        self.page, self.pieces, self.close_idle = page, pieces, close_idle
        self.connections = self.responses = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.name = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        import time
        head = f"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {len(self.page)}\r\n\r\n"
        data = head.encode() + self.page
        step = -(-len(data) // self.pieces)
        with conn:
            request = b""
            while not self.stopping:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
                if b"\r\n\r\n" not in request:
                    continue
                request = b""
                try:
                    for i in range(0, len(data), step):
                        if i:
                            time.sleep(0.005)  # a separate arrival on the gateway's side
                        conn.sendall(data[i:i + step])
                except OSError:
                    return  # the gateway went away (its test ended) mid-page
                self.responses += 1
                if self.close_idle:
                    return

    def close(self):
        self.stopping = True
        self.listener.close()


class PageDeliveryTest(LoadTestCase):
    # 100 KB: more than the scraper's 32 KiB read room, so a response takes several reads.
    PAGE = b"".join(b'vllm:filler_bucket{le="%d"} 0\n' % i for i in range(3500)) + \
        b"vllm:num_requests_waiting 5\nvllm:num_requests_running 2\n"

    def serve(self, **kwargs):
        server = PageServer(self.PAGE, **kwargs)
        self.addCleanup(server.close)
        # A timeout well above a page's time even on a loaded machine: a failure counted here
        # must be the gateway's handling of the connection, not a slow test server.
        self.start_gateway([server.name], metrics="{flavour: vllm, interval: 20ms, timeout: 3s}")
        return server

    def test_page_larger_than_a_read_arriving_in_pieces(self):
        server = self.serve(pieces=4)
        e = self.wait_endpoint(server.name, lambda e: e["scraped"] is not None and server.responses >= 5,
                               "not scraped five times")
        self.assertEqual((e["scraped"]["waiting"], e["scraped"]["running"]), (5, 2))
        self.assertEqual(e["health"]["scrape_failures"], 0)
        self.assertEqual(server.connections, 1)  # one keep-alive connection throughout

    def test_connection_dropped_while_idle_is_replaced_within_the_scrape(self):
        server = self.serve(close_idle=True)
        failures = set()  # consecutive failures seen by every poll: a scrape failing on the dropped
                          # connection and not retried would show 1 for the next two intervals

        def seen(e):
            failures.add(e["health"]["scrape_failures"])
            return e["scraped"] is not None and server.responses >= 20
        e = self.wait_endpoint(server.name, seen, "not scraped twenty times")
        self.assertEqual(e["scraped"]["waiting"], 5)
        self.assertEqual(failures, {0})
        self.assertGreaterEqual(server.connections, 20)


class PendingPrefillTest(LoadTestCase):
    def test_prompt_counts_until_the_first_body_byte_or_the_client_leaves(self):
        # One batch slot, taken by a request sent straight to the server: the gateway's requests
        # wait in the server's queue with their response head sent and no body byte yet.
        sim = self.start_sim("--max-num-seqs", "1", "--itl-ms", "20")
        name = f"127.0.0.1:{sim.port()}"
        gw = self.start_gateway([name])
        blocker = hold(sim.port(), chat(max_tokens=2000, stream=True))
        self.addCleanup(blocker.close)
        self.wait_endpoint(name, lambda e: e["scraped"] and e["scraped"]["running"] == 1, "blocker not running")

        def send(content):
            s = harness.raw_connect(gw.port())
            self.addCleanup(s.close)
            data = json.dumps(chat(content=content, max_tokens=2000, stream=True)).encode()
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
            return s

        # Canonical prompt "user" 0x1F text 0x1E: 4006 bytes, 1001 tokens at 4 bytes each.
        send("a" * 4000)
        self.wait_endpoint(name, lambda e: e["pending_prefill"] == {"requests": 1, "tokens": 1001},
                           "prompt not pending")
        leaving = send("b" * 2000)  # 2006 bytes: 501 tokens
        self.wait_endpoint(name, lambda e: e["pending_prefill"] == {"requests": 2, "tokens": 1502},
                           "second prompt not pending")
        leaving.close()  # the client leaves before its first token: uncounted
        self.wait_endpoint(name, lambda e: e["pending_prefill"] == {"requests": 1, "tokens": 1001}
                           and e["in_flight"] == 1, "the aborted request still counts")
        blocker.close()  # the slot frees: the first prompt is prefilled and streams (2000 tokens)
        self.wait_endpoint(name, lambda e: e["pending_prefill"] == {"requests": 0, "tokens": 0}
                           and e["in_flight"] == 1, "still pending after the first token")


if __name__ == "__main__":
    unittest.main()

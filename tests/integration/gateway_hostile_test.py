"""Hostile and odd requests: each gets a clear refusal (or is served, where HTTP allows it), never
reaches a model server when refused, and leaves the gateway serving the next client.

Real processes: a recording upstream (or infergate-sim) and infergate, on OS-chosen ports.
Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_hostile_test.py
"""
import json
import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "m"
BODY = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode()
REPLY = json.dumps({"id": "x", "object": "chat.completion", "model": MODEL, "choices": [],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()


def head(*lines, body=BODY, length=True):
    out = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + b"".join(l + b"\r\n" for l in lines)
    if length:
        out += b"Content-Length: %d\r\n" % len(body)
    return out + b"\r\n" + body


def status_of(port, raw):
    """The status line's code of the first response to `raw`, or None if the gateway closed."""
    s = harness.raw_connect(port, timeout=5)
    try:
        s.sendall(raw)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return None
            data += chunk
        return int(data.split(b" ", 2)[1])
    finally:
        s.close()


class GatewayHostileTest(unittest.TestCase):
    def setUp(self):
        self.upstream_port, self.seen = harness.recording_upstream(self, REPLY)
        self.gw = harness.start_gateway(f"""
workers: 1
pools: [{{name: p, endpoints: [127.0.0.1:{self.upstream_port}]}}]
models: [{{name: {MODEL}, pool: p}}]
""")
        self.addCleanup(self.gw.close)

    def test_smuggling_shapes_and_folded_headers_are_refused_before_any_server(self):
        deep = b"[" * 100_000 + b"]" * 100_000
        cases = {
            "obs-fold": head(b"X-Note: a", b"  folded"),
            "obs-fold with a tab": head(b"X-Note: a", b"\tfolded"),
            "content-length and chunked": head(b"Transfer-Encoding: chunked"),
            "two content-lengths": head(b"Content-Length: 5"),
            "transfer-encoding identity": head(b"Transfer-Encoding: identity"),
            "chunked twice": head(b"Transfer-Encoding: chunked, chunked", length=False),
            "bad chunk size": head(b"Transfer-Encoding: chunked", body=b"zz\r\nabc\r\n0\r\n\r\n", length=False),
            "space before the colon": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length : 2\r\n\r\n{}",
            "bare LF line ends": b"POST /v1/chat/completions HTTP/1.1\nHost: x\nContent-Length: 2\n\n{}",
            "deeply nested JSON": head(body=deep),
            "invalid UTF-8 in the model": head(body=b'{"model":"m\xff\xfe"}'),
        }
        for name, raw in cases.items():
            with self.subTest(name):
                self.assertEqual(status_of(self.gw.port(), raw), 400)
        self.assertEqual(self.seen, [])  # none of them reached the server
        self.assertEqual(status_of(self.gw.port(), head()), 200)  # and the next client is served

    def test_http_1_0_and_pipelined_requests_are_answered_in_order(self):
        self.assertEqual(status_of(self.gw.port(), head().replace(b"HTTP/1.1", b"HTTP/1.0", 1)), 200)
        s = harness.raw_connect(self.gw.port())
        self.addCleanup(s.close)
        s.sendall(head() + head(b"X-Second: 1") + head(b"X-Third: 1"))
        reader = harness.HttpReader(s)
        self.assertEqual([reader.read_response()[0] for _ in range(3)], [200, 200, 200])
        self.assertEqual([("x-second" in h, "x-third" in h) for _, h, _ in self.seen[-3:]],
                         [(False, False), (True, False), (False, True)])

    def test_a_folded_response_header_from_the_server_is_a_502(self):
        # A server that folds a header line: not passed on as it came.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self.addCleanup(listener.close)

        def serve():
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Long: a\r\n b\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(REPLY) + REPLY)

        threading.Thread(target=serve, daemon=True).start()
        gw = harness.start_gateway(f"""
workers: 1
max_attempts: 1
pools: [{{name: p, endpoints: [127.0.0.1:{listener.getsockname()[1]}], metrics: {{flavour: none}}}}]
models: [{{name: {MODEL}, pool: p}}]
""")  # not scraped: the one connection this server accepts is the request's
        self.addCleanup(gw.close)
        status, headers, body = harness.request(gw.port(), "POST", "/v1/chat/completions", BODY)
        self.assertEqual(status, 502, body)
        self.assertEqual(json.loads(body)["error"]["code"], "upstream_failed")

    def test_connection_limits_answer_503_at_once_and_free_up(self):
        gw = harness.start_gateway(f"""
workers: 2
max_connections: 4
max_connections_per_client: 3
pools: [{{name: p, endpoints: [127.0.0.1:{self.upstream_port}]}}]
models: [{{name: {MODEL}, pool: p}}]
""")
        self.addCleanup(gw.close)
        admin = int(gw.admin.rsplit(":", 1)[1])
        held = []
        for _ in range(3):  # idle keep-alive connections, each admitted
            s = harness.raw_connect(gw.port())
            self.addCleanup(s.close)
            held.append(s)
        self.assertTrue(harness.wait_until(lambda: harness.metric(
            harness.scrape(admin), "infergate_connections_open") >= 3))
        # The fourth from the same address: over the per-client limit, a 503 and a close.
        s = harness.raw_connect(gw.port())
        reader = harness.HttpReader(s)
        status, headers, body = reader.read_response()
        s.close()
        self.assertEqual((status, headers["x-gateway-error-reason"]), (503, "too_many_connections"))
        self.assertEqual(json.loads(body)["error"]["code"], "overloaded")
        self.assertEqual(harness.metric(harness.scrape(admin), "infergate_connections_refused_total",
                                        reason="max_connections_per_client"), 1)
        # One closed: room again, and a request is served.
        held.pop().close()
        self.assertTrue(harness.wait_until(lambda: harness.metric(
            harness.scrape(admin), "infergate_connections_open") == 2))
        self.assertEqual(status_of(gw.port(), head()), 200)

    def test_the_process_wide_connection_limit(self):
        gw = harness.start_gateway(f"""
workers: 2
max_connections: 2
pools: [{{name: p, endpoints: [127.0.0.1:{self.upstream_port}]}}]
models: [{{name: {MODEL}, pool: p}}]
""")
        self.addCleanup(gw.close)
        admin = int(gw.admin.rsplit(":", 1)[1])
        held = [harness.raw_connect(gw.port()) for _ in range(2)]
        for s in held:
            self.addCleanup(s.close)
        self.assertTrue(harness.wait_until(lambda: harness.metric(
            harness.scrape(admin), "infergate_connections_open") == 2))
        self.assertEqual(status_of(gw.port(), head()), 503)
        self.assertEqual(harness.metric(harness.scrape(admin), "infergate_connections_refused_total",
                                        reason="max_connections"), 1)
        held[0].sendall(head())  # the held ones are served as usual
        self.assertEqual(harness.HttpReader(held[0]).read_response()[0], 200)

    def slow_gateway(self):
        gw = harness.start_gateway(f"""
workers: 1
timeouts: {{client_header: 600ms, client_body: 600ms}}
pools: [{{name: p, endpoints: [127.0.0.1:{self.upstream_port}]}}]
models: [{{name: {MODEL}, pool: p}}]
""")
        self.addCleanup(gw.close)
        return gw

    def drip_until_answered(self, sock, data, every=0.05):
        """Sends `data` on `sock` a byte at a time; returns (status, seconds) once the gateway
        answers (bounded: the data runs out, or the gateway closes)."""
        import time
        sock.setblocking(False)
        started, got = time.monotonic(), b""
        for i in range(len(data)):
            try:
                sock.send(data[i:i + 1])
            except OSError:
                break  # closed after its answer
            time.sleep(every)
            try:
                got += sock.recv(4096)
            except BlockingIOError:
                continue
            if b"\r\n" in got:
                break
        sock.settimeout(5)
        while b"\r\n" not in got:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
        return int(got.split(b" ", 2)[1]), time.monotonic() - started

    def test_a_head_dripped_slowly_is_cut_at_the_header_timeout_not_reset_per_byte(self):
        gw = self.slow_gateway()
        s = harness.raw_connect(gw.port(), timeout=5)
        self.addCleanup(s.close)
        # A byte every 50 ms: each comes well within the 600 ms timeout, the whole head does not.
        status, seconds = self.drip_until_answered(s, head(b"X-Pad: " + b"a" * 200))
        self.assertEqual(status, 408)
        self.assertLess(seconds, 3)
        self.assertEqual(self.seen, [])
        self.assertEqual(status_of(gw.port(), head()), 200)  # the next client is served

    def test_a_body_dripped_slowly_is_cut_at_the_body_timeout(self):
        gw = self.slow_gateway()
        request = head(body=b" " * 200 + BODY)
        split = request.index(b"\r\n\r\n") + 4
        s = harness.raw_connect(gw.port(), timeout=5)
        self.addCleanup(s.close)
        s.sendall(request[:split])  # the head at once, then the body a byte at a time
        status, seconds = self.drip_until_answered(s, request[split:])
        self.assertEqual(status, 408)
        self.assertLess(seconds, 3)
        self.assertEqual(self.seen, [])

    def test_a_header_flood_is_431_and_never_reaches_the_server(self):
        flood = [b"X-F%d: v" % i for i in range(8000)]  # ~90 KB of headers, above the 64 KiB limit
        self.assertEqual(status_of(self.gw.port(), head(*flood)), 431)
        self.assertEqual(self.seen, [])
        self.assertEqual(status_of(self.gw.port(), head()), 200)


if __name__ == "__main__":
    unittest.main()

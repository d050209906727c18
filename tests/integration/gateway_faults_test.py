"""infergate in front of servers that misbehave in ways the simulator does not: garbage instead of
HTTP, a response head dripped byte by byte, a body dripped slower or faster than the stream idle
timeout, a server that stops mid-body. Each request gets exactly one clear outcome, the gateway
stays healthy, and its descriptors and in-flight counts return to where they were.

Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_faults_test.py
"""
import http.client
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
BODY = json.dumps({"object": "chat.completion", "choices": [], "usage": None}).encode()


class FaultyServer:
    """Accepts connections on loopback; for each request (head and body read), runs `behave(conn)`
    on its own thread. Bounded: every behaviour ends within a few seconds, and close() stops all."""

    def __init__(self, test, behave):
        self.behave = behave
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()
        test.addCleanup(self.close)

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(5)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(rest) < length:
                rest += conn.recv(65536)
            self.behave(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def drip(conn, stop, data, every):
    """Sends `data` one byte at a time, `every` seconds apart; False once the peer left."""
    for i in range(len(data)):
        if stop.wait(every):
            return False
        try:
            conn.sendall(data[i:i + 1])
        except OSError:
            return False
    return True


def head(length):
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(length).encode() + b"\r\n\r\n")


class GatewayFaultsTest(unittest.TestCase):
    def gateway(self, port, timeouts):
        gw = harness.start_gateway(f"""
workers: 1
timeouts: {timeouts}
pools:
  - name: p
    endpoints: [127.0.0.1:{port}]
models:
  - {{name: {MODEL}, pool: p}}
""")
        self.addCleanup(gw.close)
        return gw

    def open_fds(self, gw):
        return len(os.listdir(f"/proc/{gw.proc.pid}/fd"))

    def in_flight(self, gw):
        endpoints = harness.debug_endpoints(int(gw.admin.rsplit(":", 1)[1]))
        return sum(e["in_flight"] for e in endpoints.values())

    def assert_back_to_baseline(self, gw, fds):
        """No descriptor and no in-flight request left behind by the fault."""
        self.assertTrue(harness.wait_until(lambda: self.open_fds(gw) <= fds, timeout=5),
                        f"{self.open_fds(gw)} open descriptors, {fds} before")
        self.assertEqual(self.in_flight(gw), 0)
        self.assertIsNone(gw.proc.poll(), "the gateway died")

    def test_garbage_instead_of_http_is_a_502(self):
        server = FaultyServer(self, lambda conn, stop: conn.sendall(b"\x00\x17 SSH-2.0 not http\r\n\r\n"))
        gw = self.gateway(server.port, "{first_byte: 2s}")
        fds = self.open_fds(gw)
        for _ in range(3):
            status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
            self.assertEqual(status, 502, raw)
            self.assertEqual(headers["x-gateway-error-reason"], "upstream_failed")
            self.assertEqual(json.loads(raw)["error"]["type"], "server_error")
        self.assert_back_to_baseline(gw, fds)

    def test_a_head_dripped_byte_by_byte_runs_into_the_first_byte_timeout(self):
        # A byte every 50 ms keeps the connection busy forever; first_byte bounds the whole head.
        server = FaultyServer(self, lambda conn, stop: drip(conn, stop, head(len(BODY)) + BODY, 0.05))
        gw = self.gateway(server.port, "{first_byte: 400ms}")
        fds = self.open_fds(gw)
        started = time.monotonic()
        status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
        self.assertEqual(status, 504, raw)
        self.assertEqual(headers["x-gateway-error-reason"], "upstream_timeout")
        self.assertLess(time.monotonic() - started, 3)
        self.assert_back_to_baseline(gw, fds)

    def test_a_body_dripped_within_the_idle_timeout_arrives_whole(self):
        def behave(conn, stop):
            conn.sendall(head(len(BODY)))
            drip(conn, stop, BODY, 0.005)
        server = FaultyServer(self, behave)
        gw = self.gateway(server.port, "{stream_idle: 500ms}")
        status, _, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
        self.assertEqual(status, 200, raw)
        self.assertEqual(raw, BODY)

    def test_a_server_that_stops_mid_body_ends_the_response_short_and_the_gateway_serves_on(self):
        def behave(conn, stop):
            conn.sendall(head(len(BODY)) + BODY[:10])
            stop.wait(5)  # then nothing: the stream idle timeout must end it
        server = FaultyServer(self, behave)
        gw = self.gateway(server.port, "{stream_idle: 300ms}")
        fds = self.open_fds(gw)
        conn = http.client.HTTPConnection("127.0.0.1", gw.port(), timeout=5)
        self.addCleanup(conn.close)
        started = time.monotonic()
        conn.request("POST", "/v1/chat/completions", body=json.dumps(CHAT),
                     headers={"content-type": "application/json"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)  # the head was already on its way
        with self.assertRaises(http.client.IncompleteRead):
            resp.read()  # the connection closes before the declared length: the client knows
        self.assertLess(time.monotonic() - started, 3)
        conn.close()
        self.assert_back_to_baseline(gw, fds)
        # Still serving: the next request gets its own (short) answer, not a hang.
        status, _, _ = harness.request(gw.port(), "GET", "/v1/models")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()

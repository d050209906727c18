"""infergate with `tls:`: HTTPS requests (plain and streaming) reach the simulator, a plain-HTTP
client on the TLS port is refused without harm, and a TLS client that leaves mid-stream aborts the
server's request.

Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_tls_test.py
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
ABORTS = "vllm:request_success_total"


def make_cert(directory):
    cert, key = os.path.join(directory, "server.crt"), os.path.join(directory, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def unverified_context():
    """A client context that accepts any certificate: these tests compare the served bytes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def kept_models(conn):
    conn.request("GET", "/v1/models")
    return conn.getresponse().read()


class GatewayTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.cert, cls.key = make_cert(cls.dir)
        cls.ctx = ssl.create_default_context(cafile=cls.cert)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def start(self, *sim_args, cert=None, key=None):
        sim = harness.start_sim("--jitter", "0", *sim_args)
        self.addCleanup(sim.close)
        gw = harness.start_gateway(f"""
workers: 2
tls:
  cert: {cert or self.cert}
  key: {key or self.key}
pools:
  - name: qwen
    endpoints: [127.0.0.1:{sim.port()}]
models:
  - name: {MODEL}
    targets: [{{pool: qwen}}]
""")
        self.addCleanup(gw.close)
        return sim, gw

    def chat(self, port, stream, max_tokens):
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=self.ctx, timeout=10)
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                           "max_tokens": max_tokens, "stream": stream})
        conn.request("POST", "/v1/chat/completions", body=body,
                     headers={"Content-Type": "application/json"})
        return conn, conn.getresponse()

    def aborts(self, sim):
        return harness.metric(harness.scrape(sim.port()), ABORTS, finished_reason="abort")

    def test_https_requests_reach_the_simulator(self):
        _, gw = self.start("--itl-ms", "1", "--prefill-overhead-ms", "1")
        conn, resp = self.chat(gw.port(), stream=False, max_tokens=4)
        self.addCleanup(conn.close)
        self.assertEqual(resp.status, 200)
        self.assertEqual(json.loads(resp.read())["object"], "chat.completion")
        # The same connection (keep-alive) then streams.
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                           "max_tokens": 4, "stream": True})
        conn.request("POST", "/v1/chat/completions", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertIn(b"data: [DONE]", resp.read())

    def test_plain_http_on_the_tls_port_is_refused(self):
        _, gw = self.start()
        s = harness.raw_connect(gw.port())
        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n")
        try:
            data = s.recv(65536)
        except ConnectionResetError:
            data = b""
        s.close()
        self.assertNotIn(b"HTTP/1.1 200", data)
        # The gateway is still serving.
        conn = http.client.HTTPSConnection("127.0.0.1", gw.port(), context=self.ctx, timeout=10)
        self.addCleanup(conn.close)
        conn.request("GET", "/v1/models")
        self.assertEqual(conn.getresponse().status, 200)

    def test_the_gateway_ends_a_closed_connection_with_close_notify(self):
        # A client reading to the end of the stream (Connection: close) must see a clean TLS end,
        # not a truncation (OpenSSL 3: "unexpected eof while reading").
        _, gw = self.start()
        raw = socket.create_connection(("127.0.0.1", gw.port()), timeout=10)
        tls = self.ctx.wrap_socket(raw, server_hostname="127.0.0.1", suppress_ragged_eofs=False)
        self.addCleanup(tls.close)
        tls.sendall(b"GET /v1/models HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = tls.recv(65536)  # raises ssl.SSLEOFError at a TCP end without close_notify
            if not chunk:
                break
            data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertIn(MODEL.encode(), data)

    def served_cert(self, port):
        """The certificate a new connection gets (DER), or None when the handshake fails."""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with unverified_context().wrap_socket(raw) as tls:
                return tls.getpeercert(binary_form=True)

    def test_sighup_reloads_a_rotated_certificate(self):
        live = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, live, True)
        cert, key = make_cert(live)
        _, gw = self.start(cert=cert, key=key)
        first = self.served_cert(gw.port())
        kept = http.client.HTTPSConnection("127.0.0.1", gw.port(), context=unverified_context(), timeout=10)
        self.addCleanup(kept.close)
        self.assertIn(b'"object"', kept_models(kept))
        rotated = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, rotated, True)
        new_cert, new_key = make_cert(rotated)
        os.replace(new_key, key)
        os.replace(new_cert, cert)
        gw.signal(signal.SIGHUP)
        second = harness.wait_until(lambda: (cert := self.served_cert(gw.port())) != first and cert, 10)
        self.assertNotEqual(second, first)
        with open(cert) as f:
            self.assertEqual(second, ssl.PEM_cert_to_DER_cert(f.read()))
        self.assertIn(b'"object"', kept_models(kept))  # a connection from before the reload goes on
        # A pair that does not load leaves the current certificate in place. The same SIGHUP adds a
        # model: once it is listed, the reload has been handled (the control thread does both).
        with open(cert, "w") as f:
            f.write("not a certificate")
        config = gw.argv[gw.argv.index("--config") + 1]
        with open(config) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write(text.replace("models:\n", "models:\n  - name: added\n    targets: [{pool: qwen}]\n"))
        gw.signal(signal.SIGHUP)
        self.assertTrue(harness.wait_until(lambda: b'"added"' in kept_models(kept), 10))
        self.assertEqual(self.served_cert(gw.port()), second)
        kept.close()
        gw.signal(signal.SIGTERM)
        gw.wait(10)
        self.assertIn("tls: reload failed", gw.stderr_text())

    def test_client_close_mid_stream_aborts_the_server_request(self):
        sim, gw = self.start("--itl-ms", "50", "--prefill-overhead-ms", "1")
        before = self.aborts(sim)
        conn, resp = self.chat(gw.port(), stream=True, max_tokens=400)  # 20 s if nobody stops it
        self.assertEqual(resp.status, 200)
        raw = b""
        while raw.count(b"data:") < 3:
            chunk = resp.read1(65536)
            self.assertTrue(chunk)
            raw += chunk
        closed_at = time.monotonic()
        conn.sock.close()
        conn.close()
        aborted = harness.wait_until(lambda: self.aborts(sim) > before, timeout=2.0)
        self.assertTrue(aborted, "the simulator never saw the request aborted")
        self.assertLess(time.monotonic() - closed_at, 2.0)


if __name__ == "__main__":
    unittest.main()

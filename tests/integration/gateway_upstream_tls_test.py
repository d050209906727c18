"""infergate speaking TLS to a pool's servers: infergate-sim behind Debian's stunnel4, with
certificates the test makes with the `openssl` command. Requests through TLS (plain and
streaming, the pooled TLS connection reused), a server signed by another CA or named otherwise
fails the connect (counted, logged) and the next endpoint answers, a server that requires a client
certificate gets one, and a CA that cannot be read is an error at start with the pool refusing.

Skips when stunnel4 is not installed (scripts/install-deps.sh --test installs it).

Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_upstream_tls_test.py
"""
import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
STUNNEL = shutil.which("stunnel4") or shutil.which("stunnel")
TLS_ERRORS = "infergate_upstream_tls_errors_total"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


class Pki:
    """Two CAs (the pool trusts `ca`, not `rogue`), server certificates for 127.0.0.1 and
    sim.test signed by each, and a client certificate signed by `client_ca`."""

    def __init__(self, directory):
        self.dir = directory
        for ca in ("ca", "rogue", "client_ca"):
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", f"/CN={ca}", "-keyout", self.path(ca + ".key"),
                    "-out", self.path(ca + ".crt"))
        self.sign("server", "ca", "sim.test", "subjectAltName=DNS:sim.test,IP:127.0.0.1")
        self.sign("rogue_server", "rogue", "sim.test", "subjectAltName=DNS:sim.test,IP:127.0.0.1")
        self.sign("client", "client_ca", "gateway", "extendedKeyUsage=clientAuth")

    def path(self, name):
        return os.path.join(self.dir, name)

    def sign(self, name, ca, cn, extensions):
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write(extensions + "\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-subj", f"/CN={cn}", "-keyout", self.path(name + ".key"), "-out", self.path(name + ".csr"))
        openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA", self.path(ca + ".crt"),
                "-CAkey", self.path(ca + ".key"), "-CAcreateserial", "-days", "1",
                "-extfile", ext, "-out", self.path(name + ".crt"))


class Stunnel:
    """stunnel4 terminating TLS in front of one simulator port. Ready once it logs its
    configuration done (its listener is bound by then); its log is kept for the assertions."""

    def __init__(self, directory, backend_port, cert, key, client_ca=None):
        self.lines = []
        for _ in range(3):  # the free port may be taken between the probe and stunnel's bind
            self.port = harness.unused_port()
            conf = os.path.join(directory, f"stunnel-{self.port}.conf")
            with open(conf, "w") as f:
                f.write(f"foreground = yes\npid =\ndebug = 5\nsyslog = no\n"
                        f"[sim]\naccept = 127.0.0.1:{self.port}\nconnect = 127.0.0.1:{backend_port}\n"
                        f"cert = {cert}\nkey = {key}\nsslVersionMin = TLSv1.2\n")
                if client_ca:
                    f.write(f"CAfile = {client_ca}\nverifyChain = yes\nrequireCert = yes\n")
            self.proc = subprocess.Popen([STUNNEL, conf], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
            if self._wait_ready():
                self._reader = threading.Thread(target=self._drain, daemon=True)
                self._reader.start()
                return
            self.close()
        raise RuntimeError("stunnel did not start: " + "\n".join(self.lines[-20:]))

    def _wait_ready(self):
        deadline = time.monotonic() + harness.START_TIMEOUT
        buf = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stderr], [], [], deadline - time.monotonic())
            if not r:
                continue
            chunk = os.read(self.proc.stderr.fileno(), 4096)
            if not chunk:
                return False
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.lines.append(line.decode(errors="replace"))
                if "Configuration successful" in self.lines[-1]:
                    return True
                if "Error binding" in self.lines[-1]:
                    return False
        return False

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line.decode(errors="replace").rstrip())

    def accepted(self):
        return sum("accepted connection" in line for line in self.lines)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        reader = getattr(self, "_reader", None)
        if reader:
            reader.join(timeout=5)  # ends at the pipe's EOF
        self.proc.stderr.close()


@unittest.skipUnless(STUNNEL, "stunnel4 is not installed (scripts/install-deps.sh --test)")
class GatewayUpstreamTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.pki = Pki(cls.dir)
        cls.sim = harness.start_sim("--jitter", "0", "--itl-ms", "1", "--prefill-overhead-ms", "1",
                                    instances=2)

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def stunnel(self, server="server", client_ca=None, instance=0):
        s = Stunnel(self.dir, self.sim.port(instance), self.pki.path(server + ".crt"),
                    self.pki.path(server + ".key"), client_ca)
        self.addCleanup(s.close)
        return s

    def gateway(self, endpoints, tls, extra=""):
        """One worker (so the pooled connection is the one reused), one pool `p`."""
        listed = ", ".join(f"127.0.0.1:{port}" for port in endpoints)
        tls_block = "".join(f"      {key}: {value}\n" for key, value in tls.items())
        gw = harness.start_gateway(f"""
workers: 1
debug_headers: true
pools:
  - name: p
    endpoints: [{listed}]
    tls:
{tls_block}{extra}
models:
  - name: {MODEL}
    targets: [{{pool: p}}]
""")
        self.addCleanup(gw.close)
        return gw

    def chat(self, conn, stream=False):
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                           "max_tokens": 4, "stream": stream})
        conn.request("POST", "/v1/chat/completions", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()

    def tls_errors(self, gw, reason):
        return harness.metric(harness.scrape(int(gw.admin.rsplit(":", 1)[1])), TLS_ERRORS,
                              pool="p", reason=reason)

    def stderr_after_stop(self, gw):
        gw.signal(signal.SIGTERM)
        gw.wait(10)
        return gw.stderr_text()

    def test_requests_through_tls_reuse_the_pooled_connection(self):
        front = self.stunnel()
        gw = self.gateway([front.port], {"ca_file": self.pki.path("ca.crt")})
        conn = http.client.HTTPConnection("127.0.0.1", gw.port(), timeout=10)
        self.addCleanup(conn.close)
        status, headers, body = self.chat(conn)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["object"], "chat.completion")
        self.assertEqual(headers["x-gateway-destination-endpoint-served"], f"127.0.0.1:{front.port}")
        status, _, body = self.chat(conn, stream=True)
        self.assertEqual(status, 200, body)
        self.assertIn(b"data: [DONE]", body)
        self.assertEqual(body.count(b"chat.completion.chunk") >= 4, True, body)
        for _ in range(3):
            status, _, _ = self.chat(conn)
            self.assertEqual(status, 200)
        # Five requests, one after another: one TLS connection, taken from the pool each time.
        self.assertEqual(front.accepted(), 1, front.lines)
        self.assertEqual(self.tls_errors(gw, "verify") + self.tls_errors(gw, "handshake"), 0)

    def test_server_name_is_sent_and_verified(self):
        front = self.stunnel()
        gw = self.gateway([front.port], {"ca_file": self.pki.path("ca.crt"), "server_name": "sim.test"})
        status, _, body = harness.request(gw.port(), "POST", "/v1/chat/completions",
                                          {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                           "max_tokens": 2})
        self.assertEqual(status, 200, body)

    def test_a_wrong_server_name_fails_the_connect(self):
        front = self.stunnel()
        gw = self.gateway([front.port], {"ca_file": self.pki.path("ca.crt"), "server_name": "other.test"})
        status, headers, body = harness.request(gw.port(), "POST", "/v1/chat/completions",
                                                {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                                 "max_tokens": 2})
        self.assertEqual(status, 503, body)  # the pool's only endpoint refused: no_ready_endpoint
        self.assertGreaterEqual(self.tls_errors(gw, "verify"), 1)
        log = self.stderr_after_stop(gw)
        self.assertIn("reason=verify", log)
        self.assertIn("hostname mismatch", log)

    def test_a_server_signed_by_another_ca_fails_and_the_next_endpoint_answers(self):
        rogue = self.stunnel("rogue_server", instance=0)
        good = self.stunnel("server", instance=1)
        gw = self.gateway([rogue.port, good.port], {"ca_file": self.pki.path("ca.crt")})
        attempts = set()
        # The scheduler picks either first; once the rogue one fails it is ejected. Bounded: the
        # chance that 20 requests never try it first is 2^-20.
        for _ in range(20):
            status, headers, body = harness.request(
                gw.port(), "POST", "/v1/chat/completions",
                {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
            self.assertEqual(status, 200, body)
            self.assertEqual(headers["x-gateway-destination-endpoint-served"], f"127.0.0.1:{good.port}")
            attempts.add(headers["x-gateway-attempts"])
            if self.tls_errors(gw, "verify") >= 1:
                break
        self.assertGreaterEqual(self.tls_errors(gw, "verify"), 1)
        self.assertIn("2", attempts)  # the failed TLS connect was retried on the next endpoint
        log = self.stderr_after_stop(gw)
        if os.environ.get("SHOW_LOG"):
            print(log)
        self.assertIn(f"endpoint=127.0.0.1:{rogue.port} reason=verify", log)
        self.assertIn("certificate verify failed", log)

    def test_verify_false_accepts_any_certificate(self):
        rogue = self.stunnel("rogue_server")
        gw = self.gateway([rogue.port], {"verify": "false"})
        status, _, body = harness.request(gw.port(), "POST", "/v1/chat/completions",
                                          {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                           "max_tokens": 2})
        self.assertEqual(status, 200, body)

    def test_a_server_that_requires_a_client_certificate_gets_it(self):
        front = self.stunnel(client_ca=self.pki.path("client_ca.crt"))
        gw = self.gateway([front.port], {"ca_file": self.pki.path("ca.crt"),
                                         "cert_file": self.pki.path("client.crt"),
                                         "key_file": self.pki.path("client.key")})
        conn = http.client.HTTPConnection("127.0.0.1", gw.port(), timeout=10)
        self.addCleanup(conn.close)
        for stream in (False, True):
            status, _, body = self.chat(conn, stream)
            self.assertEqual(status, 200, body)
        # Without one the server refuses it. TLS 1.3 tells the client after its handshake, so
        # the request fails either in the handshake (503, counted as a handshake failure) or on
        # the first write or read (502, an upstream failure), depending on when the alert and
        # the server's reset arrive; the alert's reason is logged either way.
        bare = self.gateway([front.port], {"ca_file": self.pki.path("ca.crt")})
        status, _, body = harness.request(bare.port(), "POST", "/v1/chat/completions",
                                          {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                           "max_tokens": 2})
        self.assertIn(status, (502, 503), body)
        if status == 503:
            self.assertGreaterEqual(self.tls_errors(bare, "handshake"), 1)
        self.assertIn("certificate required", self.stderr_after_stop(bare))

    def test_a_ca_that_cannot_be_read_is_refused_at_load_with_its_line(self):
        import subprocess
        missing = os.path.join(self.dir, "no-such-ca.pem")
        path = harness.write_config(f"""pools:
  - name: p
    endpoints: [127.0.0.1:1]
    tls:
      ca_file: {missing}
models:
  - {{name: {MODEL}, pool: p}}
""")
        self.addCleanup(os.unlink, path)
        proc = subprocess.run([harness.GATEWAY_BIN, "--check-config", path], capture_output=True,
                              text=True, timeout=10)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        out = proc.stdout + proc.stderr
        self.assertIn(f"{path}:5:", out)
        self.assertIn("pools[0].tls.ca_file", out)


if __name__ == "__main__":
    unittest.main()

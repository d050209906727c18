"""Per-key limits shared by three gateway replicas through a real Redis, and what happens when Redis
goes away and comes back.

Real processes: one redis-server (started here on a free port, stopped by PID), one
infergate-sim (fast mode), three infergate replicas with the same keys and `limits.store`.
Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_limits_test.py
"""
import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
SHARED_RPM = 600
REDIS_BIN = shutil.which("redis-server") or "/usr/bin/redis-server"


class Redis:
    """redis-server on 127.0.0.1:port, no persistence; ready once it answers PING."""

    def __init__(self, port):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="infergate-redis-")
        self.proc = subprocess.Popen(
            [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)  # no ready line to wait for: PING is the readiness check

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)


def config(sim_port, redis_port, fail_open=True):
    return f"""
workers: 1
pools:
  - name: qwen
    endpoints: [127.0.0.1:{sim_port}]
models:
  - name: {MODEL}
    pool: qwen
auth:
  keys:
    - {{name: shared, team: a, key: sk-shared-key-1, limits: {{requests_per_minute: {SHARED_RPM}}}}}
    - {{name: roomy, team: b, key: sk-roomy-key-1, limits: {{requests_per_minute: 1000000}}}}
    - {{name: after, team: c, key: sk-after-key-1, limits: {{requests_per_minute: 60}}}}
limits:
  store: redis://127.0.0.1:{redis_port}
  on_store_error: {"allow" if fail_open else "deny"}
  redis_timeout: 100ms
"""


class Client:
    """One keep-alive connection per thread and gateway port."""

    def __init__(self):
        self.conns = {}

    def close(self):
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()

    def post(self, port, key, timeout=10.0):
        conn = self.conns.get(port)
        if conn is None:
            conn = self.conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                           "max_tokens": 1})
        try:
            conn.request("POST", "/v1/chat/completions", body=body,
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
            resp = conn.getresponse()
            resp.read()
            if resp.getheader("connection", "").lower() == "close":
                conn.close()
                del self.conns[port]
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}
        except (OSError, http.client.HTTPException):
            conn.close()
            del self.conns[port]
            raise


def hammer(ports, key, count, threads=12):
    """`count` requests spread over `ports`; returns the list of statuses (one per request)."""
    import threading
    local = threading.local()

    clients = []

    def one(i):
        if not hasattr(local, "client"):
            local.client = Client()
            clients.append(local.client)
        status, _ = local.client.post(ports[i % len(ports)], key)
        return status

    try:
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, range(count)))
    finally:
        for client in clients:
            client.close()


class SharedLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis_port = harness.unused_port()
        cls.redis = Redis(cls.redis_port)
        cls.sim = harness.start_sim("--fast", "--model", MODEL)
        cls.gateways = []
        try:
            for _ in range(3):
                cls.gateways.append(harness.start_gateway(config(cls.sim.port(), cls.redis_port)))
        except Exception:
            cls.tearDownClass()
            raise
        cls.ports = [g.port() for g in cls.gateways]

    @classmethod
    def tearDownClass(cls):
        for g in cls.gateways:
            g.close()
        cls.sim.close()
        cls.redis.close()

    def store_up(self, gateway):
        return harness.metric(harness.scrape(int(gateway.admin.rsplit(":", 1)[1])),
                              "infergate_limits_store_up")

    def test_1_three_replicas_admit_the_shared_limit_together(self):
        self.assertTrue(all(harness.wait_until(lambda g=g: self.store_up(g) == 1) for g in self.gateways))
        statuses = hammer(self.ports, "sk-shared-key-1", SHARED_RPM * 3 // 2)
        admitted = statuses.count(200)
        self.assertEqual(admitted + statuses.count(429), len(statuses), set(statuses))
        # Alone, each replica would admit its own 600: 900 in all. Shared: 600 +/- 5 % (debt while
        # a refill is in flight may pass the limit by at most one slice, 6, per replica).
        self.assertLessEqual(abs(admitted - SHARED_RPM), SHARED_RPM * 0.05, admitted)

    def test_2_redis_dies_and_returns_mid_run(self):
        # Load on every replica while Redis is killed, then started again on the same port.
        import threading
        results, errors = [], []
        stop = threading.Event()

        def load():
            client = Client()
            n = 0
            while not stop.is_set() and n < 5000:
                n += 1
                try:
                    results.append(client.post(self.ports[n % 3], "sk-roomy-key-1", timeout=5)[0])
                except Exception as e:  # noqa: BLE001 - any failure is a finding
                    errors.append(repr(e))
            client.close()

        threads = [threading.Thread(target=load) for _ in range(6)]
        for t in threads:
            t.start()
        try:
            harness.wait_until(lambda: len(results) >= 200, timeout=10)
            self.redis.close()
            down_from = len(results)
            self.assertTrue(harness.wait_until(
                lambda: all(self.store_up(g) == 0 for g in self.gateways), timeout=10))
            harness.wait_until(lambda: len(results) >= down_from + 300, timeout=10)
            served_while_down = len(results) - down_from
            type(self).redis = Redis(self.redis_port)  # the class's: tearDownClass stops it
            self.assertTrue(all(harness.wait_until(lambda g=g: self.store_up(g) == 1, timeout=15)
                                for g in self.gateways))
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(served_while_down, 300)  # fail open: local limits went on
        self.assertEqual(set(results), {200})
        # Sharing is back: a fresh key's 60 per minute bound the three replicas together again
        # (unshared, they would admit all 120). Within 10 %: near the limit a replica may hold
        # granted units unspent, or refuse while its refill is in flight (seen under ASan: 54).
        statuses = hammer(self.ports, "sk-after-key-1", 120)
        self.assertLessEqual(abs(statuses.count(200) - 60), 6, statuses.count(200))


class FailClosedTest(unittest.TestCase):
    def test_limits_unavailable_when_redis_is_down(self):
        sim = harness.start_sim("--fast", "--model", MODEL)
        self.addCleanup(sim.close)
        gw = harness.start_gateway(config(sim.port(), harness.unused_port(), fail_open=False))
        self.addCleanup(gw.close)
        started = time.monotonic()
        status, headers, body = harness.request(
            gw.port(), "POST", "/v1/chat/completions",
            {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": "Bearer sk-shared-key-1"})
        self.assertLess(time.monotonic() - started, 2.0)
        self.assertEqual(status, 503, body)
        self.assertEqual(json.loads(body)["error"]["code"], "limits_unavailable")
        self.assertIn("retry-after", headers)


if __name__ == "__main__":
    unittest.main()

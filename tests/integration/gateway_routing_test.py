"""infergate routing and the OpenAI surface: model -> pool, aliases, splits, /v1/models, refusals.

Real processes: one infergate-sim (three instances, fast mode) and one infergate on OS-chosen ports.
Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_routing_test.py
"""
import http.client
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"


def chat(model, **extra):
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, **extra}


class GatewayRoutingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = harness.start_sim("--fast", "--model", MODEL, "--lora-modules", "support-lora",
                                    instances=3)
        p0, p1, p2 = (cls.sim.port(i) for i in range(3))
        cls.base_ports = {p0, p1}
        cls.canary_port = p2
        config = f"""
workers: 2
pools:
  - name: qwen
    endpoints: [127.0.0.1:{p0}, 127.0.0.1:{p1}]
  - name: qwen-canary
    endpoints: [127.0.0.1:{p2}]
models:
  - name: {MODEL}
    targets:
      - {{pool: qwen, weight: 90}}
      - {{pool: qwen-canary, weight: 10}}
  - name: support-bot
    targets: [{{pool: qwen, model: support-lora}}]
  - name: canary-only
    targets: [{{pool: qwen-canary, model: {MODEL}}}]
  - name: base-only
    targets: [{{pool: qwen, model: {MODEL}}}]
max_body_bytes: 64KiB
"""
        try:
            cls.gw = harness.start_gateway(config)
        except Exception:
            cls.sim.close()
            raise
        cls.port = cls.gw.port()

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.sim.close()

    def post(self, body, path="/v1/chat/completions", headers=None):
        return harness.request(self.port, "POST", path, body, headers=headers)

    def assert_error(self, response, status, code):
        got_status, headers, raw = response
        self.assertEqual(got_status, status, raw)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(headers["x-gateway-error-reason"], code)
        error = json.loads(raw)["error"]
        self.assertEqual(error["code"], code)
        self.assertEqual(set(error), {"message", "type", "param", "code"})
        return error

    # --- routing ---------------------------------------------------------------------------

    def test_model_routes_to_its_pool(self):
        for model, ports in (("canary-only", {self.canary_port}), ("base-only", self.base_ports)):
            for _ in range(6):
                status, headers, raw = self.post(chat(model))
                self.assertEqual(status, 200, raw)
                served = headers["x-gateway-destination-endpoint-served"]
                self.assertIn(int(served.rsplit(":", 1)[1]), ports)
                self.assertEqual(headers["x-inference-port"], served.rsplit(":", 1)[1])
                self.assertEqual(json.loads(raw)["model"], MODEL)  # rewritten to the served name

    def test_alias_rewrites_the_model_the_server_sees(self):
        status, headers, raw = self.post(chat("support-bot"))
        self.assertEqual(status, 200, raw)
        self.assertEqual(json.loads(raw)["model"], "support-lora")
        self.assertIn(int(headers["x-inference-port"]), self.base_ports)

    def test_escaped_model_name_routes(self):
        body = b'{"model":"Qwen\\/Qwen3-0.6B","messages":[{"role":"user","content":"x"}]}'
        status, _, raw = self.post(body)
        self.assertEqual(status, 200, raw)

    def test_canary_split_90_10(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        body = json.dumps(chat(MODEL)).encode()
        canary = 0
        total = 1000
        try:
            for _ in range(total):
                conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 200)
                canary += int(resp.getheader("x-inference-port")) == self.canary_port
        finally:
            conn.close()
        # Binomial(1000, 0.1): standard deviation 9.5; 4 sigma either side.
        self.assertGreater(canary, 100 - 38)
        self.assertLess(canary, 100 + 38)

    def test_other_v1_posts_route_by_model(self):
        status, _, raw = self.post({"model": MODEL, "input": "hello"}, path="/v1/embeddings")
        self.assertEqual(status, 200, raw)
        status, _, raw = self.post({"model": MODEL, "prompt": "hello", "max_tokens": 2},
                                   path="/v1/completions")
        self.assertEqual(status, 200, raw)

    # --- /v1/models --------------------------------------------------------------------------

    def test_models_list(self):
        status, headers, raw = harness.request(self.port, "GET", "/v1/models")
        self.assertEqual(status, 200)
        listing = json.loads(raw)
        self.assertEqual(listing["object"], "list")
        owners = {m["id"]: m["owned_by"] for m in listing["data"]}
        self.assertEqual(owners, {MODEL: "qwen", "support-bot": "qwen", "canary-only": "qwen-canary",
                                  "base-only": "qwen"})
        for m in listing["data"]:
            self.assertEqual(m["object"], "model")
            self.assertIsInstance(m["created"], int)

    def test_model_by_id_with_slash(self):
        status, _, raw = harness.request(self.port, "GET", "/v1/models/" + MODEL)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(raw)["id"], MODEL)
        status, _, raw = harness.request(self.port, "GET", "/v1/models/Qwen%2FQwen3-0.6B")
        self.assertEqual(status, 200)
        self.assert_error(harness.request(self.port, "GET", "/v1/models/nope"), 404, "model_not_found")

    # --- refusals ----------------------------------------------------------------------------

    def test_unknown_model_404_says_how_to_list(self):
        error = self.assert_error(self.post(chat("no-such-model")), 404, "model_not_found")
        self.assertIn("no-such-model", error["message"])
        self.assertIn("/v1/models", error["message"])

    def test_bad_bodies_400(self):
        cases = [
            (b"{not json", "invalid_json"),
            (b'{"messages":[]}', "missing_model"),
            (b'{"model":42}', "model_not_string"),
            (b'{"model":"a","model":"b"}', "duplicate_model"),
            (b'{"x":{"model":"nested"}}', "missing_model"),
        ]
        for body, code in cases:
            with self.subTest(code=code, body=body):
                error = self.assert_error(self.post(body), 400, code)
                self.assertEqual(error["type"], "invalid_request_error")

    def test_body_too_large_413(self):
        big = {"model": MODEL, "prompt": "x" * (70 * 1024)}
        self.assert_error(self.post(big, path="/v1/completions"), 413, "body_too_large")

    def test_method_not_allowed_405_with_allow(self):
        status, headers, _ = harness.request(self.port, "GET", "/v1/chat/completions")
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "POST")
        status, headers, _ = harness.request(self.port, "POST", "/v1/models", {})
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "GET")

    def test_unknown_path_404(self):
        self.assert_error(harness.request(self.port, "GET", "/nope"), 404, "route_not_found")

    def test_headers_too_large_431(self):
        status, _, _ = harness.request(self.port, "POST", "/v1/chat/completions", chat(MODEL),
                                       headers={"X-Big": "y" * (80 * 1024)})
        self.assertEqual(status, 431)

    # --- HTTP/1.1 details --------------------------------------------------------------------

    def test_chunked_request_body(self):
        body = json.dumps(chat("base-only")).encode()
        s = harness.raw_connect(self.port)
        try:
            half = len(body) // 2
            chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, body[:half], len(body) - half, body[half:])
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      + chunks)
            status, _, raw = harness.HttpReader(s).read_response()
            self.assertEqual(status, 200, raw)
            self.assertEqual(json.loads(raw)["model"], MODEL)
        finally:
            s.close()

    def test_expect_100_continue(self):
        body = json.dumps(chat("base-only")).encode()
        s = harness.raw_connect(self.port)
        try:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            s.settimeout(5)
            interim = s.recv(4096)
            self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim)
            s.sendall(body)
            reader = harness.HttpReader(s)
            reader.buf = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
            status, _, raw = reader.read_response()
            self.assertEqual(status, 200, raw)
        finally:
            s.close()

    def test_pipelined_requests_answered_in_order(self):
        models = ["canary-only", "support-bot", "nope", "base-only"]
        s = harness.raw_connect(self.port)
        try:
            wire = b""
            for m in models:
                body = json.dumps(chat(m)).encode()
                wire += (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                         % len(body)) + body
            s.sendall(wire)
            reader = harness.HttpReader(s)
            results = [reader.read_response() for _ in models]
        finally:
            s.close()
        self.assertEqual([r[0] for r in results], [200, 200, 404, 200])
        self.assertEqual(int(results[0][1]["x-inference-port"]), self.canary_port)
        self.assertEqual(json.loads(results[1][2])["model"], "support-lora")

    def test_requests_arriving_while_a_response_streams(self):
        # Request 2 arrives while response 1 is still being relayed, request 3 only after
        # response 2: every byte read while watching the client belongs to the next request.
        def wire(model, stream=False):
            body = json.dumps(chat(model, stream=stream, max_tokens=6)).encode()
            return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                    % len(body)) + body
        s = harness.raw_connect(self.port)
        try:
            reader = harness.HttpReader(s)
            s.sendall(wire("canary-only", stream=True))
            s.sendall(wire("support-bot"))
            first = reader.read_response()
            second = reader.read_response()
            s.sendall(wire("nope"))
            third = reader.read_response()
            s.sendall(wire("canary-only"))
            fourth = reader.read_response()
        finally:
            s.close()
        self.assertEqual([first[0], second[0], third[0], fourth[0]], [200, 200, 404, 200])
        self.assertIn(b"data: [DONE]", first[2])
        self.assertEqual(json.loads(second[2])["model"], "support-lora")
        self.assertEqual(json.loads(third[2])["error"]["code"], "model_not_found")
        self.assertEqual(int(fourth[1]["x-inference-port"]), self.canary_port)

    def test_hop_by_hop_removed_end_to_end_kept(self):
        status, headers, _ = self.post(chat("base-only"), headers={
            "Authorization": "Bearer secret", "Connection": "keep-alive, X-Drop", "X-Drop": "1"})
        self.assertEqual(status, 200)
        self.assertNotIn("transfer-encoding", headers)
        self.assertNotIn("keep-alive", headers)


class CheckConfigTest(unittest.TestCase):
    def test_bad_file_prints_located_issues(self):
        import subprocess
        path = harness.write_config("pools:\n  - name: a\n    endpoints: [127.0.0.1:1]\n"
                                    "models:\n  - name: m\n    targets: [{pool: missing}]\n"
                                    "bogus_key: 1\n")
        self.addCleanup(os.unlink, path)
        proc = subprocess.run([harness.GATEWAY_BIN, "--check-config", path], capture_output=True,
                              text=True, timeout=10)
        self.assertEqual(proc.returncode, 1)
        out = proc.stdout + proc.stderr
        self.assertIn(f"{path}:6:", out)  # the unknown pool, located
        self.assertIn(f"{path}:7:", out)  # the unknown key, located
        good = harness.write_config("pools:\n  - name: a\n    endpoints: [127.0.0.1:1]\n"
                                    "models:\n  - name: m\n    targets: [{pool: a}]\n")
        self.addCleanup(os.unlink, good)
        proc = subprocess.run([harness.GATEWAY_BIN, "--check-config", good], capture_output=True,
                              text=True, timeout=10)
        self.assertEqual((proc.returncode, proc.stdout.strip()), (0, "ok"))


if __name__ == "__main__":
    unittest.main()

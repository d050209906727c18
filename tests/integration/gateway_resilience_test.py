"""infergate when things go wrong, and its life cycle: retries over dead endpoints, stale pooled
connections, timeouts (upstream and client), header forwarding rules, admin endpoints and
metrics, and the SIGTERM drain.

Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_resilience_test.py
"""
import json
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def config_for(endpoints, extra=""):
    listed = ", ".join(f"127.0.0.1:{p}" for p in endpoints)
    return f"""
workers: 2
pools:
  - name: qwen
    endpoints: [{listed}]
models:
  - name: {MODEL}
    targets: [{{pool: qwen}}]
{extra}
"""


def admin_port(gw):
    return int(gw.admin.rsplit(":", 1)[1])


class GatewayResilienceTest(unittest.TestCase):
    def sim(self, *args, instances=1):
        p = harness.start_sim("--fast", *args, instances=instances)
        self.addCleanup(p.close)
        return p

    def gateway(self, endpoints, extra=""):
        gw = harness.start_gateway(config_for(endpoints, extra))
        self.addCleanup(gw.close)
        return gw

    # --- retries ---------------------------------------------------------------------------

    def test_dead_endpoint_is_skipped(self):
        live = self.sim().port()
        dead = harness.unused_port()
        gw = self.gateway([dead, live])
        for _ in range(20):  # least-request ties break at random: the dead one comes first often
            status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
            self.assertEqual(status, 200, raw)
            self.assertEqual(headers["x-gateway-destination-endpoint-served"], f"127.0.0.1:{live}")
        retries = harness.metric(harness.scrape(admin_port(gw)), "infergate_upstream_retries_total")
        self.assertGreaterEqual(retries, 1)

    def endpoint_health(self, gw, port):
        status, _, raw = harness.request(admin_port(gw), "GET", "/debug/endpoints")
        self.assertEqual(status, 200, raw)
        endpoints = {e["name"]: e for p in json.loads(raw)["pools"] for e in p["endpoints"]}
        return endpoints[f"127.0.0.1:{port}"]["health"]

    def test_failed_connect_ejects_the_endpoint_for_every_worker(self):
        live = self.sim().port()
        dead = harness.unused_port()
        gw = self.gateway([dead, live])
        for _ in range(40):  # until the scheduler has put the dead one first once
            status, _, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
            self.assertEqual(status, 200, raw)
            health = self.endpoint_health(gw, dead)
            if health["connect_failures"]:
                break
        self.assertEqual(health["connect_failures"], 1)
        self.assertFalse(health["available"])
        self.assertGreater(health["ejected_for_ms"], 0)

    def test_burst_of_5xx_ejects_the_endpoint(self):
        bad = harness.start_sim("--fail-500-rate", "1", "--prefill-overhead-ms", "1")  # not --fast: it ignores faults
        self.addCleanup(bad.close)
        good = self.sim().port()
        gw = self.gateway([bad.port(), good])
        failures = 0
        for _ in range(60):  # both are picked at random until the bad one is ejected
            status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
            if status == 500:
                failures += 1
                self.assertEqual(headers["x-gateway-destination-endpoint-served"], f"127.0.0.1:{bad.port()}")
            if failures == 5:
                break
        self.assertEqual(failures, 5)
        health = self.endpoint_health(gw, bad.port())
        self.assertFalse(health["available"])
        self.assertGreater(health["ejected_for_ms"], 0)
        for _ in range(5):  # ejected: skipped by every worker while it lasts (1 s the first time)
            status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
            self.assertEqual(status, 200, raw)
            self.assertEqual(headers["x-gateway-destination-endpoint-served"], f"127.0.0.1:{good}")

    def test_every_endpoint_dead_is_503_with_retry_after(self):
        gw = self.gateway([harness.unused_port(), harness.unused_port()])
        status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
        self.assertEqual(status, 503, raw)
        self.assertEqual(headers["x-gateway-error-reason"], "no_ready_endpoint")
        self.assertEqual(headers["retry-after"], "1")
        self.assertEqual(json.loads(raw)["error"]["code"], "no_ready_endpoint")

    def test_stale_pooled_connection_is_retried_on_a_new_one(self):
        first = self.sim()
        port = first.port()
        gw = self.gateway([port])
        self.assertEqual(harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)[0], 200)
        first.close()  # the gateway's pooled connection to it is now dead
        second = harness.start_sim("--fast", "--port", str(port))
        self.addCleanup(second.close)
        for _ in range(4):  # each worker may hold a stale connection
            status, _, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
            self.assertEqual(status, 200, raw)

    def test_server_reset_before_answering_is_502(self):
        sim = harness.start_sim("--reset-before-rate", "1", "--prefill-overhead-ms", "1")
        self.addCleanup(sim.close)
        gw = self.gateway([sim.port()])
        status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
        self.assertEqual(status, 502, raw)
        self.assertEqual(headers["x-gateway-error-reason"], "upstream_failed")

    # --- timeouts --------------------------------------------------------------------------

    def test_no_first_byte_in_time_is_504(self):
        sim = harness.start_sim("--hang-rate", "1")
        self.addCleanup(sim.close)
        gw = self.gateway([sim.port()], "timeouts: {first_byte: 300ms}")
        started = time.monotonic()
        status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
        self.assertEqual(status, 504, raw)
        self.assertEqual(headers["x-gateway-error-reason"], "upstream_timeout")
        self.assertLess(time.monotonic() - started, 3)

    def test_slow_client_head_is_408(self):
        gw = self.gateway([self.sim().port()], "timeouts: {client_header: 300ms}")
        s = harness.raw_connect(gw.port())
        self.addCleanup(s.close)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        status, headers, _ = harness.HttpReader(s, timeout=5).read_response()
        self.assertEqual(status, 408)
        self.assertEqual(headers["connection"], "close")

    def test_idle_keep_alive_connection_is_closed(self):
        gw = self.gateway([self.sim().port()], "timeouts: {keepalive_idle: 300ms}")
        s = harness.raw_connect(gw.port())
        self.addCleanup(s.close)
        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = harness.HttpReader(s, timeout=5)
        self.assertEqual(reader.read_response()[0], 200)
        s.settimeout(5)
        started = time.monotonic()
        self.assertEqual(s.recv(10), b"")
        self.assertLess(time.monotonic() - started, 3)

    # --- what is forwarded -----------------------------------------------------------------

    def test_audio_form_is_routed_by_its_model_field_and_rewritten_in_place(self):
        port, seen = harness.recording_upstream(self, b'{"text":"hello"}')
        audio = f"127.0.0.1:{port}"
        gw = harness.start_gateway(f"""
workers: 1
pools:
  - {{name: audio, endpoints: [{audio}]}}
models:
  - name: whisper
    targets: [{{pool: audio, model: openai/whisper-large-v3}}]
""")
        self.addCleanup(gw.close)
        boundary = "----openai-form-7d2a"
        wav = b"RIFF\x00\x01\r\n--" + boundary.encode() + b"-not-quite\r\n\xff" * 50
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                f"Content-Type: audio/wav\r\n\r\n").encode() + wav + \
               (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper"
                f"\r\n--{boundary}--\r\n").encode()
        content_type = f"multipart/form-data; boundary={boundary}"
        status, _, raw = harness.request(gw.port(), "POST", "/v1/audio/transcriptions", body,
                                         headers={"Content-Type": content_type})
        self.assertEqual(status, 200, raw)
        self.assertEqual(raw, b'{"text":"hello"}')
        path, sent_headers, sent = seen[-1]
        self.assertEqual((path, sent_headers["content-type"]), ("/v1/audio/transcriptions", content_type))
        # Only the model field's bytes changed; the file part went through byte for byte.
        self.assertEqual(sent, body.replace(b"\r\n\r\nwhisper\r\n", b"\r\n\r\nopenai/whisper-large-v3\r\n"))

        # A form without a model, or one that is not a form at all, gets an OpenAI-style 400.
        for form, code in ((body.replace(b'name="model"', b'name="language"'), "missing_model"),
                           (b'{"model":"whisper"}', "invalid_form")):
            status, headers, raw = harness.request(gw.port(), "POST", "/v1/audio/transcriptions", form,
                                                   headers={"Content-Type": content_type})
            self.assertEqual(status, 400, raw)
            self.assertEqual(json.loads(raw)["error"]["code"], code)
            self.assertEqual(headers["x-gateway-error-reason"], code)
        self.assertEqual(len(seen), 1)

    def test_forwarded_headers(self):
        port, seen = harness.recording_upstream(self, b'{"ok":true}',
                                        (("Keep-Alive", "timeout=5"), ("X-Upstream", "yes")))
        gw = self.gateway([port], "debug_headers: true")
        body = b'{"model":"Qwen/Qwen3-0.6B","messages":[]}'
        status, headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions", body, headers={
            "Authorization": "Bearer sk-test", "X-Forwarded-For": "10.0.0.1", "TE": "trailers",
            "Connection": "keep-alive, X-Hop", "X-Hop": "drop me", "X-Custom": "keep me"})
        self.assertEqual(status, 200, raw)
        self.assertEqual(raw, b'{"ok":true}')
        _, sent, sent_body = seen[-1]
        self.assertEqual(sent_body, body)
        self.assertEqual(sent["authorization"], "Bearer sk-test")
        self.assertEqual(sent["x-custom"], "keep me")
        self.assertEqual(sent["x-forwarded-for"], "10.0.0.1, 127.0.0.1")
        self.assertEqual(sent["x-forwarded-proto"], "http")
        self.assertEqual(sent["content-length"], str(len(body)))
        for hop in ("te", "x-hop", "connection", "keep-alive"):
            self.assertNotIn(hop, sent)
        self.assertEqual(headers["x-upstream"], "yes")
        self.assertEqual(headers["x-gateway-pool"], "qwen")  # debug_headers
        self.assertEqual(headers["x-gateway-attempts"], "1")
        self.assertNotIn("keep-alive", headers)
        self.assertEqual(headers["x-gateway-destination-endpoint-served"],
                         f"127.0.0.1:{port}")

    # --- admin -----------------------------------------------------------------------------

    def test_admin_health_and_metrics(self):
        gw = self.gateway([self.sim().port()])
        admin = admin_port(gw)
        self.assertEqual(harness.request(admin, "GET", "/healthz")[0], 200)
        self.assertEqual(harness.request(admin, "GET", "/readyz")[0], 200)
        harness.request(gw.port(), "POST", "/v1/chat/completions", CHAT)
        harness.request(gw.port(), "POST", "/v1/chat/completions", {"model": "nope"})
        samples = harness.scrape(admin)
        self.assertEqual(harness.metric(samples, "infergate_requests_total", model=MODEL, code="200"), 1)
        self.assertEqual(harness.metric(samples, "infergate_errors_total", reason="model_not_found",
                                        code="404"), 1)
        self.assertEqual(harness.metric(samples, "infergate_upstream_first_byte_seconds_count"), 1)
        self.assertEqual(harness.metric(samples, "infergate_endpoint_in_flight"), 0)
        # The Inference Extension's names, for its dashboards.
        self.assertEqual(harness.metric(samples, "inference_model_request_total", model_name=MODEL,
                                        target_model_name=MODEL), 1)
        self.assertEqual(harness.metric(samples, "inference_model_running_requests", model_name=MODEL), 0)
        self.assertEqual(harness.metric(samples, "inference_model_request_duration_seconds_count"), 1)

    # --- drain -----------------------------------------------------------------------------

    def test_sigterm_drains_in_flight_streams_then_exits_0(self):
        sim = harness.start_sim("--itl-ms", "50", "--prefill-overhead-ms", "1", "--jitter", "0")
        self.addCleanup(sim.close)
        gw = self.gateway([sim.port()])
        admin = admin_port(gw)
        idle = harness.raw_connect(gw.port())  # a keep-alive connection with nothing in flight
        self.addCleanup(idle.close)
        body = json.dumps({**CHAT, "max_tokens": 20, "stream": True}).encode()
        s = harness.raw_connect(gw.port())
        self.addCleanup(s.close)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
        s.settimeout(10)
        raw = s.recv(65536)
        while b"data:" not in raw:
            raw += s.recv(65536)
        gw.signal(signal.SIGTERM)
        self.assertTrue(harness.wait_until(
            lambda: harness.request(admin, "GET", "/readyz")[0] == 503, timeout=3))
        idle.settimeout(5)
        self.assertEqual(idle.recv(10), b"")  # idle connections are closed at once
        while b"data: [DONE]" not in raw:  # the stream in flight finishes
            chunk = s.recv(65536)
            self.assertTrue(chunk, raw)
            raw += chunk
        while not raw.endswith(b"0\r\n\r\n"):
            raw += s.recv(65536)
        self.assertEqual(s.recv(10), b"")  # then the connection closes: the gateway is leaving
        self.assertEqual(gw.wait(timeout=10), 0)
        with self.assertRaises(OSError):
            harness.raw_connect(gw.port(), timeout=2)


if __name__ == "__main__":
    unittest.main()

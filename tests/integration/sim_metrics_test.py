"""infergate-sim end to end over real sockets: /metrics families follow the load we create, SSE is
framed exactly as vLLM frames it, errors look like vLLM's, and a client that leaves aborts its
request at once (during prefill and mid-stream), freeing its batch slot and KV blocks.

Run: INFERGATE_SIM_BIN=build/src/sim/infergate-sim python3 tests/integration/sim_metrics_test.py
"""
import asyncio
import json
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BLOCK = 16
STOP_WAIT = 5.0


def blocks_for(tokens):
    return (tokens + BLOCK - 1) // BLOCK


def post_bytes(path, body, port):
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


class Stream:
    """A raw HTTP/1.1 request whose chunked response we read event by event."""

    def __init__(self, port, path, body):
        self.sock = harness.raw_connect(port)
        self.sock.sendall(post_bytes(path, body, port))
        self.buf = b""
        self.head = None
        self.body = b""  # de-chunked payload so far
        self.done = False

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.head = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        return self.status

    def _dechunk(self):
        while True:
            if b"\r\n" not in self.buf:
                return
            size_line, rest = self.buf.split(b"\r\n", 1)
            size = int(size_line, 16)
            if len(rest) < size + 2:
                return
            self.body += rest[:size]
            self.buf = rest[size + 2:]
            if size == 0:
                self.done = True
                return

    def read_events(self, count):
        """Reads until `count` complete SSE events arrived (or the stream ended)."""
        if self.head is None:
            self.read_head()
        while self.body.count(b"\n\n") < count and not self.done:
            self._dechunk()
            if self.body.count(b"\n\n") >= count or self.done:
                break
            self._fill()
        return self.body

    def read_all(self):
        if self.head is None:
            self.read_head()
        while not self.done:
            self._dechunk()
            if not self.done:
                self._fill()
        return self.body

    def close(self):
        self.sock.close()


def wait_for(fn, timeout=STOP_WAIT):
    """Polls `fn` (a metrics predicate) until true; bounded. Returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def ids(n, salt):
    return [salt * 1000 + i for i in range(n)]


class SimMetricsTest(unittest.TestCase):
    def sim(self, *args, instances=1):
        p = harness.start_sim("--jitter", "0", *args, instances=instances)
        self.addCleanup(p.close)
        return p

    def test_load_moves_every_family(self):
        # Waves last 0.8 s, so the snapshot below is taken well inside the first one even on a
        # busy machine.
        p = self.sim("--max-num-seqs", "2", "--kv-blocks", "100", "--itl-ms", "40",
                     "--itl-load-factor", "1", "--prefill-overhead-ms", "5", "--prefill-per-token-us", "0")
        port = p.port()
        prompt_len, out_len, n = 44, 20, 5
        streams = [Stream(port, "/v1/completions",
                          {"model": "Qwen/Qwen3-0.6B", "prompt": ids(prompt_len, i), "max_tokens": out_len,
                           "stream": True}) for i in range(n)]
        try:
            for s in streams[:2]:
                s.read_events(1)  # the first two are in the batch and streaming
            m = harness.scrape(port)
            self.assertEqual(harness.metric(m, "vllm:num_requests_running"), 2)
            self.assertEqual(harness.metric(m, "vllm:num_requests_waiting"), 3)
            self.assertAlmostEqual(harness.metric(m, "vllm:kv_cache_usage_perc"),
                                   2 * blocks_for(prompt_len + out_len) / 100)
            self.assertEqual(harness.metric(m, "vllm:cache_config_info", block_size="16", num_gpu_blocks="100"), 1)
            for s in streams:
                s.read_all()
        finally:
            for s in streams:
                s.close()
        m = harness.scrape(port)
        self.assertEqual(harness.metric(m, "vllm:num_requests_running"), 0)
        self.assertEqual(harness.metric(m, "vllm:num_requests_waiting"), 0)
        self.assertEqual(harness.metric(m, "vllm:kv_cache_usage_perc"), 0)
        self.assertEqual(harness.metric(m, "vllm:request_success_total", finished_reason="length"), n)
        self.assertEqual(harness.metric(m, "vllm:request_success_total", finished_reason="stop"), 0)
        self.assertEqual(harness.metric(m, "vllm:request_success_total", finished_reason="abort"), 0)
        self.assertEqual(harness.metric(m, "vllm:prompt_tokens_total"), n * prompt_len)
        self.assertEqual(harness.metric(m, "vllm:generation_tokens_total"), n * out_len)
        self.assertEqual(harness.metric(m, "vllm:prefix_cache_queries_total"), n * prompt_len)
        self.assertEqual(harness.metric(m, "vllm:prefix_cache_hits_total"), 0)
        self.assertEqual(harness.metric(m, "vllm:time_to_first_token_seconds_count"), n)
        self.assertEqual(harness.metric(m, "vllm:e2e_request_latency_seconds_count"), n)
        # Queueing shows: two requests wait one wave (~0.8 s), the fifth two waves.
        wave = 0.005 + (out_len - 1) * 0.040
        self.assertGreaterEqual(harness.metric(m, "vllm:time_to_first_token_seconds_sum"), 4 * wave - 0.01)
        self.assertEqual(harness.metric(m, "vllm:time_to_first_token_seconds_bucket", le="0.001"), 0)
        self.assertEqual(harness.metric(m, "vllm:time_to_first_token_seconds_bucket", le="+Inf"), n)

    def test_prefix_cache_hits_and_usage(self):
        p = self.sim("--itl-ms", "1", "--prefill-overhead-ms", "1")
        port = p.port()
        body = {"model": "Qwen/Qwen3-0.6B", "prompt": ids(100, 7), "max_tokens": 3}
        for _ in range(2):
            status, _, raw = harness.request(port, "POST", "/v1/completions", body)
            self.assertEqual(status, 200)
            usage = json.loads(raw)["usage"]
            self.assertEqual(usage, {"prompt_tokens": 100, "total_tokens": 103, "completion_tokens": 3,
                                     "prompt_tokens_details": None})
        m = harness.scrape(port)
        self.assertEqual(harness.metric(m, "vllm:prefix_cache_queries_total"), 200)
        self.assertEqual(harness.metric(m, "vllm:prefix_cache_hits_total"), (99 // BLOCK) * BLOCK)
        chat = {"model": "Qwen/Qwen3-0.6B", "messages": [{"role": "user", "content": "Hello there"}]}
        status, _, raw = harness.request(port, "POST", "/v1/chat/completions", chat)
        reply = json.loads(raw)
        self.assertEqual(reply["choices"][0]["finish_reason"], "stop")
        self.assertEqual(reply["usage"]["completion_tokens"], 16)  # --output-len default
        # Each generated word is one token: the reply's own text has completion_tokens words.
        self.assertEqual(len(reply["choices"][0]["message"]["content"].split()), 16)

    def test_lora_info_and_models(self):
        p = self.sim("--lora-modules", "support-lora,other", "--max-loras", "1", "--itl-ms", "10")
        port = p.port()
        status, _, raw = harness.request(port, "GET", "/v1/models")
        models = {m["id"]: m for m in json.loads(raw)["data"]}
        self.assertIsNone(models["Qwen/Qwen3-0.6B"]["parent"])
        self.assertEqual(models["support-lora"]["parent"], "Qwen/Qwen3-0.6B")
        a = Stream(port, "/v1/chat/completions", {"model": "support-lora", "stream": True, "max_tokens": 200,
                                                  "messages": [{"role": "user", "content": "a"}]})
        b = Stream(port, "/v1/chat/completions", {"model": "other", "stream": True, "max_tokens": 2,
                                                  "messages": [{"role": "user", "content": "b"}]})
        try:
            a.read_events(2)
            m = harness.scrape(port)
            # One series whose labels name the running and waiting adapters; its value is a time stamp.
            self.assertGreater(harness.metric(m, "vllm:lora_requests_info", max_lora="1",
                                              running_lora_adapters="support-lora",
                                              waiting_lora_adapters="other"), 1e9)
            self.assertEqual(harness.metric(m, "vllm:num_requests_waiting"), 1)
        finally:
            a.close()
            b.close()

    def test_sse_framing_is_vllms(self):
        p = self.sim("--itl-ms", "1", "--prefill-overhead-ms", "1")
        port = p.port()
        for path, obj, with_usage in (("/v1/chat/completions", "chat.completion.chunk", True),
                                      ("/v1/chat/completions", "chat.completion.chunk", False),
                                      ("/v1/completions", "text_completion", True)):
            body = {"model": "Qwen/Qwen3-0.6B", "stream": True, "max_tokens": 4}
            if path.endswith("chat/completions"):
                body["messages"] = [{"role": "user", "content": "Hi"}]
            else:
                body["prompt"] = "Hi"
            if with_usage:
                body["stream_options"] = {"include_usage": True}
            s = Stream(port, path, body)
            try:
                payload = s.read_all()
            finally:
                s.close()
            self.assertEqual(s.status, 200)
            self.assertEqual(s.head["content-type"], "text/event-stream; charset=utf-8")
            self.assertEqual(s.head["transfer-encoding"], "chunked")
            self.assertTrue(payload.endswith(b"data: [DONE]\n\n"))
            events = payload.decode().split("\n\n")
            self.assertEqual(events[-1], "")
            self.assertEqual(events[-2], "data: [DONE]")
            chunks = []
            for e in events[:-2]:
                self.assertTrue(e.startswith("data: {"), e)
                self.assertNotIn("\n", e)
                chunks.append(json.loads(e[len("data: "):]))
            self.assertTrue(all(c["object"] == obj for c in chunks))
            self.assertEqual(len({c["id"] for c in chunks}), 1)
            if with_usage:
                usage_chunk = chunks.pop()
                self.assertEqual(usage_chunk["choices"], [])
                self.assertEqual(usage_chunk["usage"]["completion_tokens"], 4)
            else:
                self.assertTrue(all("usage" not in c for c in chunks))
            if obj == "chat.completion.chunk":
                self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
                chunks = chunks[1:]
            self.assertEqual(len(chunks), 4)
            self.assertEqual([c["choices"][0]["finish_reason"] for c in chunks], [None, None, None, "length"])

    def test_errors_look_like_vllm(self):
        p = self.sim()
        port = p.port()
        status, headers, raw = harness.request(port, "POST", "/v1/chat/completions",
                                               {"model": "nope", "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(raw), {"error": {"message": "The model `nope` does not exist.",
                                                     "type": "NotFoundError", "param": "model", "code": 404}})
        self.assertEqual(headers["x-inference-port"], str(port))
        status, _, raw = harness.request(port, "POST", "/v1/chat/completions", b'{"model": "Qwen/Qwen3-0.6B", ')
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(raw)["error"]["type"], "BadRequestError")
        status, _, _ = harness.request(port, "GET", "/v1/nothing")
        self.assertEqual(status, 404)

    def test_health_is_503_while_starting(self):
        t0 = time.monotonic()
        p = self.sim("--startup-delay-ms", "1000")
        port = p.port()
        status, _, _ = harness.request(port, "GET", "/health")
        self.assertEqual(status, 503)
        status, _, _ = harness.request(port, "POST", "/v1/completions", {"model": "Qwen/Qwen3-0.6B", "prompt": "x"})
        self.assertEqual(status, 503)
        ok = wait_for(lambda: harness.request(port, "GET", "/health")[0] == 200, timeout=5)
        self.assertTrue(ok)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def wait_running(self, port, want):
        return wait_for(lambda: harness.metric(harness.scrape(port), "vllm:num_requests_running") == want)

    def assert_aborted(self, port, count):
        def settled():
            m = harness.scrape(port)
            return (harness.metric(m, "vllm:request_success_total", finished_reason="abort") == count
                    and harness.metric(m, "vllm:num_requests_running") == 0
                    and harness.metric(m, "vllm:kv_cache_usage_perc") == 0)
        t0 = time.monotonic()
        self.assertTrue(wait_for(settled, timeout=2.0))
        self.assertLess(time.monotonic() - t0, 1.0)

    def test_client_close_mid_stream_aborts(self):
        p = self.sim("--itl-ms", "20", "--prefill-overhead-ms", "1")
        port = p.port()
        s = Stream(port, "/v1/chat/completions", {"model": "Qwen/Qwen3-0.6B", "stream": True, "max_tokens": 1000,
                                                  "messages": [{"role": "user", "content": "long"}]})
        s.read_events(3)
        self.assertEqual(harness.metric(harness.scrape(port), "vllm:num_requests_running"), 1)
        s.close()
        self.assert_aborted(port, 1)
        m = harness.scrape(port)
        self.assertLess(harness.metric(m, "vllm:generation_tokens_total"), 100)

    def test_client_close_during_prefill_aborts_non_streaming(self):
        p = self.sim("--prefill-overhead-ms", "10000", "--max-num-seqs", "1")
        port = p.port()
        body = {"model": "Qwen/Qwen3-0.6B", "messages": [{"role": "user", "content": "x"}]}
        first = harness.raw_connect(port)
        first.sendall(post_bytes("/v1/chat/completions", body, port))
        second = harness.raw_connect(port)  # waits behind the first
        second.sendall(post_bytes("/v1/chat/completions", body, port))
        self.assertTrue(wait_for(lambda: harness.metric(harness.scrape(port), "vllm:num_requests_waiting") == 1))
        self.assertEqual(harness.metric(harness.scrape(port), "vllm:num_requests_running"), 1)
        second.close()  # aborted while waiting
        first.close()   # aborted during prefill
        self.assert_aborted(port, 2)
        self.assertEqual(harness.metric(harness.scrape(port), "vllm:num_requests_waiting"), 0)

    def test_full_queue_answers_503(self):
        p = self.sim("--prefill-overhead-ms", "10000", "--max-num-seqs", "1", "--max-queue", "1")
        port = p.port()
        body = {"model": "Qwen/Qwen3-0.6B", "messages": [{"role": "user", "content": "x"}]}
        held = [harness.raw_connect(port) for _ in range(2)]  # one running, one waiting
        try:
            for s in held:
                s.sendall(post_bytes("/v1/chat/completions", body, port))
            self.assertTrue(wait_for(lambda: harness.metric(harness.scrape(port), "vllm:num_requests_waiting") == 1))
            status, headers, raw = harness.request(port, "POST", "/v1/chat/completions", body)
            self.assertEqual(status, 503)
            self.assertEqual(headers["retry-after"], "1")
            self.assertEqual(json.loads(raw)["error"]["code"], 503)
        finally:
            for s in held:
                s.close()

    def test_instances_have_their_own_state_and_names(self):
        p = self.sim("--pod-name", "pod", "--itl-ms", "1", instances=2)
        a, b = p.port(0), p.port(1)
        status, headers, _ = harness.request(a, "POST", "/v1/completions",
                                             {"model": "Qwen/Qwen3-0.6B", "prompt": "x", "max_tokens": 2})
        self.assertEqual((status, headers["x-inference-pod"], headers["x-inference-port"]), (200, "pod-0", str(a)))
        _, headers, _ = harness.request(b, "GET", "/health")
        self.assertEqual(headers["x-inference-pod"], "pod-1")
        self.assertEqual(harness.metric(harness.scrape(a), "vllm:request_success_total"), 1)
        self.assertEqual(harness.metric(harness.scrape(b), "vllm:request_success_total"), 0)

    def test_keep_alive_and_pipelining(self):
        p = self.sim("--itl-ms", "1", "--prefill-overhead-ms", "1")
        port = p.port()
        s = harness.raw_connect(port)
        try:
            req = post_bytes("/v1/completions", {"model": "Qwen/Qwen3-0.6B", "prompt": "x", "max_tokens": 2}, port)
            s.sendall(req + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + req)
            data = b""
            deadline = time.monotonic() + 5
            while data.count(b"HTTP/1.1 200 OK") < 3 or not data.endswith(b"}"):
                self.assertLess(time.monotonic(), deadline)
                data += s.recv(65536)
            self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 3)
            self.assertEqual(data.count(b'"object":"text_completion"'), 2)
        finally:
            s.close()

    def test_many_concurrent_streams_all_complete(self):
        """Hundreds of streams on one event loop: each gets every token and its [DONE], even when
        the last token is produced while an earlier write of the same stream is in flight."""
        p = self.sim("--itl-ms", "5", "--prefill-overhead-ms", "1", "--max-num-seqs", "1024",
                     "--kv-blocks", "100000")
        port, streams, tokens = p.port(), 600, 20

        async def one():
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            req = post_bytes("/v1/chat/completions", {
                "model": "Qwen/Qwen3-0.6B", "stream": True, "max_tokens": tokens,
                "messages": [{"role": "user", "content": "x"}]}, port)
            writer.write(req.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
            data = b""
            try:
                while not data.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n"):
                    chunk = await asyncio.wait_for(reader.read(65536), 10)
                    if not chunk:
                        break
                    data += chunk
            finally:
                writer.close()
            return data.count(b'"delta":{"content"'), data.endswith(b"0\r\n\r\n")

        async def all_streams():
            return await asyncio.gather(*(one() for _ in range(streams)))

        results = asyncio.run(all_streams())
        self.assertEqual(results, [(tokens, True)] * streams)
        m = harness.scrape(port)
        self.assertEqual(harness.metric(m, "vllm:request_success_total", finished_reason="length"), streams)

    def test_vllm_both_flavor(self):
        p = self.sim("--metrics-flavor", "vllm-both", "--kv-blocks", "100")
        port = p.port()
        s = Stream(port, "/v1/completions", {"model": "Qwen/Qwen3-0.6B", "prompt": ids(16, 1), "max_tokens": 500,
                                             "stream": True})
        try:
            s.read_events(1)
            m = harness.scrape(port)
            usage = blocks_for(16 + 500) / 100
            self.assertAlmostEqual(harness.metric(m, "vllm:kv_cache_usage_perc"), usage)
            self.assertAlmostEqual(harness.metric(m, "vllm:gpu_cache_usage_perc"), usage)
        finally:
            s.close()

    def test_pods_share_a_port_on_other_loopback_addresses(self):
        a = self.sim("--host", "127.0.0.2", "--pod-name", "pod-a")
        port = a.port()
        self.assertEqual(a.listening[0], f"127.0.0.2:{port}")
        b = self.sim("--host", "127.0.0.3", "--port", str(port), "--pod-name", "pod-b")
        self.assertEqual(b.listening[0], f"127.0.0.3:{port}")
        for host, pod in (("127.0.0.2", "pod-a"), ("127.0.0.3", "pod-b")):
            status, headers, _ = harness.request(port, "GET", "/health", host=host)
            self.assertEqual((status, headers["x-inference-pod"]), (200, pod))

    def test_sglang_flavor(self):
        p = self.sim("--metrics-flavor", "sglang")
        m = harness.scrape(p.port())
        names = {n for n, _ in m}
        self.assertTrue({"sglang:num_queue_reqs", "sglang:num_running_reqs", "sglang:token_usage"} <= names)
        self.assertFalse(any(n.startswith("vllm:") for n in names))

    def test_sigterm_exits_zero(self):
        p = self.sim()
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=5), 0)


if __name__ == "__main__":
    unittest.main()

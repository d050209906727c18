"""API keys at the front door: keys from a watched directory (a Kubernetes Secret's `..data` swap),
bad credentials, what reaches the model servers, and usage settling the token charge.

Real processes: infergate-sim (fast mode) or a recording upstream, and infergate, on OS-chosen ports.
Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_auth_test.py
"""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MODEL = "Qwen/Qwen3-0.6B"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
REPLY = json.dumps({"id": "x", "object": "chat.completion", "model": MODEL, "choices": [],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}).encode()


class SecretDir:
    """A directory laid out as kubelet mounts a Secret: `..data` -> a timestamped directory,
    and each key file a symlink through `..data`. update() swaps `..data` atomically."""

    def __init__(self, files):
        self.root = tempfile.mkdtemp(prefix="infergate-keys-")
        self.generation = 0
        self.update(files)

    def update(self, files):
        self.generation += 1
        data = os.path.join(self.root, f"..2026_12_07_{self.generation}")
        os.mkdir(data)
        for name, text in files.items():
            with open(os.path.join(data, name), "w") as f:
                f.write(text)
        tmp_link = os.path.join(self.root, "..data_tmp")
        os.symlink(os.path.basename(data), tmp_link)
        os.replace(tmp_link, os.path.join(self.root, "..data"))  # the atomic swap
        for name in files:
            link = os.path.join(self.root, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)
        for name in os.listdir(self.root):  # names gone from the Secret lose their link
            if not name.startswith(".") and name not in files:
                os.unlink(os.path.join(self.root, name))

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


def admin_port(gw):
    return int(gw.admin.rsplit(":", 1)[1])


class GatewayAuthTest(unittest.TestCase):
    def sim(self):
        p = harness.start_sim("--fast", "--model", MODEL)
        self.addCleanup(p.close)
        return p.port()

    def gateway(self, upstream_port, auth, pool_extra=""):
        gw = harness.start_gateway(f"""
workers: 2
pools:
  - name: qwen
    endpoints: [127.0.0.1:{upstream_port}]
{pool_extra}
models:
  - {{name: {MODEL}, pool: qwen}}
{auth}
""")
        self.addCleanup(gw.close)
        return gw

    def post(self, gw, key=None, headers=None, body=None):
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        return harness.request(gw.port(), "POST", "/v1/chat/completions", body or CHAT, headers=h)

    def status(self, gw, key):
        return self.post(gw, key)[0]

    def test_keys_dir_rotation_removal_and_a_garbled_file(self):
        secret = SecretDir({"alice": "sk-alice-1\n", "team.yaml": "keys:\n  - {name: bob, team: b, key: sk-bob-1}\n"})
        self.addCleanup(secret.close)
        gw = self.gateway(self.sim(), f"auth:\n  keys_dir: {secret.root}\n  reload_interval: 200ms\n")
        self.assertEqual(self.status(gw, "sk-alice-1"), 200)
        self.assertEqual(self.status(gw, "sk-bob-1"), 200)
        self.assertEqual(self.status(gw, "sk-carol-1"), 401)
        # Rotation, as kubelet does it: alice's key changes and carol's file appears.
        secret.update({"alice": "sk-alice-2\n", "carol": "sk-carol-1",
                       "team.yaml": "keys:\n  - {name: bob, team: b, key: sk-bob-1}\n"})
        self.assertTrue(harness.wait_until(lambda: self.status(gw, "sk-alice-2") == 200, timeout=2.0))
        self.assertEqual(self.status(gw, "sk-alice-1"), 401)
        self.assertEqual(self.status(gw, "sk-carol-1"), 200)
        # A file that does not parse keeps what it held; the error is counted.
        secret.update({"alice": "sk-alice-2\n", "carol": "sk-carol-1",
                       "team.yaml": "keys: [ {name: bob, key: \n"})
        self.assertTrue(harness.wait_until(lambda: harness.metric(
            harness.scrape(admin_port(gw)), "infergate_auth_reload_errors_total") >= 1, timeout=2.0))
        self.assertEqual(self.status(gw, "sk-bob-1"), 200)
        # Removed: carol's file leaves the Secret.
        secret.update({"alice": "sk-alice-2\n", "team.yaml": "keys:\n  - {name: bob, team: b, key: sk-bob-1}\n"})
        self.assertTrue(harness.wait_until(lambda: self.status(gw, "sk-carol-1") == 401, timeout=2.0))
        self.assertEqual(self.status(gw, "sk-alice-2"), 200)

    def test_bad_credentials_get_401_and_change_nothing(self):
        gw = self.gateway(self.sim(), "auth:\n  keys: [{name: k, key: sk-good-1}]\n")
        cases = {
            "no header": {},
            "another scheme": {"Authorization": "Basic c2stZ29vZC0xOg=="},
            "bearer without a key": {"Authorization": "Bearer"},
            "bearer and spaces": {"Authorization": "Bearer    "},
            "a 10 KB key": {"Authorization": "Bearer " + "k" * 10240},
            "the key with a suffix": {"Authorization": "Bearer sk-good-1x"},
            "the key cut short": {"x-api-key": "sk-good-"},
        }
        for name, headers in cases.items():
            with self.subTest(name):
                status, resp_headers, raw = harness.request(gw.port(), "POST", "/v1/chat/completions",
                                                            CHAT, headers=headers)
                self.assertEqual(status, 401, raw)
                self.assertEqual(json.loads(raw)["error"]["code"], "invalid_api_key")
                self.assertEqual(resp_headers["x-gateway-error-reason"], "invalid_api_key")
        # Control bytes inside the key, on a raw socket (http.client refuses to send them).
        sock = harness.raw_connect(gw.port())
        self.addCleanup(sock.close)
        body = json.dumps(CHAT).encode()
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-good\x01-1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
                     b"\r\n\r\n" + body)
        status, _, _ = harness.HttpReader(sock).read_response()
        self.assertIn(status, (400, 401))
        # The good key, by either header, and the gateway's own paths need none.
        self.assertEqual(self.status(gw, "sk-good-1"), 200)
        self.assertEqual(self.post(gw, headers={"x-api-key": "sk-good-1"})[0], 200)
        self.assertEqual(harness.request(admin_port(gw), "GET", "/healthz")[0], 200)
        self.assertEqual(harness.request(gw.port(), "GET", "/v1/models")[0], 401)

    def test_client_keys_never_reach_the_servers(self):
        port, seen = harness.recording_upstream(self, REPLY)
        gw = self.gateway(port, "auth:\n  keys: [{name: k, key: sk-good-1}]\n")
        self.assertEqual(self.post(gw, "sk-good-1")[0], 200)
        self.assertEqual(self.post(gw, headers={"x-api-key": "sk-good-1"})[0], 200)
        for _, headers, _ in seen:
            self.assertNotIn("authorization", headers)
            self.assertNotIn("x-api-key", headers)

    def test_a_pool_sends_its_own_key_from_a_watched_file(self):
        port, seen = harness.recording_upstream(self, REPLY)
        key_dir = tempfile.mkdtemp(prefix="infergate-pool-key-")
        self.addCleanup(shutil.rmtree, key_dir, True)
        key_file = os.path.join(key_dir, "key")
        with open(key_file, "w") as f:
            f.write("pool-secret-1\n")
        gw = self.gateway(port, "auth:\n  keys: [{name: k, key: sk-good-1}]\n  reload_interval: 200ms\n",
                          pool_extra=f"    upstream_auth: {{mode: replace, key_file: {key_file}}}")
        self.assertEqual(self.post(gw, "sk-good-1")[0], 200)
        self.assertEqual(seen[-1][1]["authorization"], "Bearer pool-secret-1")
        with open(key_file + ".new", "w") as f:
            f.write("pool-secret-2\n")
        os.replace(key_file + ".new", key_file)

        def rotated():
            self.assertEqual(self.post(gw, "sk-good-1")[0], 200)
            return seen[-1][1]["authorization"] == "Bearer pool-secret-2"
        self.assertTrue(harness.wait_until(rotated, timeout=2.0))

    def test_without_auth_the_client_authorization_passes_as_before(self):
        port, seen = harness.recording_upstream(self, REPLY)
        gw = self.gateway(port, "")
        self.assertEqual(self.post(gw, "client-key")[0], 200)
        self.assertEqual(seen[-1][1]["authorization"], "Bearer client-key")

    def test_tokens_are_charged_by_the_usage_not_by_max_tokens(self):
        # 10,000 tokens a minute; each request asks for 4,000 and the server uses 5. Charged by
        # max_tokens alone, the third request would be refused.
        port, _ = harness.recording_upstream(self, REPLY)
        gw = self.gateway(port, "auth:\n  keys: [{name: k, team: t, key: sk-good-1, "
                                "limits: {tokens_per_minute: 10000}}]\n")
        body = {**CHAT, "max_tokens": 4000}
        for i in range(6):
            status, headers, raw = self.post(gw, "sk-good-1", body=body)
            self.assertEqual(status, 200, (i, raw))
            self.assertEqual(headers["x-ratelimit-limit-tokens"], "10000")
        remaining = int(headers["x-ratelimit-remaining-tokens"])
        self.assertGreaterEqual(remaining, 10000 - 4000 - 5 * 6)  # this one's estimate still held
        # One that asks for more than the whole limit is refused at once, with when to retry.
        status, headers, raw = self.post(gw, "sk-good-1", body={**CHAT, "max_tokens": 20000})
        self.assertEqual(status, 429, raw)
        self.assertEqual(json.loads(raw)["error"]["code"], "rate_limit_exceeded")
        self.assertEqual(headers["x-gateway-error-reason"], "rate_limit_tokens")
        self.assertIn("retry-after", headers)
        samples = harness.scrape(admin_port(gw))
        self.assertEqual(harness.metric(samples, "infergate_team_tokens_total", team="t", type="output"), 12)
        self.assertEqual(harness.metric(samples, "inference_model_input_tokens_count", model_name=MODEL), 6)


if __name__ == "__main__":
    unittest.main()

"""The config file watched as Kubernetes updates a mounted ConfigMap: `gateway.yaml` is a symlink
through `..data`, and an update swaps `..data` atomically. A valid update takes effect without a
signal and without cutting an open stream; an invalid one keeps the table, and says where it is
wrong in the log, on /metrics and in /debug/changes.

Run: INFERGATE_BIN=build/src/app/infergate INFERGATE_SIM_BIN=build/src/sim/infergate-sim \
     python3 tests/integration/gateway_config_watch_test.py
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


class ConfigMapDir:
    """A directory laid out as kubelet mounts a ConfigMap; update() swaps `..data`."""

    def __init__(self, text):
        self.root = tempfile.mkdtemp(prefix="infergate-configmap-")
        self.generation = 0
        self.update(text)
        os.symlink(os.path.join("..data", "gateway.yaml"), self.path)

    @property
    def path(self):
        return os.path.join(self.root, "gateway.yaml")

    def update(self, text):
        self.generation += 1
        old = os.path.realpath(os.path.join(self.root, "..data")) if self.generation > 1 else None
        data = os.path.join(self.root, f"..2026_12_07_12_00_0{self.generation}.{os.getpid()}")
        os.mkdir(data)
        with open(os.path.join(data, "gateway.yaml"), "w") as f:
            f.write(text)
        tmp_link = os.path.join(self.root, "..data_tmp")
        os.symlink(os.path.basename(data), tmp_link)
        os.replace(tmp_link, os.path.join(self.root, "..data"))  # the atomic swap
        if old:
            shutil.rmtree(old)  # kubelet removes the previous version

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


def config(sim_port, models):
    lines = "\n".join(f"  - {{name: {m}, pool: qwen}}" for m in models)
    return f"workers: 2\npools:\n  - name: qwen\n    endpoints: [127.0.0.1:{sim_port}]\nmodels:\n{lines}\n"


def model_ids(gw):
    status, _, body = harness.request(gw.port(), "GET", "/v1/models")
    assert status == 200, status
    return sorted(m["id"] for m in json.loads(body)["data"])


class ConfigWatchTest(unittest.TestCase):
    def setUp(self):
        sim = harness.start_sim("--model", MODEL, "--itl-ms", "20")
        self.addCleanup(sim.close)
        self.sim_port = sim.port()
        self.dir = ConfigMapDir(config(self.sim_port, [MODEL]))
        self.addCleanup(self.dir.close)
        self.gw = harness.Process([harness.GATEWAY_BIN, "--config", self.dir.path, "--listen", "127.0.0.1:0",
                                   "--admin", "127.0.0.1:0"], 2)
        self.addCleanup(self.gw.close)
        self.admin = int(self.gw.admin.rsplit(":", 1)[1])

    def changes(self):
        status, _, body = harness.request(self.admin, "GET", "/debug/changes")
        self.assertEqual(status, 200)
        return json.loads(body)["changes"]

    def test_a_configmap_swap_applies_without_cutting_a_stream(self):
        s = harness.raw_connect(self.gw.port())
        body = json.dumps({"model": MODEL, "stream": True, "max_tokens": 40,
                           "messages": [{"role": "user", "content": "hi"}]}).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        reader = harness.HttpReader(s, timeout=15.0)
        self.dir.update(config(self.sim_port, [MODEL, "alias-model"]))
        self.assertTrue(harness.wait_until(lambda: "alias-model" in model_ids(self.gw), timeout=3.0))
        status, _, stream = reader.read_response()  # the whole stream, read after the swap
        s.close()
        self.assertEqual(status, 200)
        self.assertGreaterEqual(stream.count(b"data: "), 40, stream[-300:])  # every token's event
        self.assertTrue(stream.rstrip().endswith(b"data: [DONE]"))
        self.assertTrue(self.changes()[0]["applied"])
        samples = harness.scrape(self.admin)
        self.assertEqual(harness.metric(samples, "infergate_config_reloads_total", result="applied"), 1)
        self.assertEqual(harness.metric(samples, "infergate_config_last_reload_successful"), 1)

    def test_an_invalid_swap_keeps_the_table_and_says_where(self):
        self.dir.update(config(self.sim_port, [MODEL]).replace("pool: qwen", "pool: nowhere"))
        self.assertTrue(harness.wait_until(lambda: harness.metric(
            harness.scrape(self.admin), "infergate_config_reloads_total", result="refused") == 1, timeout=3.0))
        samples = harness.scrape(self.admin)
        self.assertEqual(harness.metric(samples, "infergate_config_last_reload_successful"), 0)
        refused = self.changes()[0]
        self.assertFalse(refused["applied"])
        self.assertIn("gateway.yaml:", refused["detail"])
        self.assertIn("nowhere", refused["detail"])
        self.assertEqual(model_ids(self.gw), [MODEL])
        status, _, _ = harness.request(self.gw.port(), "POST", "/v1/chat/completions",
                                       {"model": MODEL, "max_tokens": 2,
                                        "messages": [{"role": "user", "content": "hi"}]})
        self.assertEqual(status, 200)
        # Fixed again: applied, and the gauge says so.
        self.dir.update(config(self.sim_port, [MODEL, "second"]))
        self.assertTrue(harness.wait_until(lambda: "second" in model_ids(self.gw), timeout=3.0))
        self.assertEqual(harness.metric(harness.scrape(self.admin), "infergate_config_last_reload_successful"), 1)

    def test_a_touch_or_a_neighbour_file_does_not_reload(self):
        with open(os.path.join(self.dir.root, "other.txt"), "w") as f:
            f.write("x")
        os.utime(os.path.realpath(self.dir.path))
        # A later real change is the barrier: once it shows, the earlier events were handled.
        self.dir.update(config(self.sim_port, [MODEL, "third"]))
        self.assertTrue(harness.wait_until(lambda: "third" in model_ids(self.gw), timeout=3.0))
        samples = harness.scrape(self.admin)
        self.assertEqual(harness.metric(samples, "infergate_config_reloads_total", result="applied"), 1)


if __name__ == "__main__":
    unittest.main()

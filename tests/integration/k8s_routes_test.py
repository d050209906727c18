"""Kubernetes mode end to end: infergate watching the stand-in API server (tests/k8s/fake_apiserver.py,
TLS and a bearer token) and routing to infergate-sim servers that play the pods (pod IPs 127.0.0.2,
127.0.0.3, ...: every 127.0.0.0/8 address is local on Linux).

Covered: routes appear, change and disappear within a second of the change; a request reaches the
pod the route names; a 90/10 canary across two pools; an InferenceModel's served-model rewrite; a pool
no route names serves what its server reports at /v1/models; hundreds of random changes with dropped
watches and an expired resourceVersion end with /debug/routes equal to the state the test computes;
a rotated token is picked up; a CRD installed late is detected; a malformed object is skipped and the
last good state stays.
"""
import json
import os
import random
import signal
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "k8s"))
import harness  # noqa: E402
import fake_apiserver  # noqa: E402

CHANGE_DEADLINE = 1.0   # the issue's goal: a change is in the table within a second
RECOVERY_DEADLINE = 10.0  # after faults (backoff, relists)
POOL_API = "inference.networking.k8s.io/v1"
ALPHA_API = "inference.networking.x-k8s.io/v1alpha2"
ROUTE_API = "gateway.networking.k8s.io/v1"


def pool(name, port, app=None, ns="default"):
    return {"apiVersion": POOL_API, "kind": "InferencePool", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": app or name}}, "targetPorts": [{"number": port}],
                     "endpointPickerRef": {"name": "epp"}}}


def pod(name, ip, app, ready=True, ns="default"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def route(name, rules, ns="default", gateway="infergate"):
    """rules: [(model or None, [(pool, weight), ...]), ...]"""
    spec_rules = []
    for model, backends in rules:
        rule = {"backendRefs": [{"group": "inference.networking.k8s.io", "kind": "InferencePool",
                                 "name": p, "weight": w} for p, w in backends]}
        if model is not None:
            rule["matches"] = [{"path": {"type": "PathPrefix", "value": "/"},
                                "headers": [{"type": "Exact", "name": "X-Gateway-Model-Name", "value": model}]}]
        spec_rules.append(rule)
    return {"apiVersion": ROUTE_API, "kind": "HTTPRoute", "metadata": {"name": name, "namespace": ns},
            "spec": {"parentRefs": [{"name": gateway, "namespace": "default"}], "rules": spec_rules}}


def inference_model(name, model, pool_name, targets, criticality="Standard", ns="default"):
    return {"apiVersion": ALPHA_API, "kind": "InferenceModel", "metadata": {"name": name, "namespace": ns},
            "spec": {"modelName": model, "criticality": criticality, "poolRef": {"name": pool_name},
                     "targetModels": [{"name": n, "weight": w} for n, w in targets]}}


def model_entry(name, targets, priority=0):
    return {"name": name, "priority": priority, "source": "cluster",
            "targets": [{"pool": p, "model": m, "weight": w} for p, m, w in sorted(targets)]}


class Cluster:
    """The fake API server, a kubeconfig with a token file, and the gateway watching it."""

    def __init__(self, probe_models=True, before_start=None, file_routes=""):
        self.tmp = tempfile.TemporaryDirectory(prefix="k8s-routes-")
        self.srv = fake_apiserver.FakeApiServer(tokens=("token-1",), bookmark_interval=0.5).start()
        self.token_file = os.path.join(self.tmp.name, "token")
        with open(self.token_file, "w") as f:
            f.write("token-1")
        self.kubeconfig = os.path.join(self.tmp.name, "kubeconfig")
        self.srv.write_kubeconfig(self.kubeconfig, token_file=self.token_file)
        if before_start:
            before_start(self.srv)
        self.file_routes = file_routes
        config = file_routes + (f"kubernetes:\n  kubeconfig: {self.kubeconfig}\n  gateway: {{name: infergate, namespace: default}}\n"
                  f"  probe_models: {'true' if probe_models else 'false'}\n  debounce: 20ms\n"
                  f"  crd_recheck: 300ms\n  resync: 2s\n")
        self.config_path = os.path.join(self.tmp.name, "gateway.yaml")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.config_text = config
        self.gw = harness.Process([harness.GATEWAY_BIN, "--config", self.config_path, "--listen", "127.0.0.1:0",
                                   "--admin", "127.0.0.1:0", "--workers", "1"], 2)
        self.admin = int(self.gw.admin.rsplit(":", 1)[1])

    def close(self):
        self.gw.close()
        self.srv.stop()
        self.tmp.cleanup()

    def routes(self):
        status, _, body = harness.request(self.admin, "GET", "/debug/routes")
        assert status == 200, (status, body)
        return json.loads(body)

    def metrics(self):
        """The gateway's /metrics as {name: value} for the samples without labels."""
        status, _, body = harness.request(self.admin, "GET", "/metrics")
        assert status == 200, (status, body)
        text = body.decode() if isinstance(body, bytes) else body
        return {name: float(value) for name, _, value in
                (line.partition(" ") for line in text.splitlines() if line and not line.startswith("#"))
                if "{" not in name}

    def wait_routes(self, predicate, deadline):
        """Polls /debug/routes until predicate(page) holds; returns (page, seconds taken)."""
        start = time.monotonic()
        page = None
        while time.monotonic() - start < deadline:
            page = self.routes()
            if page["kubernetes"]["synced"] and predicate(page):
                return page, time.monotonic() - start
            time.sleep(0.01)
        raise AssertionError(f"not reached in {deadline}s; last /debug/routes: {json.dumps(page)[:3000]}\n"
                             f"gateway stderr: {self.gw.stderr_text()[-2000:]}")

    def chat(self, model):
        return harness.request(self.gw.port(), "POST", "/v1/chat/completions",
                               {"model": model, "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]})


def start_pods(ips, *sim_args):
    """One infergate-sim per IP, all on the same port (a pool has one target port)."""
    for _ in range(20):
        first = harness.Process([harness.SIM_BIN, "--host", ips[0], "--port", "0", *sim_args], 1)
        port = first.port()
        sims = [first]
        try:
            for ip in ips[1:]:
                sims.append(harness.Process([harness.SIM_BIN, "--host", ip, "--port", str(port), *sim_args], 1))
            return sims, port
        except (RuntimeError, TimeoutError):  # that port was taken on another address: try another
            for s in sims:
                s.close()
    raise RuntimeError("no port free on every pod address")


def models_of(page):
    return {m["name"]: m for m in page["models"]}


class RoutesFollowTheCluster(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sims, cls.port = start_pods(["127.0.0.2", "127.0.0.3"], "--fast", "--model", "base-model",
                                        "--served-model-name", "base-model,chat",
                                        "--lora-modules", "support-lora")
        cls.cluster = Cluster()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()
        for s in cls.sims:
            s.close()

    def setUp(self):
        srv = self.cluster.srv
        for api, kind in ((ROUTE_API, "HTTPRoute"), (ALPHA_API, "InferenceModel"), (POOL_API, "InferencePool"),
                          ("v1", "Pod")):
            for obj in srv.list_objects(api, kind):
                srv.delete(api, kind, obj["metadata"]["name"], obj["metadata"].get("namespace", "default"))
        self.cluster.wait_routes(lambda p: not p["models"] and not p["pools"], RECOVERY_DEADLINE)

    def apply(self, *objs):
        for o in objs:
            self.cluster.srv.apply(o)

    def test_route_appears_changes_and_disappears_within_a_second(self):
        c, port = self.cluster, self.port
        # InferenceModels name both pools: they serve only what routes and InferenceModels say
        # (an unnamed pool would serve "chat" too, since its server reports it).
        self.apply(pool("a", port), pool("b", port), pod("a-1", "127.0.0.2", "a"), pod("b-1", "127.0.0.3", "b"),
                   inference_model("a-base", "a-base", "a", [("base-model", 1)]),
                   inference_model("b-base", "b-base", "b", [("base-model", 1)]))
        c.wait_routes(lambda p: len(p["pools"]) == 2 and "b-base" in models_of(p), RECOVERY_DEADLINE)

        self.apply(route("r", [("chat", [("a", 1)])]))
        page, took = c.wait_routes(lambda p: "chat" in models_of(p), CHANGE_DEADLINE)
        self.assertEqual(models_of(page)["chat"], model_entry("chat", [("default/a", "chat", 1)]))
        status, headers, _ = c.chat("chat")
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-gateway-destination-endpoint-served"], f"127.0.0.2:{port}")

        self.apply(route("r", [("chat", [("b", 1)])]))
        c.wait_routes(lambda p: models_of(p).get("chat", {}).get("targets", [{}])[0].get("pool") == "default/b",
                      CHANGE_DEADLINE)
        status, headers, _ = c.chat("chat")
        self.assertEqual(headers["x-gateway-destination-endpoint-served"], f"127.0.0.3:{port}")

        c.srv.delete(ROUTE_API, "HTTPRoute", "r")
        c.wait_routes(lambda p: "chat" not in models_of(p), CHANGE_DEADLINE)
        status, _, _ = c.chat("chat")
        self.assertEqual(status, 404)

        # A pod that stops being ready leaves its pool.
        self.apply(pod("a-1", "127.0.0.2", "a", ready=False))
        c.wait_routes(lambda p: any(x["name"] == "default/a" and not x["endpoints"] for x in p["pools"]),
                      CHANGE_DEADLINE)

    def route_conditions(self, name):
        """{type: (status, reason)} of this gateway's entry in the route's status, or None."""
        obj = self.cluster.srv.get(ROUTE_API, "HTTPRoute", name)
        for parent in (obj or {}).get("status", {}).get("parents", []):
            if parent.get("controllerName") == "infergate.dev/gateway":
                return {c["type"]: (c["status"], c["reason"]) for c in parent["conditions"]}
        return None

    def pool_conditions(self, name):
        """{type: (status, reason)} of this Gateway's entry in the InferencePool's status, or None."""
        obj = self.cluster.srv.get(POOL_API, "InferencePool", name)
        for parent in (obj or {}).get("status", {}).get("parents", []):
            if parent.get("parentRef", {}).get("name") == "infergate":
                return {c["type"]: (c["status"], c["reason"]) for c in parent["conditions"]}
        return None

    def test_route_status_tells_whether_it_took(self):
        c, port = self.cluster, self.port
        self.apply(pool("a", port), route("good", [("chat", [("a", 1)])]), route("bad", [("x", [("gone", 1)])]))
        deadline = time.monotonic() + RECOVERY_DEADLINE
        while time.monotonic() < deadline:
            good, bad, a = self.route_conditions("good"), self.route_conditions("bad"), self.pool_conditions("a")
            if good and bad and a:
                break
            time.sleep(0.02)
        self.assertEqual(good, {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")})
        self.assertEqual(bad, {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "BackendNotFound")})
        self.assertEqual(a, {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")})
        writes = c.srv.state()["counts"]["status_writes"]
        c.wait_routes(lambda p: "chat" in models_of(p), RECOVERY_DEADLINE)
        time.sleep(0.3)  # our own writes came back as changes: they must not be written again
        self.assertEqual(c.srv.state()["counts"]["status_writes"], writes)

    def test_canary_90_10_across_two_pools(self):
        c, port = self.cluster, self.port
        self.apply(pool("stable", port, app="s"), pool("canary", port, app="c"),
                   pod("s-1", "127.0.0.2", "s"), pod("c-1", "127.0.0.3", "c"),
                   route("canary", [("base-model", [("stable", 90), ("canary", 10)])]))
        page, _ = c.wait_routes(lambda p: "base-model" in models_of(p), RECOVERY_DEADLINE)
        self.assertEqual(models_of(page)["base-model"],
                         model_entry("base-model", [("default/canary", "base-model", 10),
                                                    ("default/stable", "base-model", 90)]))
        served = {f"127.0.0.2:{port}": 0, f"127.0.0.3:{port}": 0}
        for _ in range(200):
            status, headers, _ = c.chat("base-model")
            self.assertEqual(status, 200)
            served[headers["x-gateway-destination-endpoint-served"]] += 1
        # Binomial(200, 0.1): outside [5, 40] has a probability below 1e-4.
        self.assertTrue(5 <= served[f"127.0.0.3:{port}"] <= 40, served)

    def test_inference_model_rewrites_the_served_model(self):
        c, port = self.cluster, self.port
        self.apply(pool("a", port), pod("a-1", "127.0.0.2", "a"),
                   inference_model("bot", "support-bot", "a", [("support-lora", 100)], "Critical"))
        page, _ = c.wait_routes(lambda p: "support-bot" in models_of(p), RECOVERY_DEADLINE)
        self.assertEqual(models_of(page)["support-bot"],
                         model_entry("support-bot", [("default/a", "support-lora", 100)], priority=1))
        status, _, body = c.chat("support-bot")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["model"], "support-lora")

    def test_unnamed_pool_serves_what_its_server_reports(self):
        c, port = self.cluster, self.port
        self.apply(pool("plain", port), pod("plain-1", "127.0.0.3", "plain"))
        page, _ = c.wait_routes(lambda p: {"base-model", "support-lora"} <= set(models_of(p)), RECOVERY_DEADLINE)
        self.assertEqual(models_of(page)["support-lora"], model_entry("support-lora", [("default/plain", "support-lora", 1)]))
        status, headers, _ = c.chat("support-lora")
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-gateway-destination-endpoint-served"], f"127.0.0.3:{port}")

    def test_malformed_object_is_skipped_and_the_last_good_state_stays(self):
        c, port = self.cluster, self.port
        self.apply(pool("a", port), pod("a-1", "127.0.0.2", "a"), route("r", [("chat", [("a", 1)])]))
        c.wait_routes(lambda p: models_of(p).get("chat") == model_entry("chat", [("default/a", "chat", 1)]),
                      RECOVERY_DEADLINE)
        broken = pool("a", port)
        broken["spec"]["targetPorts"] = [{"number": 0}]
        bad_new = pool("new", port)
        del bad_new["spec"]["selector"]
        zero = route("zero", [("other", [("a", 0)])])
        self.apply(broken, bad_new, zero)
        page, _ = c.wait_routes(lambda p: len(p["problems"]) >= 3, CHANGE_DEADLINE + 1)
        problems = {(x["object"], x["reason"]) for x in page["problems"]}
        self.assertIn(("InferencePool default/a",
                       "bad target port 0 (must be a number from 1 to 65535); its last good version stays in use"),
                      problems)
        self.assertIn(("InferencePool default/new", "no selector"), problems)
        self.assertIn(("HTTPRoute default/zero", "rules[0]: no backend with a weight above 0"), problems)
        self.assertEqual(models_of(page)["chat"], model_entry("chat", [("default/a", "chat", 1)]))
        self.assertEqual([x["endpoints"] for x in page["pools"] if x["name"] == "default/a"],
                         [[f"127.0.0.2:{port}"]])
        self.assertEqual(c.chat("chat")[0], 200)
        m = c.metrics()  # the same on /metrics, for alerts
        self.assertEqual(m["infergate_k8s_skipped_objects"], len({x["object"] for x in page["problems"]}))
        self.assertEqual(m["infergate_k8s_synced"], 1)
        self.assertGreater(m["infergate_k8s_watch_events_total"], 0)
        self.assertGreater(m["infergate_k8s_table_build_seconds_total"], 0)


class Churn(unittest.TestCase):
    """Hundreds of random changes, dropped watches and a compacted history; the end state must be
    exactly what the test computes from the objects it left."""

    def test_random_changes_end_equal(self):
        rng = random.Random(5)
        cluster = Cluster(probe_models=False)
        try:
            srv = cluster.srv
            cluster.wait_routes(lambda p: True, RECOVERY_DEADLINE)
            def expected_state():
                expected_pools = []
                for name in sorted(pools):
                    eps = sorted({f"{ip}:{pools[name]}" for ip, app, ready in pods.values() if ready and app == name})
                    expected_pools.append({"name": f"default/{name}", "source": "cluster", "endpoints": eps})
                expected_models = {}
                for rules in routes.values():
                    for model, backends in rules:
                        weights = {}
                        for p, w in backends:  # a pool named twice in one rule: two targets
                            if p in pools and w > 0:
                                weights.setdefault(p, []).append(w)
                        targets = [(f"default/{p}", model, w) for p, ws in weights.items() for w in ws]
                        if targets:
                            expected_models[model] = model_entry(model, targets)
                expected = (sorted(expected_models.values(), key=lambda m: m["name"]), expected_pools)
                return expected

            pools, pods, routes = {}, {}, {}
            for step in range(300):
                what = rng.random()
                if what < 0.25:
                    name = f"p{rng.randrange(4)}"
                    if name in pools and rng.random() < 0.3:
                        srv.delete(POOL_API, "InferencePool", name)
                        del pools[name]
                    else:
                        pools[name] = 8000 + rng.randrange(3)
                        srv.apply(pool(name, pools[name]))
                elif what < 0.65:
                    name = f"pod{rng.randrange(10)}"
                    if name in pods and rng.random() < 0.3:
                        srv.delete("v1", "Pod", name)
                        del pods[name]
                    else:
                        pods[name] = (f"10.0.{rng.randrange(2)}.{rng.randrange(1, 6)}", f"p{rng.randrange(4)}",
                                      rng.random() < 0.8)
                        srv.apply(pod(name, *pods[name]))
                else:
                    i = rng.randrange(4)
                    name = f"r{i}"
                    if name in routes and rng.random() < 0.3:
                        srv.delete(ROUTE_API, "HTTPRoute", name)
                        del routes[name]
                    else:  # each route owns two model names: no two routes compete for one
                        rules = [(f"m{2 * i + k}", [(f"p{rng.randrange(4)}", rng.randrange(0, 4) * 10)
                                                   for _ in range(rng.randrange(1, 3))]) for k in range(2)]
                        routes[name] = rules
                        srv.apply(route(name, rules))
                if step % 60 == 30:
                    srv.drop_watches(rng.choice(["abrupt", "clean", "reset", "partial"]))
                if step % 100 == 49:  # an intermediate state too (changes arrive as watch events)
                    want = expected_state()
                    cluster.wait_routes(lambda p: (p["models"], p["pools"]) == want, RECOVERY_DEADLINE)
                if step == 150:
                    srv.compact(keep=0)  # resuming from an older resourceVersion now gets 410
                    srv.drop_watches("abrupt")

            expected = expected_state()
            page, _ = cluster.wait_routes(lambda p: (p["models"], p["pools"]) == expected, RECOVERY_DEADLINE)
            counts = srv.state()["counts"]
            print(f"churn: {counts}", file=sys.stderr)
            self.assertGreater(counts["events"], 0)                 # changes came as watch events
            self.assertGreaterEqual(counts["watches_dropped"], 5)  # the faults really happened
            # ...and a resume met 410 (an HTTP status or an ERROR event), so the watcher relisted
            self.assertGreaterEqual(counts["gone"] + counts["expired_events"], 1)
            m = cluster.metrics()  # and the gateway's /metrics tells the same story
            self.assertGreaterEqual(m["infergate_k8s_watch_gone_total"], 1)
            self.assertGreaterEqual(m["infergate_k8s_relists_total"], 1)
            self.assertGreater(m["infergate_k8s_watch_requests_total"], counts["watches_dropped"])
            self.assertEqual(m["infergate_k8s_skipped_objects"], 0)
        finally:
            cluster.close()


class FileAndCluster(unittest.TestCase):
    def test_the_file_wins_and_sighup_keeps_the_cluster_part(self):
        file_routes = ("pools:\n  - {name: static, endpoints: [127.0.0.1:9]}\n"
                       "models:\n  - {name: shared, pool: static}\n")
        cluster = Cluster(probe_models=False, file_routes=file_routes)
        try:
            srv = cluster.srv
            srv.apply(pool("a", 8000))
            srv.apply(route("r", [("shared", [("a", 1)]), ("mine", [("a", 1)])]))
            page, _ = cluster.wait_routes(lambda p: "mine" in models_of(p), RECOVERY_DEADLINE)
            self.assertEqual(models_of(page)["shared"]["source"], "file")
            self.assertEqual(models_of(page)["shared"]["targets"],
                             [{"pool": "static", "model": "shared", "weight": 1}])
            self.assertIn({"object": "model shared", "reason": "the config file routes this model; the file wins"},
                          page["problems"])
            # SIGHUP: the file now routes "extra" too; the cluster's "mine" stays.
            with open(cluster.config_path, "w") as f:
                f.write(cluster.config_text.replace("models:\n", "models:\n  - {name: extra, pool: static}\n"))
            cluster.gw.signal(signal.SIGHUP)
            page, _ = cluster.wait_routes(lambda p: "extra" in models_of(p), RECOVERY_DEADLINE)
            self.assertEqual(models_of(page)["mine"], model_entry("mine", [("default/a", "mine", 1)]))
            self.assertEqual(models_of(page)["extra"]["source"], "file")
        finally:
            cluster.close()


class Readiness(unittest.TestCase):
    def test_not_ready_until_the_cluster_routes_are_in(self):
        def lists_fail(srv):  # the first InferencePool lists fail: no table for a while
            srv.fail_next(2, status=500, path_contains="inferencepools")
        cluster = Cluster(probe_models=False, before_start=lists_fail)
        try:
            cluster.srv.apply(pool("a", 8000))
            status, _, body = harness.request(cluster.admin, "GET", "/readyz")
            self.assertEqual((status, body), (503, b"waiting: the cluster's routes\n"))
            self.assertEqual(harness.request(cluster.admin, "GET", "/healthz")[0], 200)  # alive, not ready
            ready = lambda: harness.request(cluster.admin, "GET", "/readyz")[0] == 200  # noqa: E731
            # Ready only once the table holds the cluster's pool.
            self.assertTrue(harness.wait_until(ready, RECOVERY_DEADLINE))
            self.assertEqual([p["name"] for p in cluster.routes()["pools"]], ["default/a"])
            self.assertGreaterEqual(cluster.metrics()["infergate_k8s_errors_total"], 2)
            # A watch that breaks later does not take the replica out of service.
            cluster.srv.fail_next(3, status=500)
            cluster.srv.drop_watches("abrupt")
            self.assertEqual(harness.request(cluster.admin, "GET", "/readyz")[0], 200)
            cluster.srv.apply(pool("b", 8000))
            cluster.wait_routes(lambda p: len(p["pools"]) == 2, RECOVERY_DEADLINE)
            self.assertEqual(harness.request(cluster.admin, "GET", "/readyz")[0], 200)
        finally:
            cluster.close()


class Credentials(unittest.TestCase):
    def test_rotated_token_is_picked_up(self):
        cluster = Cluster(probe_models=False)
        try:
            srv = cluster.srv
            srv.apply(pool("a", 8000))
            cluster.wait_routes(lambda p: len(p["pools"]) == 1, RECOVERY_DEADLINE)
            with open(cluster.token_file + ".new", "w") as f:
                f.write("token-2")
            os.replace(cluster.token_file + ".new", cluster.token_file)
            srv.set_tokens(["token-2"])
            srv.drop_watches("abrupt")  # the next requests must carry the new token
            srv.apply(pool("b", 8000))
            cluster.wait_routes(lambda p: len(p["pools"]) == 2, RECOVERY_DEADLINE)
            self.assertGreater(srv.state()["counts"]["token_auth"], 0)
        finally:
            cluster.close()

    def test_crd_installed_late_is_detected(self):
        def without_models_crd(srv):
            srv.set_crd("inference.networking.x-k8s.io", "v1alpha2", "inferencemodels", installed=False)
        cluster = Cluster(probe_models=False, before_start=without_models_crd)
        try:
            srv = cluster.srv
            srv.apply(pool("a", 8000))
            srv.apply(inference_model("bot", "bot", "a", [("lora", 1)]))
            page, _ = cluster.wait_routes(lambda p: len(p["pools"]) == 1, RECOVERY_DEADLINE)
            self.assertEqual(page["kubernetes"]["sources"]["inferencemodels.inference.networking.x-k8s.io/v1alpha2"],
                             "absent")
            self.assertNotIn("bot", models_of(page))
            srv.set_crd("inference.networking.x-k8s.io", "v1alpha2", "inferencemodels", installed=True)
            page, _ = cluster.wait_routes(lambda p: "bot" in models_of(p), RECOVERY_DEADLINE)
            self.assertEqual(models_of(page)["bot"], model_entry("bot", [("default/a", "lora", 1)]))
        finally:
            cluster.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)

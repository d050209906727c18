"""The shipped packaging holds together: `kubectl kustomize packaging/kubernetes` and the Helm chart
(helm, or tests/k8s/helm_lite.py where helm is missing) render, and the objects say what issue 5 asks (2 replicas, probes on the admin port, resources, a restrictive
securityContext, a LoadBalancer on port 80 reaching the pods' http port, a PodDisruptionBudget,
RBAC with exactly get/list/watch on what infergate reads, the config as a ConfigMap that
`infergate --check-config` accepts). The Dockerfile's runtime stage installs a package for every
shared library the binary links (checked with ldd and dpkg on this Debian machine).

Skipped (exit 77) without kubectl or PyYAML; the ldd check needs INFERGATE_BIN and dpkg."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = os.path.join(ROOT, "packaging", "kubernetes")
INFERGATE_BIN = os.environ.get("INFERGATE_BIN")

try:
    import yaml
except ImportError:
    yaml = None
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import helm_lite

READ_VERBS = ["get", "list", "watch"]
EXPECTED_RULES = {
    ("", "pods"): READ_VERBS,
    ("inference.networking.k8s.io", "inferencepools"): READ_VERBS,
    ("inference.networking.x-k8s.io", "inferencepools"): READ_VERBS,
    ("inference.networking.x-k8s.io", "inferencemodels"): READ_VERBS,
    ("inference.networking.x-k8s.io", "inferenceobjectives"): READ_VERBS,
    ("gateway.networking.k8s.io", "httproutes"): READ_VERBS,
    ("gateway.networking.k8s.io", "referencegrants"): READ_VERBS,
}


def render(path):
    out = subprocess.run(["kubectl", "kustomize", path], check=True, capture_output=True, text=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def rules_of(role):
    out = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out[(group, resource)] = sorted(rule["verbs"])
    return out


class ManifestTest(unittest.TestCase):
    @classmethod
    def render_docs(cls):
        return render(BASE)

    @classmethod
    def setUpClass(cls):
        cls.docs = cls.render_docs()
        cls.deploy = one(cls.docs, "Deployment")
        cls.pod = cls.deploy["spec"]["template"]
        cls.container = one([dict(c, kind="c", metadata={"name": c["name"]})
                             for c in cls.pod["spec"]["containers"]], "c", "infergate")

    def port(self, name):
        return {p["name"]: p["containerPort"] for p in self.container["ports"]}[name]

    def test_every_kind_is_there(self):
        kinds = sorted(d["kind"] for d in self.docs if d["kind"] != "Namespace")
        self.assertEqual(kinds, sorted(["ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                        "ConfigMap", "Deployment", "Service",
                                        "PodDisruptionBudget"]))
        if not any(d["kind"] == "Namespace" for d in self.docs):
            return  # Helm: the release namespace is applied at install time
        namespace = one(self.docs, "Namespace")["metadata"]["name"]
        for d in self.docs:
            if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
                self.assertEqual(d["metadata"]["namespace"], namespace, d["kind"])

    def test_deployment_replicas_and_probes(self):
        self.assertEqual(self.deploy["spec"]["replicas"], 2)
        self.assertEqual(self.port("http"), 8080)
        self.assertEqual(self.port("admin"), 9090)
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = self.container[probe]["httpGet"]
            self.assertEqual(get["path"], path)
            self.assertIn(get["port"], ("admin", 9090))
        res = self.container["resources"]
        self.assertTrue(res["requests"]["cpu"] and res["requests"]["memory"])
        self.assertTrue(res["limits"]["memory"])
        self.assertTrue(self.pod["spec"].get("topologySpreadConstraints")
                        or self.pod["spec"].get("affinity", {}).get("podAntiAffinity"))
        self.assertGreater(self.pod["spec"]["terminationGracePeriodSeconds"], 30)  # > drain

    def test_security_context_is_restrictive(self):
        pod_sc = self.pod["spec"]["securityContext"]
        sc = self.container["securityContext"]
        self.assertTrue(pod_sc["runAsNonRoot"])
        self.assertNotEqual(pod_sc.get("runAsUser", 0), 0)
        self.assertEqual(pod_sc["seccompProfile"]["type"], "RuntimeDefault")
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("add", sc["capabilities"])
        self.assertFalse(sc.get("privileged", False))
        self.assertFalse(self.pod["spec"].get("hostNetwork", False))

    def test_config_map_is_mounted_and_valid(self):
        cm = one(self.docs, "ConfigMap")
        volumes = {v["name"]: v for v in self.pod["spec"]["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in self.container["volumeMounts"]}
        args = self.container["args"]
        config_path = args[args.index("--config") + 1]
        volume = volumes[mounts[os.path.dirname(config_path)]]
        self.assertEqual(volume["configMap"]["name"], cm["metadata"]["name"])
        self.assertIn(os.path.basename(config_path), cm["data"])
        if not INFERGATE_BIN:
            self.skipTest("INFERGATE_BIN not set")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(ROOT, "packaging", "gateway.yaml")) as f:
                image_config = f.read()
            for name, text in (("configmap.yaml", cm["data"]["gateway.yaml"]),
                               ("image.yaml", image_config)):
                path = os.path.join(d, name)
                with open(path, "w") as f:
                    f.write(text)
                r = subprocess.run([INFERGATE_BIN, "--check-config", path], capture_output=True,
                                   text=True, timeout=20)
                self.assertEqual(r.returncode, 0, name + ": " + r.stdout + r.stderr)

    def test_service_and_disruption_budget_select_the_pods(self):
        labels = self.pod["metadata"]["labels"]
        svc = one(self.docs, "Service")
        self.assertEqual(svc["spec"]["type"], "LoadBalancer")
        (port,) = svc["spec"]["ports"]
        self.assertEqual(port["port"], 80)
        self.assertEqual(self.port(port["targetPort"]) if isinstance(port["targetPort"], str)
                         else port["targetPort"], 8080)
        pdb = one(self.docs, "PodDisruptionBudget")
        self.assertEqual(pdb["spec"]["minAvailable"], 1)
        for selector in (svc["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"],
                         self.deploy["spec"]["selector"]["matchLabels"]):
            self.assertLessEqual(selector.items(), labels.items())

    def test_rbac_reads_exactly_what_infergate_watches(self):
        role = one(self.docs, "ClusterRole")
        self.assertEqual(rules_of(role), EXPECTED_RULES)
        binding = one(self.docs, "ClusterRoleBinding")
        sa = one(self.docs, "ServiceAccount")
        self.assertEqual(binding["roleRef"]["name"], role["metadata"]["name"])
        self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount",
                                                "name": sa["metadata"]["name"],
                                                "namespace": sa["metadata"].get("namespace",
                                                                                RELEASE_NS)}])
        self.assertEqual(self.pod["spec"]["serviceAccountName"], sa["metadata"]["name"])

    def test_status_writer_component_adds_only_status_writes(self):
        with tempfile.TemporaryDirectory() as d:
            base = os.path.relpath(BASE, d)  # kustomize refuses absolute roots
            with open(os.path.join(d, "kustomization.yaml"), "w") as f:
                f.write(f"resources: [{base}]\ncomponents: [{base}/components/status-writer]\n")
            docs = render(d)
        writer = one(docs, "ClusterRole", "infergate-status-writer")
        rules = rules_of(writer)
        self.assertTrue(rules)
        for (group, resource), verbs in rules.items():
            self.assertTrue(resource.endswith("/status"), resource)
            self.assertEqual(verbs, ["patch", "update"])
        binding = one(docs, "ClusterRoleBinding", "infergate-status-writer")
        self.assertEqual(binding["subjects"][0]["namespace"],
                         one(docs, "ServiceAccount")["metadata"]["namespace"])


class KustomizeOverlayTest(unittest.TestCase):
    def test_namespace_overlay_moves_the_role_binding_subject(self):
        with tempfile.TemporaryDirectory() as d:
            base = os.path.relpath(BASE, d)
            with open(os.path.join(d, "kustomization.yaml"), "w") as f:
                f.write(f"resources: [{base}]\ncomponents: [{base}/components/status-writer]\n"
                        "namespace: gateways\n")
            docs = render(d)
        self.assertEqual(one(docs, "ServiceAccount")["metadata"]["namespace"], "gateways")
        for binding in (d for d in docs if d["kind"] == "ClusterRoleBinding"):
            self.assertEqual(binding["subjects"][0]["namespace"], "gateways")


RELEASE_NS = "infergate-system"


CHART = os.path.join(ROOT, "packaging", "helm", "infergate")


def helm_template(**values):
    """`helm template` where helm exists, else tests/k8s/helm_lite.py (the chart's subset of Go
    templates); values as {"rbac.statusWriter": True}."""
    if not shutil.which("helm"):
        return helm_lite.Renderer(CHART, values, namespace=RELEASE_NS).documents()
    args = ["helm", "template", "infergate", CHART, "--namespace", RELEASE_NS]
    for k, v in values.items():
        args += ["--set-json", f"{k}={json.dumps(v)}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


class HelmChartTest(ManifestTest):
    """The Helm chart renders the same objects as the kustomize base."""

    @classmethod
    def render_docs(cls):
        return helm_template()

    def test_status_writer_component_adds_only_status_writes(self):
        rules = rules_of(one(helm_template(**{"rbac.statusWriter": True}), "ClusterRole"))
        extra = {k: v for k, v in rules.items() if k not in EXPECTED_RULES}
        self.assertTrue(extra)
        for (group, resource), verbs in extra.items():
            self.assertTrue(resource.endswith("/status"), resource)
            self.assertEqual(verbs, ["patch", "update"])

    def test_values_reach_the_objects(self):
        docs = helm_template(**{"replicaCount": 3, "image.repository": "r.example/infergate",
                                "image.tag": "1.2.3", "service.type": "ClusterIP",
                                "kubernetes.namespaces": ["models", "team-b"],
                                "gateway.name": "edge",
                                "config.extra": "models:\n  - {name: m, pool: p}\n"
                                                "pools:\n  - {name: p, endpoints: [10.0.0.1:8000]}"})
        deploy = one(docs, "Deployment")
        self.assertEqual(deploy["spec"]["replicas"], 3)
        self.assertEqual(deploy["spec"]["template"]["spec"]["containers"][0]["image"],
                         "r.example/infergate:1.2.3")
        self.assertEqual(one(docs, "Service")["spec"]["type"], "ClusterIP")
        config = yaml.safe_load(one(docs, "ConfigMap")["data"]["gateway.yaml"])
        self.assertEqual(config["kubernetes"]["namespaces"], ["models", "team-b"])
        self.assertEqual(config["kubernetes"]["gateway"], {"name": "edge", "namespace": RELEASE_NS})
        self.assertEqual(config["models"], [{"name": "m", "pool": "p"}])
        self.assertNotIn(one(docs, "PodDisruptionBudget")["spec"]["minAvailable"], (0, None))
        self.assertNotIn("auth", config)  # no keys Secret: no auth block
        self.assertNotIn("limits", config)

    def test_keys_secret_and_redis_reach_the_config_and_the_pod(self):
        docs = helm_template(**{"auth.keysSecret": "team-keys",
                                "limits.store": "redis://redis.infra:6379"})
        config = yaml.safe_load(one(docs, "ConfigMap")["data"]["gateway.yaml"])
        self.assertEqual(config["auth"], {"keys_dir": "/etc/infergate-keys"})
        self.assertEqual(config["limits"], {"store": "redis://redis.infra:6379",
                                            "on_store_error": "allow"})
        pod = one(docs, "Deployment")["spec"]["template"]["spec"]
        self.assertIn({"name": "keys", "secret": {"secretName": "team-keys"}}, pod["volumes"])
        mounts = pod["containers"][0]["volumeMounts"]
        self.assertIn({"name": "keys", "mountPath": "/etc/infergate-keys", "readOnly": True}, mounts)


class HelmTemplateSyntaxTest(unittest.TestCase):
    """Without helm: every template's actions are closed and its blocks balanced."""

    def test_blocks_balance(self):
        tdir = os.path.join(ROOT, "packaging", "helm", "infergate", "templates")
        for name in sorted(os.listdir(tdir)):
            with open(os.path.join(tdir, name)) as f:
                text = f.read()
            self.assertEqual(text.count("{{"), text.count("}}"), name)
            depth = 0
            for action in re.findall(r"{{-?\s*(.*?)\s*-?}}", text, re.S):
                word = action.split(" ", 1)[0]
                if word in ("if", "with", "range", "define"):
                    depth += 1
                elif word == "end":
                    depth -= 1
                    self.assertGreaterEqual(depth, 0, name)
            self.assertEqual(depth, 0, name)

    def test_values_referenced_exist(self):
        with open(os.path.join(ROOT, "packaging", "helm", "infergate", "values.yaml")) as f:
            values = yaml.safe_load(f)
        tdir = os.path.join(ROOT, "packaging", "helm", "infergate", "templates")
        for name in sorted(os.listdir(tdir)):
            with open(os.path.join(tdir, name)) as f:
                for ref in re.findall(r"\.Values\.([A-Za-z0-9_.]+)", f.read()):
                    node = values
                    for part in ref.split("."):
                        self.assertIn(part, node, f"{name}: .Values.{ref}")
                        node = node[part]


class KindExampleTest(unittest.TestCase):
    """packaging/examples/kind: the routes, pools and model servers refer to each other correctly."""

    @classmethod
    def setUpClass(cls):
        cls.docs = render(os.path.join(ROOT, "packaging", "examples", "kind"))

    def of_kind(self, kind):
        return [d for d in self.docs if d["kind"] == kind]

    def test_pools_select_model_server_pods(self):
        deployments = self.of_kind("Deployment")
        pools = self.of_kind("InferencePool")
        self.assertEqual(len(pools), 3)
        for pool in pools:
            ns = pool["metadata"]["namespace"]
            want = pool["spec"]["selector"]["matchLabels"]
            matching = [d for d in deployments if d["metadata"]["namespace"] == ns and want.items()
                        <= d["spec"]["template"]["metadata"]["labels"].items()]
            self.assertEqual(len(matching), 1, pool["metadata"]["name"])
            ports = {p["containerPort"] for c in matching[0]["spec"]["template"]["spec"]["containers"]
                     for p in c["ports"]}
            self.assertLessEqual({p["number"] for p in pool["spec"]["targetPorts"]}, ports)

    def test_route_attaches_to_this_gateway_with_a_90_10_canary(self):
        cm = one(self.docs, "ConfigMap")
        gateway = yaml.safe_load(cm["data"]["gateway.yaml"])["kubernetes"]["gateway"]
        (route,) = self.of_kind("HTTPRoute")
        (parent,) = route["spec"]["parentRefs"]
        self.assertEqual((parent["name"], parent["namespace"]),
                         (gateway["name"], gateway["namespace"]))
        pools = {(p["metadata"]["namespace"], p["metadata"]["name"])
                 for p in self.of_kind("InferencePool")}
        weights = []
        for rule in route["spec"]["rules"]:
            for ref in rule["backendRefs"]:
                self.assertEqual(ref["kind"], "InferencePool")
                self.assertIn((route["metadata"]["namespace"], ref["name"]), pools)
            weights.append(sorted(r.get("weight", 1) for r in rule["backendRefs"]))
        self.assertIn([10, 90], weights)


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "packaging", "Dockerfile")) as f:
            text = f.read()
        stages = re.split(r"(?m)^FROM ", text)[1:]
        cls.build, cls.gateway = stages[0], stages[-1]  # the last stage is the default target
        named = {s.split()[2]: s for s in stages if " AS " in s.split("\n", 1)[0]}
        # The stage that installs the runtime libraries (the gateway's own or its parent).
        parent = cls.gateway.split()[0]
        cls.runtime = named.get(parent, cls.gateway)
        cls.stage_count = len(stages)

    def test_multi_stage_debian_12_non_root(self):
        self.assertGreaterEqual(self.stage_count, 2)
        self.assertTrue(self.build.startswith("debian:12"))
        self.assertTrue(self.runtime.startswith("debian:12"))
        user = re.search(r"(?m)^USER (\S+)", self.gateway).group(1)
        self.assertTrue(user.split(":")[0].isdigit() and user.split(":")[0] != "0", user)
        self.assertNotIn("-dev", re.sub(r"(?m)^#.*$", "", self.runtime))
        self.assertIn("EXPOSE 8080", self.gateway)
        self.assertIn("/etc/infergate/gateway.yaml", self.gateway)

    def test_runtime_stage_has_every_linked_library(self):
        if not INFERGATE_BIN or not shutil.which("dpkg") or not shutil.which("ldd"):
            self.skipTest("needs INFERGATE_BIN, ldd and dpkg")
        ldd = subprocess.run(["ldd", INFERGATE_BIN], capture_output=True, text=True, check=True)
        paths = re.findall(r"=> (/\S+)", ldd.stdout)
        base = {"libc6", "libstdc++6", "libgcc-s1"}  # in debian:12-slim
        installed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", self.runtime.split("install", 1)[1]
                                   .split("&&", 1)[0]))
        for path in paths:
            real = os.path.realpath(path)
            owner = ""
            for candidate in (path, real, real.replace("/usr/lib", "/lib", 1)):
                r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
                if r.returncode == 0:
                    owner = r.stdout.split(":", 1)[0]
                    break
            self.assertTrue(owner, f"no package owns {path}")
            self.assertIn(owner, base | installed, f"{path} comes from {owner}, not installed in "
                                                   "the runtime stage")


if __name__ == "__main__":
    if yaml is None or not shutil.which("kubectl"):
        print("skipped: needs kubectl and PyYAML")
        sys.exit(77)
    unittest.main()

"""The Kubernetes client (src/k8s) against the stand-in API server (tests/k8s/fake_apiserver.py),
through k8s-watch-dump, which runs a ClusterWatcher and prints each resource's whole object set as
one JSON line on every change. Real sockets, TLS with a CA made by the `openssl` command.

Covered: paged lists, changes seen within a second, bookmarks used as the resume point, both forms
of 410 (relist), every kind of dropped watch (resume without relist), random byte splits, a rotated
service-account token, a CRD installed late (and removed), 403 logged with the missing permission,
client certificates, plain http, a wrong CA refused, and a churn of random changes that ends equal.
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "k8s"))
import fake_apiserver  # noqa: E402
import kube_files  # noqa: E402
sys.path.insert(0, HERE)
import harness  # noqa: E402

DUMP_BIN = os.environ.get("INFERGATE_K8S_WATCH_DUMP_BIN", "build/src/k8s/k8s-watch-dump")
FAST = ["--backoff-ms", "50", "--backoff-max-ms", "400", "--absent-recheck-ms", "200",
        "--idle-ms", "10000", "--request-timeout-ms", "5000"]
PODS = "v1/pods"
POOLS = "inference.networking.k8s.io/v1/inferencepools"
POOL_V1 = "inference.networking.k8s.io/v1"


def pod(name, ip="10.0.0.1", ns="default", labels=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "m"}},
            "status": {"podIP": ip}}


def pool(name, port=8000, ns="default"):
    return {"apiVersion": POOL_V1, "kind": "InferencePool",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}}, "targetPorts": [{"number": port}]}}


def versions(objects):
    """key -> resourceVersion of a dump line's objects."""
    return {k: o["metadata"]["resourceVersion"] for k, o in objects.items()}


def server_versions(srv, api_version="v1", kind="Pod"):
    return {f'{o["metadata"]["namespace"]}/{o["metadata"]["name"]}': o["metadata"]["resourceVersion"]
            for o in srv.list_objects(api_version, kind)}


class WatchDump:
    """k8s-watch-dump as a child process; its lines are read by a thread. Stopped by PID."""

    def __init__(self, args, env=None):
        env, self.sanitizer_prefix = harness.sanitizer_env(env)
        self.proc = subprocess.Popen([DUMP_BIN, *FAST, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.cond = threading.Condition()
        self.latest = {}   # resource -> last line (dict)
        self.count = {}    # resource -> lines seen
        self.log = []      # stderr lines
        self.threads = [threading.Thread(target=self._read_out, daemon=True),
                        threading.Thread(target=self._read_err, daemon=True)]
        for t in self.threads:
            t.start()

    def _read_out(self):
        for raw in self.proc.stdout:
            line = json.loads(raw)
            with self.cond:
                self.latest[line["resource"]] = line
                self.count[line["resource"]] = self.count.get(line["resource"], 0) + 1
                self.cond.notify_all()

    def _read_err(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.log.append(raw.decode(errors="replace").rstrip())
                self.cond.notify_all()

    def wait_for(self, resource, pred, timeout=5.0, what="condition"):
        """The first state of `resource` (latest line) for which pred holds; fails after timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                line = self.latest.get(resource)
                if line is not None and pred(line):
                    return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(
                        f"{what} not reached for {resource} in {timeout}s; last line counters="
                        f"{line and line['counters']} keys={line and sorted(line['objects'])[:10]}\n"
                        "log:\n" + "\n".join(self.log[-20:]))
                self.cond.wait(left)

    def wait_log(self, text, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(text in line for line in self.log):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no log line with {text!r}; log:\n" + "\n".join(self.log[-20:]))
                self.cond.wait(left)
            return [line for line in self.log if text in line]

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self.threads:
            t.join(timeout=2)
        report = harness.sanitizer_reports(self.sanitizer_prefix)
        if report:
            raise AssertionError(f"sanitizer report from k8s-watch-dump:\n{report[-8000:]}")
        return self.proc.returncode


class K8sClientTest(unittest.TestCase):
    server_options = {}

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="k8s-client-test-")
        self.srv = fake_apiserver.FakeApiServer(cert_dir=self.tmp.name, bookmark_interval=0.2,
                                                **self.server_options).start()
        self.kubeconfig = self.srv.write_kubeconfig(os.path.join(self.tmp.name, "kubeconfig"))
        self.dumps = []

    def tearDown(self):
        try:
            for d in self.dumps:
                rc = d.close()  # SIGTERM: a clean stop exits 0 (a crash or sanitizer report not)
                log = "\n".join(d.log[-20:])
                self.assertEqual(rc, 0, log)
                self.assertFalse(any("runtime error" in l or "Sanitizer" in l for l in d.log), log)
        finally:
            self.srv.stop()
            self.tmp.cleanup()

    def dump(self, *resources, args=(), env=None, kubeconfig=True):
        extra = ["--kubeconfig", self.kubeconfig] if kubeconfig else []
        d = WatchDump([*extra, *args, *resources], env=env)
        self.dumps.append(d)
        return d

    def wait_equal(self, d, resource=PODS, timeout=5.0, api_version="v1", kind="Pod"):
        want = server_versions(self.srv, api_version, kind)
        return d.wait_for(resource, lambda l: l["synced"] and versions(l["objects"]) == want,
                          timeout, what=f"{len(want)} objects equal to the server's")

    # ---- lists, changes, bookmarks

    def test_paged_list_then_changes_within_a_second(self):
        self.srv.apply([pod(f"p{i:02}", ip=f"10.0.0.{i}") for i in range(25)])
        d = self.dump(PODS, args=["--page-size", "4"])
        line = self.wait_equal(d)
        self.assertEqual(len(line["objects"]), 25)
        self.assertEqual(line["objects"]["default/p07"]["status"]["podIP"], "10.0.0.7")
        self.assertGreaterEqual(self.srv.state()["counts"].get("continues", 0), 6)  # 7 pages
        self.srv.wait_until(lambda st: st["watches_open"] >= 1)
        for change in ("add", "modify", "delete"):
            start = time.monotonic()
            if change == "add":
                self.srv.apply(pod("new", ip="10.1.1.1"))
            elif change == "modify":
                self.srv.apply(pod("p03", ip="10.9.9.9"))
            else:
                self.srv.delete("v1", "Pod", "p05")
            self.wait_equal(d, timeout=1.0)
            self.assertLess(time.monotonic() - start, 1.0, change)
        line = d.latest[PODS]
        self.assertEqual(line["objects"]["default/p03"]["status"]["podIP"], "10.9.9.9")
        self.assertNotIn("default/p05", line["objects"])
        self.assertEqual(line["counters"]["relists"], 0)

    def test_bookmarks_are_the_resume_point(self):
        self.srv.apply(pod("a"))
        d = self.dump(PODS, POOLS)
        self.wait_equal(d)
        self.srv.wait_until(lambda st: st["watches_open"] >= 2)
        # Other resources move the global resourceVersion; only bookmarks tell the pods watch.
        for i in range(20):
            self.srv.apply(pool(f"pool{i}"))
        bookmarks = self.srv.state()["counts"].get("bookmarks", 0)
        self.srv.wait_until(lambda st: st["counts"].get("bookmarks", 0) >= bookmarks + 4)
        self.srv.compact(keep=0)  # history gone: only the newest resourceVersion still works
        self.srv.reset_counts()
        self.srv.drop_watches("abrupt")
        self.srv.apply(pod("b"))
        self.wait_equal(d)
        counts = self.srv.state()["counts"]
        self.assertEqual(counts.get("lists", 0), 0, "resumed by watch, not relisted")
        self.assertEqual(counts.get("expired_events", 0) + counts.get("gone", 0), 0)

    # ---- 410 Gone, both forms, and dropped watches

    def check_relist_after_gone(self, form):
        self.srv.set_faults(watch_410=form)
        self.srv.apply([pod(f"p{i}") for i in range(5)])
        d = self.dump(PODS)
        self.wait_equal(d)
        self.srv.set_faults(bookmark_interval=3600)  # no bookmark may move the pods' resume point
        self.srv.drop_watches("abrupt")
        self.srv.apply(pod("p1", ip="10.2.2.2"))
        self.srv.delete("v1", "Pod", "p2")
        self.srv.apply([pool("elsewhere"), pool("elsewhere2")])  # the global version moves on
        self.srv.compact(keep=0)  # ...and the history before it is gone
        self.srv.reset_counts()
        self.srv.drop_watches("clean")
        key = "expired_events" if form == "event" else "gone"
        self.srv.wait_until(lambda st: st["counts"].get(key, 0) >= 1 and st["counts"].get("lists", 0) >= 1)
        line = self.wait_equal(d)
        self.assertNotIn("default/p2", line["objects"])
        self.assertEqual(line["objects"]["default/p1"]["status"]["podIP"], "10.2.2.2")
        self.srv.apply(pod("after"))  # and the new watch works
        self.wait_equal(d)

    def test_410_as_error_event_relists(self):
        self.check_relist_after_gone("event")

    def test_410_as_http_status_relists(self):
        self.check_relist_after_gone("http")

    def test_dropped_watches_resume_from_last_version_through_split_bytes(self):
        self.srv.set_faults(split={"max_piece": 7, "pause_ms": 0, "headers": True})
        self.srv.apply([pod(f"p{i}") for i in range(8)])
        d = self.dump(PODS, args=["--page-size", "3"])
        self.wait_equal(d)
        self.srv.reset_counts()
        for i, mode in enumerate(["abrupt", "clean", "reset", "partial"] * 2):
            self.srv.wait_until(lambda st: st["watches_open"] >= 1)
            self.srv.apply(pod(f"p{i}", ip=f"10.3.{i}.1"))
            self.srv.drop_watches(mode)
            self.srv.apply(pod(f"extra{i}"))  # happens while the client is away
            self.wait_equal(d)
        counts = self.srv.state()["counts"]
        self.assertGreaterEqual(counts.get("watches_dropped", 0), 8)
        self.assertEqual(counts.get("lists", 0), 0, "every drop resumed by watch, no relist")
        self.assertEqual(counts.get("expired_events", 0) + counts.get("gone", 0), 0)

    def test_churn_with_drops_and_an_expired_version_ends_equal(self):
        rng = random.Random(5)
        self.srv.set_faults(split={"max_piece": 64, "pause_ms": 0, "headers": False})
        self.srv.apply([pod(f"p{i}") for i in range(20)])
        d = self.dump(PODS, POOLS, args=["--page-size", "7"])
        self.wait_equal(d)
        live = {f"p{i}" for i in range(20)}
        drops = {60: "abrupt", 130: "partial", 200: "reset"}
        for step in range(300):
            name = f"p{rng.randrange(40)}"
            if name in live and rng.random() < 0.4:
                self.srv.delete("v1", "Pod", name)
                live.discard(name)
            else:
                self.srv.apply(pod(name, ip=f"10.4.{step // 250}.{step % 250}"))
                live.add(name)
            if step % 10 == 0:
                self.srv.apply(pool(f"pool{rng.randrange(5)}", port=8000 + step))
            if step in drops:
                self.srv.drop_watches(drops[step])
            if step == 250:  # an expired resourceVersion: the client must relist
                self.srv.set_faults(watch_410="http", bookmark_interval=3600)
                self.srv.drop_watches("abrupt")
                self.srv.apply([pool(f"pool{i}", port=9000 + i) for i in range(5)])
                self.srv.compact(keep=0)
                self.srv.drop_watches("clean")
        self.wait_equal(d, timeout=10.0)
        self.wait_equal(d, POOLS, timeout=10.0, api_version=POOL_V1, kind="InferencePool")

    def test_error_events_and_failing_lists_end_in_a_relist(self):
        self.srv.apply(pod("a"))
        d = self.dump(PODS)
        self.wait_equal(d)
        for mode in ("error", "expire"):  # ERROR event with a 500 Status, then with 410
            self.srv.wait_until(lambda st: st["watches_open"] >= 1)
            self.srv.reset_counts()
            self.srv.drop_watches(mode)
            self.srv.apply(pod(f"after-{mode}"))
            self.wait_equal(d)
            self.assertGreaterEqual(self.srv.state()["counts"].get("lists", 0), 1, mode)
        # the relist itself fails three times (500), then succeeds
        self.srv.wait_until(lambda st: st["watches_open"] >= 1)
        self.srv.fail_next(3, status=500, match="list")
        self.srv.drop_watches("expire")
        self.srv.apply(pod("after-failures"))
        self.wait_equal(d)
        self.assertEqual(len(d.wait_log("status=500")), 3)

    def test_watches_that_end_at_once_do_not_spin(self):
        self.srv.apply(pod("a"))
        d = self.dump(PODS)
        self.wait_equal(d)
        self.srv.set_faults(watch_max_seconds=0.01, bookmark_interval=3600)
        self.srv.drop_watches("clean")
        self.srv.reset_counts()
        time.sleep(1.5)  # measuring a rate over a fixed window: nothing to wait for instead
        watches = self.srv.state()["counts"].get("watches", 0)
        self.assertGreaterEqual(watches, 2)
        self.assertLess(watches, 25, "empty watches that end at once are retried with backoff")
        self.srv.clear_faults()
        self.srv.apply(pod("b"))
        self.wait_equal(d)

    def test_silent_watch_is_replaced_after_the_idle_timeout(self):
        self.srv.set_faults(bookmark_interval=3600)  # a stream that says nothing at all
        self.srv.apply(pod("a"))
        d = self.dump(PODS, args=["--idle-ms", "300"])
        self.wait_equal(d)
        self.srv.wait_until(lambda st: st["counts"].get("watches", 0) >= 3)
        self.srv.apply(pod("b"))
        self.wait_equal(d)
        self.assertEqual(self.srv.state()["counts"].get("lists", 0), 1, "resumed, not relisted")
        d.wait_log("idle or watch timeout")

    # ---- authentication and authorization

    def test_rotated_service_account_token_is_picked_up(self):
        sa_dir = os.path.join(self.tmp.name, "sa")
        sa = self.srv.service_account_dir(sa_dir, token="token-1")
        self.srv.set_tokens(["token-1"])
        self.srv.apply(pod("a"))
        env = {**kube_files.in_cluster_env(self.srv.url), "INFERGATE_SA_DIR": sa_dir}
        d = self.dump(PODS, args=["--in-cluster"], env=env, kubeconfig=False)
        self.wait_equal(d)
        # kubelet rotates; the server accepts both for a while, then only the new one
        self.srv.set_tokens(["token-1", "token-2"])
        sa.rotate("token-2")
        self.srv.drop_watches("abrupt")
        self.srv.apply(pod("b"))
        self.wait_equal(d)
        self.srv.set_tokens(["token-2"])
        self.srv.drop_watches("abrupt")
        self.srv.apply(pod("c"))
        line = self.wait_equal(d)
        self.assertGreaterEqual(line["counters"]["token_reloads"], 1)
        self.assertEqual(self.srv.state()["counts"].get("unauthorized", 0), 0,
                         "the rotated file was read before the next request")

    def test_401_rereads_a_token_file_that_looks_unchanged(self):
        token_file = os.path.join(self.tmp.name, "token")
        with open(token_file, "w") as f:
            f.write("tokenA")
        self.kubeconfig = self.srv.write_kubeconfig(os.path.join(self.tmp.name, "kc-file"),
                                                    token_file=token_file)
        self.srv.set_tokens(["tokenA"])
        self.srv.apply(pod("a"))
        d = self.dump(PODS)
        self.wait_equal(d)
        # The watch that follows the list is open: no request (and so no stat of the file) can
        # fall between the write and the utime below, which would see the file change.
        self.srv.wait_until(lambda st: st["watches_open"] >= 1)
        # Same inode, size and mtime: only the server's 401 can tell the client to read it again.
        st = os.stat(token_file)
        with open(token_file, "r+") as f:
            f.write("tokenB")
        os.utime(token_file, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.srv.set_tokens(["tokenB"])
        self.srv.reset_counts()
        self.srv.drop_watches("abrupt")
        self.srv.apply(pod("b"))
        line = self.wait_equal(d)
        counts = self.srv.state()["counts"]
        self.assertEqual(counts.get("unauthorized", 0), 1, "one 401, then the re-read token")
        self.assertGreaterEqual(line["counters"]["token_reloads"], 1)

    def test_forbidden_is_logged_with_the_missing_permission_then_recovers(self):
        self.srv.forbid([{"verb": "list", "plural": "pods"}])
        self.srv.apply(pod("a"))
        d = self.dump(PODS + "@default")
        lines = d.wait_log("forbidden (403)")
        self.assertIn("verb=list", lines[0])
        self.assertIn("resource=pods", lines[0])
        self.assertIn("namespace=default", lines[0])
        self.srv.forbid([])
        self.wait_equal(d, PODS + "@default")

    def test_client_certificate_without_token(self):
        self.srv.set_tokens([])
        self.srv.set_client_cert_auth(True)
        client = self.srv.client_cert("admin", "system:masters")
        path = self.srv.write_kubeconfig(os.path.join(self.tmp.name, "kc-cert"), client=client,
                                         client_data=False)
        self.kubeconfig = path
        self.srv.apply(pod("a"))
        self.wait_equal(self.dump(PODS))

    def test_wrong_ca_is_refused(self):
        other = kube_files.make_ca(os.path.join(self.tmp.name, "other"), name="other-ca")
        self.kubeconfig = kube_files.write_kubeconfig(os.path.join(self.tmp.name, "kc-wrong"),
                                                      self.srv.url, ca_file=other.cert,
                                                      token="fake-token")
        d = self.dump(PODS)
        d.wait_log("certificate verify failed")
        self.assertNotIn(PODS, d.latest)
        self.assertEqual(self.srv.state()["counts"].get("lists", 0), 0)

    # ---- CRDs

    def test_crd_installed_late_is_detected_and_removal_empties_it(self):
        self.srv.set_crd("inference.networking.k8s.io", "v1", "inferencepools", installed=False)
        self.srv.apply(pool("early"))  # stored, invisible until the CRD is installed
        d = self.dump(POOLS)
        line = d.wait_for(POOLS, lambda l: l["synced"], what="absent source synced and empty")
        self.assertEqual(line["objects"], {})
        d.wait_log("not found (404")
        self.srv.set_crd("inference.networking.k8s.io", "v1", "inferencepools", installed=True)
        self.srv.apply(pool("late"))
        line = d.wait_for(POOLS, lambda l: set(l["objects"]) == {"default/early", "default/late"},
                          timeout=3.0, what="CRD found")
        d.wait_log("found: source enabled")
        self.srv.set_crd("inference.networking.k8s.io", "v1", "inferencepools", installed=False)
        d.wait_for(POOLS, lambda l: l["objects"] == {}, timeout=3.0, what="CRD removed")


class K8sClientIpv6Test(unittest.TestCase):
    """TLS to an IPv6 literal: the certificate's IP address is what gets verified (no SNI)."""

    def test_ipv6_literal_server(self):
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback")
        with tempfile.TemporaryDirectory(prefix="k8s-client-v6-") as tmp:
            srv = fake_apiserver.FakeApiServer(host="::1", cert_dir=tmp).start()
            d = None
            try:
                srv.apply(pod("a"))
                kc = srv.write_kubeconfig(os.path.join(tmp, "kc"))
                d = WatchDump(["--kubeconfig", kc, PODS])
                d.wait_for(PODS, lambda l: l["synced"] and set(l["objects"]) == {"default/a"})
                self.assertIn("[::1]", srv.url)
            finally:
                if d:
                    self.assertEqual(d.close(), 0)
                srv.stop()


class K8sClientPlainHttpTest(K8sClientTest):
    """The same client over plain http (a server URL with http://)."""
    server_options = {"tls": False}

    def setUp(self):
        super().setUp()
        self.kubeconfig = kube_files.write_kubeconfig(os.path.join(self.tmp.name, "kc-plain"),
                                                      self.srv.url, token="fake-token")

    # Only a few behaviours are worth repeating without TLS.
    test_client_certificate_without_token = None
    test_wrong_ca_is_refused = None
    test_rotated_service_account_token_is_picked_up = None
    test_churn_with_drops_and_an_expired_version_ends_equal = None
    test_crd_installed_late_is_detected_and_removal_empties_it = None
    test_forbidden_is_logged_with_the_missing_permission_then_recovers = None
    test_bookmarks_are_the_resume_point = None


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""The stand-in API server keeps the documented list/watch contract, over real sockets: paging with
consistent continue tokens, watch from a resourceVersion, bookmarks, both forms of 410, dropped
watches, selectors, bearer-token and client-certificate auth, CRDs installed late, injected
failures, and responses split at random byte boundaries that still carry the same bytes."""
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_apiserver  # noqa: E402
import kube_files  # noqa: E402

TOKEN = "fake-token"
POOL_V1 = "inference.networking.k8s.io/v1"


def pod(name, labels=None, ip="10.0.0.1", ns="default"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "m"}},
            "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}


class Response:
    def __init__(self, status, headers, body, chunks, complete):
        self.status, self.headers, self.body = status, headers, body
        self.chunks = chunks      # the HTTP chunk payloads, in order (chunked responses)
        self.complete = complete  # the terminating chunk (or Content-Length) was received

    def json(self):
        return json.loads(self.body)

    def events(self):
        return [json.loads(line) for line in self.body.split(b"\n") if line]


class RawClient:
    """One HTTP/1.1 exchange per connection, parsed by hand so tests see chunk boundaries, a
    missing terminating chunk and resets exactly as the client under test would."""

    def __init__(self, srv, token=TOKEN, cert=None):
        self.port = srv.api.server_address[1]
        self.tls = srv.tls
        self.token = token
        self.ctx = None
        if srv.tls:
            self.ctx = ssl.create_default_context(cafile=srv.ca_path)
            if cert:
                self.ctx.load_cert_chain(cert.cert, cert.key)

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        if self.ctx:
            sock = self.ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        return sock

    def get(self, path, method="GET", body=None, headers=None, on_head=None):
        sock = self.connect()
        try:
            hdrs = {"Host": "127.0.0.1", "Accept": "application/json"}
            if self.token:
                hdrs["Authorization"] = "Bearer " + self.token
            data = json.dumps(body).encode() if body is not None else b""
            if body is not None:
                hdrs["Content-Type"] = "application/json"
            hdrs["Content-Length"] = str(len(data))
            hdrs.update(headers or {})
            req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
            sock.sendall(req.encode() + b"\r\n" + data)
            return self._read(sock, on_head)
        finally:
            sock.close()

    def _read(self, sock, on_head):
        buf = b""
        eof = False

        def fill():
            nonlocal buf, eof
            chunk = sock.recv(65536)
            if not chunk:
                eof = True
            buf += chunk

        while b"\r\n\r\n" not in buf:
            fill()
            if eof:
                raise ConnectionError("closed before the response head")
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        if on_head:
            on_head()
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(buf) < n and not eof:
                fill()
            return Response(status, headers, buf[:n], [], len(buf) >= n)
        chunks, body = [], b""
        while True:
            while b"\r\n" not in buf and not eof:
                fill()
            if b"\r\n" not in buf:
                return Response(status, headers, body + buf, chunks, False)
            size_line, rest = buf.split(b"\r\n", 1)
            size = int(size_line, 16)
            while len(rest) < size + 2 and not eof:
                buf = size_line + b"\r\n" + rest
                fill()
                size_line, rest = buf.split(b"\r\n", 1)
            if len(rest) < size + 2:
                return Response(status, headers, body + rest, chunks, False)
            if size == 0:
                return Response(status, headers, body, chunks, True)
            chunks.append(rest[:size])
            body += rest[:size]
            buf = rest[size + 2:]


def watch_lines(client, path):
    """Yields the event lines of a watch as they arrive (any chunking); returns at the stream's
    end, a dropped connection or a reset."""
    sock = client.connect()
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {client.token}\r\n"
                     "\r\n".encode())
        raw, data, head_done = b"", b"", False
        while True:
            try:
                got = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                return
            if not got:
                return
            raw += got
            if not head_done:
                if b"\r\n\r\n" not in raw:
                    continue
                head, raw = raw.split(b"\r\n\r\n", 1)
                if b" 200 " not in head.split(b"\r\n")[0]:
                    yield json.dumps({"type": "HTTP", "object": {"code": int(head.split()[1])}})
                    return
                head_done = True
            while b"\r\n" in raw:
                size_line, rest = raw.split(b"\r\n", 1)
                size = int(size_line, 16)
                if size == 0:
                    return
                if len(rest) < size + 2:
                    break
                data += rest[:size]
                raw = rest[size + 2:]
            while b"\n" in data:
                line, data = data.split(b"\n", 1)
                yield line.decode()
    finally:
        sock.close()


class MiniReflector:
    """The reflector pattern a client must implement, in a few lines: paged list, watch from the
    list's resourceVersion with bookmarks, resume from the last resourceVersion after a drop,
    relist after 410."""

    def __init__(self, client, path):
        self.c, self.path = client, path
        self.state, self.rv, self.relists, self.resumes = {}, None, 0, 0
        self.until = float("inf")

    def relist(self):
        self.relists += 1
        items, token = [], ""
        while True:
            r = self.c.get(f"{self.path}?limit=4" + (f"&continue={token}" if token else ""))
            if r.status == 410:
                items, token = [], ""
                continue
            page = r.json()
            items += page["items"]
            token = page["metadata"].get("continue")
            if not token:
                break
        self.state = {o["metadata"]["name"]: o for o in items}
        self.rv = page["metadata"]["resourceVersion"]

    def run(self):
        """Until `self.until` (set by the test) has passed at the end of a watch."""
        self.relist()
        while time.monotonic() < self.until:
            expired = False
            for line in watch_lines(self.c, f"{self.path}?watch=1&resourceVersion={self.rv}"
                                            "&allowWatchBookmarks=true&timeoutSeconds=0.5"):
                ev = json.loads(line)
                obj = ev["object"]
                if ev["type"] in ("ERROR", "HTTP"):
                    expired = obj.get("code") == 410
                    break
                if ev["type"] == "DELETED":
                    self.state.pop(obj["metadata"]["name"], None)
                elif ev["type"] in ("ADDED", "MODIFIED"):
                    self.state[obj["metadata"]["name"]] = obj
                self.rv = obj["metadata"]["resourceVersion"]
            if expired:
                self.relist()
            else:
                self.resumes += 1


class ServerTest(unittest.TestCase):
    server_args = {}

    def setUp(self):
        self.srv = fake_apiserver.FakeApiServer(bookmark_interval=0.1, **self.server_args).start()
        self.addCleanup(self.srv.stop)
        self.c = RawClient(self.srv)

    def list_names(self, path):
        return [o["metadata"]["name"] for o in self.c.get(path).json()["items"]]


class ListTest(ServerTest):
    def test_paging_serves_one_consistent_snapshot(self):
        for i in range(7):
            self.srv.apply(pod(f"p{i}"))
        first = self.c.get("/api/v1/namespaces/default/pods?limit=3").json()
        self.assertEqual(first["kind"], "PodList")
        self.assertEqual([o["metadata"]["name"] for o in first["items"]], ["p0", "p1", "p2"])
        self.assertEqual(first["metadata"]["remainingItemCount"], 4)
        list_rv = first["metadata"]["resourceVersion"]
        # Changes between pages do not leak into the paged list.
        self.srv.delete("v1", "Pod", "p4")
        self.srv.apply(pod("p35"))
        names = [o["metadata"]["name"] for o in first["items"]]
        token = first["metadata"]["continue"]
        while token:
            page = self.c.get(f"/api/v1/namespaces/default/pods?limit=3&continue={token}").json()
            self.assertEqual(page["metadata"]["resourceVersion"], list_rv)
            names += [o["metadata"]["name"] for o in page["items"]]
            token = page["metadata"].get("continue")
        self.assertEqual(names, [f"p{i}" for i in range(7)])
        self.assertIn("p35", self.list_names("/api/v1/pods"))
        self.assertNotIn("p4", self.list_names("/api/v1/pods"))

    def test_expired_continue_token_is_410(self):
        for i in range(3):
            self.srv.apply(pod(f"p{i}"))
        token = self.c.get("/api/v1/pods?limit=1").json()["metadata"]["continue"]
        self.srv.apply(pod("p9"))
        self.srv.compact()
        r = self.c.get(f"/api/v1/pods?limit=1&continue={token}")
        self.assertEqual(r.status, 410)
        self.assertEqual((r.json()["code"], r.json()["reason"]), (410, "Expired"))

    def test_exact_resource_version_serves_the_past(self):
        self.srv.apply(pod("a"))
        rv = self.c.get("/api/v1/pods").json()["metadata"]["resourceVersion"]
        self.srv.apply(pod("b"))
        self.srv.delete("v1", "Pod", "a")
        old = self.c.get(f"/api/v1/pods?resourceVersion={rv}&resourceVersionMatch=Exact").json()
        self.assertEqual([o["metadata"]["name"] for o in old["items"]], ["a"])
        self.assertEqual(old["metadata"]["resourceVersion"], rv)
        self.assertEqual(self.list_names("/api/v1/pods"), ["b"])
        future = int(self.srv.resource_version()) + 5
        self.assertEqual(self.c.get(f"/api/v1/pods?resourceVersion={future}").status, 504)

    def test_namespaces_and_cluster_wide_lists(self):
        self.srv.apply(pod("x", ns="a"))
        self.srv.apply(pod("y", ns="b"))
        self.assertEqual(self.list_names("/api/v1/namespaces/a/pods"), ["x"])
        self.assertEqual(self.list_names("/api/v1/pods"), ["x", "y"])
        r = self.c.get("/api/v1/namespaces/b/pods/y")
        self.assertEqual((r.status, r.json()["metadata"]["name"]), (200, "y"))
        self.assertEqual(self.c.get("/api/v1/namespaces/a/pods/y").status, 404)

    def test_label_and_field_selectors(self):
        self.srv.apply(pod("a", {"app": "m", "tier": "gpu"}))
        self.srv.apply(pod("b", {"app": "m", "tier": "cpu"}))
        self.srv.apply(pod("c", {"app": "other"}))
        self.assertEqual(self.list_names("/api/v1/pods?labelSelector=app%3Dm"), ["a", "b"])
        self.assertEqual(self.list_names("/api/v1/pods?labelSelector=app%3Dm,tier%3Dgpu"), ["a"])
        self.assertEqual(self.list_names("/api/v1/pods?labelSelector=app!%3Dm"), ["c"])
        self.assertEqual(self.list_names("/api/v1/pods?labelSelector=tier%20in%20(cpu,x)"), ["b"])
        self.assertEqual(self.list_names("/api/v1/pods?fieldSelector=metadata.name%3Dc"), ["c"])
        self.srv.apply(dict(pod("d"), status={"phase": "Running"}))
        self.assertEqual(self.list_names("/api/v1/pods?fieldSelector=status.phase%3DRunning"), ["d"])
        self.assertEqual(self.list_names("/api/v1/pods?fieldSelector=status.phase!%3DRunning,"
                                         "metadata.namespace%3Ddefault"), ["a", "b", "c"])

    def test_crd_absent_is_404_until_installed(self):
        path = "/apis/inference.networking.k8s.io/v1/namespaces/default/inferencepools"
        self.srv.set_crd("inference.networking.k8s.io", "v1", "inferencepools", installed=False)
        r = self.c.get(path)
        self.assertEqual((r.status, r.json()["reason"]), (404, "NotFound"))
        self.assertEqual(self.c.get(path + "?watch=1").status, 404)
        self.assertEqual(self.c.get("/apis/inference.networking.k8s.io/v1").status, 404)
        self.srv.apply({"apiVersion": POOL_V1, "kind": "InferencePool",
                        "metadata": {"name": "pool"}, "spec": {"selector": {"matchLabels": {}}}})
        self.srv.set_crd("inference.networking.k8s.io", "v1", "inferencepools", installed=True)
        r = self.c.get(path)
        self.assertEqual(r.status, 200)
        self.assertEqual((r.json()["kind"], r.json()["apiVersion"]),
                         ("InferencePoolList", POOL_V1))
        self.assertEqual([o["metadata"]["name"] for o in r.json()["items"]], ["pool"])
        disco = self.c.get("/apis/inference.networking.k8s.io/v1").json()
        self.assertIn("inferencepools", [x["name"] for x in disco["resources"]])

    def test_unknown_resource_is_404(self):
        self.assertEqual(self.c.get("/apis/example.com/v1/widgets").status, 404)


class AuthTest(ServerTest):
    server_args = {"client_cert_auth": True}

    def test_token_rotation(self):
        self.assertEqual(self.c.get("/api/v1/pods").status, 200)
        self.srv.set_tokens(["new-token"])
        r = self.c.get("/api/v1/pods")
        self.assertEqual((r.status, r.json()["reason"]), (401, "Unauthorized"))
        self.assertEqual(RawClient(self.srv, token="new-token").get("/api/v1/pods").status, 200)
        self.assertEqual(RawClient(self.srv, token=None).get("/api/v1/pods").status, 401)
        self.assertEqual(self.srv.state()["counts"]["unauthorized"], 2)

    def test_client_certificate(self):
        cert = self.srv.client_cert("admin")
        self.assertEqual(RawClient(self.srv, token=None, cert=cert).get("/api/v1/pods").status, 200)
        self.srv.set_client_cert_auth(False)
        self.assertEqual(RawClient(self.srv, token=None, cert=cert).get("/api/v1/pods").status, 401)

    def test_ipv6_loopback(self):
        srv = fake_apiserver.FakeApiServer(host="::1").start()
        self.addCleanup(srv.stop)
        self.assertTrue(srv.url.startswith("https://[::1]:"))
        ctx = ssl.create_default_context(cafile=srv.ca_path)
        with socket.create_connection(("::1", srv.api.server_address[1])) as s, \
                ctx.wrap_socket(s, server_hostname="::1") as t:
            t.sendall(b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fake-token"
                      b"\r\nConnection: close\r\n\r\n")
            self.assertIn(b" 200 ", t.recv(100))
        self.assertEqual(fake_apiserver.ControlClient(srv.control_url).state()["counts"]["lists"], 1)

    def test_wrong_ca_fails_the_handshake(self):
        other = kube_files.make_ca(tempfile.mkdtemp(dir=self.srv.cert_dir), "other-ca")
        ctx = ssl.create_default_context(cafile=other.cert)
        with socket.create_connection(("127.0.0.1", self.srv.api.server_address[1])) as s:
            with self.assertRaises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(s, server_hostname="127.0.0.1")

    def test_forbidden_rule_is_403(self):
        self.srv.forbid([{"verb": "watch", "plural": "pods"}])
        self.assertEqual(self.c.get("/api/v1/pods").status, 200)
        r = self.c.get("/api/v1/pods?watch=1")
        self.assertEqual(r.status, 403)
        self.assertIn('cannot watch resource "pods"', r.json()["message"])


class WatchTest(ServerTest):
    def test_watch_from_resource_version_replays_changes(self):
        rv = self.c.get("/api/v1/pods").json()["metadata"]["resourceVersion"]
        self.srv.apply(pod("a"))
        self.srv.apply(pod("a", ip="10.0.0.2"))
        self.srv.delete("v1", "Pod", "a")
        r = self.c.get(f"/api/v1/pods?watch=1&resourceVersion={rv}&timeoutSeconds=0.3")
        self.assertTrue(r.complete)
        evs = r.events()
        self.assertEqual([e["type"] for e in evs], ["ADDED", "MODIFIED", "DELETED"])
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
        self.assertEqual(rvs, sorted(rvs))
        self.assertGreater(rvs[0], int(rv))
        self.assertEqual(evs[1]["object"]["status"]["podIP"], "10.0.0.2")

    def test_watch_without_resource_version_starts_with_the_state(self):
        self.srv.apply(pod("a"))
        self.srv.apply(pod("b"))
        r = self.c.get("/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=0.3")
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in r.events()],
                         [("ADDED", "a"), ("ADDED", "b")])

    def test_live_events_and_bookmarks(self):
        rv = self.srv.resource_version()
        self.srv.set_faults(bookmark_interval=0.1)

        def change():
            self.srv.apply(pod("live"))
        r = self.c.get(f"/api/v1/pods?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"
                       "&timeoutSeconds=0.5", on_head=change)
        evs = r.events()
        self.assertEqual(evs[0]["type"], "ADDED")
        marks = [e for e in evs if e["type"] == "BOOKMARK"]
        self.assertGreaterEqual(len(marks), 2)
        self.assertEqual(marks[-1]["object"], {"kind": "Pod", "apiVersion": "v1", "metadata": {
            "resourceVersion": self.srv.resource_version()}})

    def test_no_bookmarks_unless_asked(self):
        r = self.c.get("/api/v1/pods?watch=1&timeoutSeconds=0.5")
        self.assertTrue(r.complete)
        self.assertEqual(r.events(), [])

    def test_send_initial_events_ends_with_annotated_bookmark(self):
        self.srv.apply(pod("a"))
        r = self.c.get("/api/v1/pods?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
                       "&resourceVersionMatch=NotOlderThan&timeoutSeconds=0.3")
        evs = r.events()
        self.assertEqual(evs[0]["type"], "ADDED")
        self.assertEqual(evs[1]["type"], "BOOKMARK")
        self.assertEqual(evs[1]["object"]["metadata"]["annotations"],
                         {"k8s.io/initial-events-end": "true"})

    def test_too_old_resource_version_as_error_event(self):
        rv = self.srv.resource_version()
        self.srv.apply(pod("a"))
        self.srv.compact()
        r = self.c.get(f"/api/v1/pods?watch=1&resourceVersion={rv}")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.complete)
        (ev,) = r.events()
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual((ev["object"]["kind"], ev["object"]["code"], ev["object"]["reason"]),
                         ("Status", 410, "Expired"))
        self.assertIn("too old resource version", ev["object"]["message"])
        self.assertEqual(self.srv.state()["counts"]["expired_events"], 1)

    def test_too_old_resource_version_as_http_410(self):
        self.srv.set_faults(watch_410="http")
        rv = self.srv.resource_version()
        self.srv.apply(pod("a"))
        self.srv.compact()
        r = self.c.get(f"/api/v1/pods?watch=1&resourceVersion={rv}")
        self.assertEqual(r.status, 410)
        self.assertEqual((r.json()["code"], r.json()["reason"]), (410, "Expired"))
        # The compaction point itself is still watchable.
        ok = self.c.get(f"/api/v1/pods?watch=1&resourceVersion={self.srv.resource_version()}"
                        "&timeoutSeconds=0.3")
        self.assertEqual(ok.status, 200)

    def test_compaction_spares_open_watches(self):
        rv = self.srv.resource_version()

        def churn():
            self.srv.wait_until(lambda s: s["watches_open"] == 1)
            self.srv.apply(pod("a"))
            self.srv.compact()
            self.srv.apply(pod("b"))
        r = self.c.get(f"/api/v1/pods?watch=1&resourceVersion={rv}&timeoutSeconds=0.5",
                       on_head=churn)
        self.assertEqual([e["object"]["metadata"]["name"] for e in r.events()], ["a", "b"])
        again = self.c.get(f"/api/v1/pods?watch=1&resourceVersion={rv}")
        self.assertEqual(again.events()[0]["object"]["code"], 410)

    def test_stalled_watch_is_silent_then_catches_up(self):
        import threading
        rv = self.srv.resource_version()
        got = []

        def read():
            for line in watch_lines(self.c, f"/api/v1/pods?watch=1&resourceVersion={rv}"
                                            "&allowWatchBookmarks=true&timeoutSeconds=3"):
                got.append(json.loads(line)["type"])
                if got[-1] == "ADDED":
                    return
        self.srv.set_faults(stall_watches=True, bookmark_interval=0.05)
        t = threading.Thread(target=read)
        t.start()
        self.srv.wait_until(lambda s: s["watches_open"] == 1)
        self.srv.apply(pod("a"))
        t.join(0.5)
        self.assertTrue(t.is_alive())
        self.assertEqual(got, [])  # neither the event nor a bookmark
        self.srv.set_faults(stall_watches=False)
        self.srv.apply(pod("b"))  # wakes the watch
        t.join(5)
        self.assertEqual(got[-1], "ADDED")

    def test_server_side_watch_limit_ends_cleanly(self):
        self.srv.set_faults(watch_max_seconds=0.3)
        t = time.monotonic()
        r = self.c.get("/api/v1/pods?watch=1&timeoutSeconds=30")
        self.assertTrue(r.complete)
        self.assertLess(time.monotonic() - t, 10)

    def test_bounded_history_expires_old_versions(self):
        srv = fake_apiserver.FakeApiServer(history=5, tls=False, control=False).start()
        self.addCleanup(srv.stop)
        rv = srv.resource_version()
        for i in range(6):
            srv.apply(pod(f"p{i}"))
        ev = RawClient(srv).get(f"/api/v1/pods?watch=1&resourceVersion={rv}").events()[0]
        self.assertEqual(ev["object"]["code"], 410)
        recent = str(int(rv) + 1)
        r = RawClient(srv).get(f"/api/v1/pods?watch=1&resourceVersion={recent}&timeoutSeconds=0.3")
        self.assertEqual(len(r.events()), 5)

    def test_watch_one_object_by_name(self):
        rv = self.srv.resource_version()
        self.srv.apply(pod("a"))
        self.srv.apply(pod("b"))
        r = self.c.get(f"/api/v1/namespaces/default/pods/b?watch=1&resourceVersion={rv}"
                       "&timeoutSeconds=0.3")
        self.assertEqual([e["object"]["metadata"]["name"] for e in r.events()], ["b"])

    def test_health_and_version_need_no_credentials(self):
        anonymous = RawClient(self.srv, token=None)
        self.assertEqual(anonymous.get("/readyz").body, b"ok")
        self.assertEqual(anonymous.get("/version").status, 200)
        self.assertEqual(anonymous.get("/api/v1").status, 401)

    def test_selector_watch_turns_leaving_into_deleted(self):
        rv = self.srv.resource_version()
        self.srv.apply(pod("a", {"app": "m"}))
        self.srv.apply(pod("a", {"app": "other"}))
        self.srv.apply(pod("a", {"app": "m"}))
        self.srv.apply(pod("b", {"app": "other"}))
        r = self.c.get(f"/api/v1/pods?watch=1&resourceVersion={rv}&labelSelector=app%3Dm"
                       "&timeoutSeconds=0.5")
        self.assertEqual([e["type"] for e in r.events()], ["ADDED", "DELETED", "ADDED"])

    def test_drop_modes(self):
        expect = {"abrupt": (False, None), "clean": (True, None), "partial": (False, b"{"),
                  "reset": (False, None), "error": (True, b"{"), "expire": (True, b"{")}
        for mode, (complete, partial_prefix) in expect.items():
            with self.subTest(mode=mode):
                def drop():
                    self.srv.wait_until(lambda s: s["watches_open"] == 1)
                    self.assertEqual(self.srv.drop_watches(mode), 1)
                try:
                    r = self.c.get("/api/v1/pods?watch=1", on_head=drop)
                except ConnectionResetError:
                    self.assertEqual(mode, "reset")
                    continue
                self.assertEqual(r.complete, complete)
                if mode in ("error", "expire"):
                    (ev,) = r.events()
                    self.assertEqual((ev["type"], ev["object"]["code"]),
                                     ("ERROR", 500 if mode == "error" else 410))
                elif partial_prefix:
                    self.assertTrue(r.body.startswith(partial_prefix))
                    self.assertNotIn(b"\n", r.body)
                else:
                    self.assertEqual(r.body, b"")
        self.assertEqual(self.srv.state()["counts"]["watches_dropped"], 6)

    def test_drop_and_count_one_resource(self):
        import threading
        results = {}

        def watch(path, key):
            results[key] = RawClient(self.srv).get(path)
        pods = threading.Thread(target=watch, args=("/api/v1/pods?watch=1&timeoutSeconds=5", "pods"))
        routes = threading.Thread(target=watch, args=(
            "/apis/gateway.networking.k8s.io/v1/httproutes?watch=1&timeoutSeconds=0.7", "routes"))
        pods.start()
        routes.start()
        st = self.srv.wait_until(lambda s: s["watches_open"] == 2)
        self.assertEqual(st["watches_open_by_resource"], {"pods": 1, "httproutes": 1})
        self.assertEqual(self.srv.drop_watches("abrupt", resource="pods"), 1)
        pods.join(5)
        self.assertFalse(results["pods"].complete)
        self.assertEqual(self.srv.state()["watches_open_by_resource"], {"httproutes": 1})
        # Uninstalling one CRD ends only its own watches.
        self.srv.set_crd("gateway.networking.k8s.io", "v1beta1", "referencegrants", installed=False)
        self.assertEqual(self.srv.state()["watches_open"], 1)
        routes.join(5)
        self.assertTrue(results["routes"].complete)
        self.c.get("/apis/gateway.networking.k8s.io/v1beta1/referencegrants")
        by = self.srv.state()["by_resource"]
        self.assertEqual(by["pods"], {"watch": 1})
        self.assertEqual(by["referencegrants"], {"not_found": 1})

    def test_uninstalling_a_crd_ends_its_watches(self):
        def uninstall():
            self.srv.wait_until(lambda s: s["watches_open"] == 1)
            self.srv.set_crd("gateway.networking.k8s.io", "v1", "httproutes", installed=False)
        r = self.c.get("/apis/gateway.networking.k8s.io/v1/httproutes?watch=1", on_head=uninstall)
        self.assertTrue(r.complete)


class FaultTest(ServerTest):
    def test_split_responses_carry_the_same_bytes(self):
        self.srv.apply(pod("a", {"app": "m", "model": "qwen"}))
        self.srv.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "utf8", "annotations": {"note": "modèle 模型 ✓ " * 20}}})
        watch = "/api/v1/pods?watch=1&resourceVersion=10000&timeoutSeconds=0.3"
        plain_list, plain_watch = self.c.get("/api/v1/pods"), self.c.get(watch)
        self.srv.set_faults(split={"max_piece": 5, "pause_ms": 0, "headers": True})
        split_list, split_watch = self.c.get("/api/v1/pods"), self.c.get(watch)
        self.assertEqual(split_list.body, plain_list.body)
        self.assertEqual(split_watch.body, plain_watch.body)
        self.assertEqual(len(plain_watch.chunks), 2)  # one chunk per event when not split
        self.assertGreater(len(split_watch.chunks), len(split_watch.body) // 5)
        self.assertLessEqual(max(map(len, split_watch.chunks)), 5)

        def decodes(b):
            try:
                b.decode()
                return True
            except UnicodeDecodeError:
                return False
        self.assertFalse(all(decodes(c) for c in split_watch.chunks),
                         "some chunk boundary falls inside a UTF-8 character")
        self.assertTrue(any(b"\n" not in c and not c.endswith(b"}") for c in split_watch.chunks))

    def test_fail_next_requests(self):
        self.srv.fail_next(2, status=429, match="list", retry_after=1)
        self.srv.fail_next(1, status=500, match="watch")
        r = self.c.get("/api/v1/pods")
        self.assertEqual((r.status, r.headers.get("retry-after")), (429, "1"))
        self.assertEqual(self.c.get("/api/v1/pods?watch=1&timeoutSeconds=0.2").status, 500)
        self.assertEqual(self.c.get("/api/v1/pods").status, 429)
        self.assertEqual(self.c.get("/api/v1/pods").status, 200)
        counts = self.srv.state()["counts"]
        self.assertEqual((counts["throttled"], counts["errors"]), (2, 1))

    def test_delay(self):
        self.srv.set_faults(delay_ms=300)
        t = time.monotonic()
        self.assertEqual(self.c.get("/api/v1/pods").status, 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.3)


class ConvergenceTest(ServerTest):
    def test_reflector_converges_through_churn_drops_splits_and_expiry(self):
        import random
        import threading
        rng = random.Random(7)
        self.srv.set_faults(split={"max_piece": 64, "pause_ms": 0}, bookmark_interval=0.05)
        for i in range(10):
            self.srv.apply(pod(f"p{i}", ip=f"10.0.0.{i}"))
        reflector = MiniReflector(self.c, "/api/v1/namespaces/default/pods")
        t = threading.Thread(target=reflector.run)
        t.start()
        for step in range(300):
            name = f"p{rng.randrange(20)}"
            if rng.random() < 0.3:
                self.srv.delete("v1", "Pod", name)
            else:
                self.srv.apply(pod(name, ip=f"10.1.{step // 250}.{step % 250}"))
            if step % 60 == 30:
                self.srv.drop_watches(rng.choice(["abrupt", "clean", "reset", "partial"]))
            if step == 150:  # the resumed watch asks for a compacted version: 410, relist
                self.srv.set_faults(delay_ms=200)
                self.srv.drop_watches("abrupt")
                self.srv.apply(pod("after-drop"))
                self.srv.compact()
                self.srv.set_faults(delay_ms=0)
            time.sleep(0.002)
        reflector.until = time.monotonic() + 0.7  # at least one whole watch after the last change
        t.join(timeout=20)
        self.assertFalse(t.is_alive())
        want = {o["metadata"]["name"]: o for o in self.srv.list_objects("v1", "Pod", "default")}
        self.assertEqual(reflector.state, want)
        self.assertGreaterEqual(reflector.resumes, 4)
        self.assertGreaterEqual(reflector.relists, 2)
        self.assertGreaterEqual(self.srv.state()["counts"]["expired_events"], 1)


class WriteTest(ServerTest):
    def test_status_subresource_and_merge_patch(self):
        self.srv.apply({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                        "metadata": {"name": "r"}, "spec": {"rules": []}})
        base = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/r"
        r = self.c.get(base + "/status", method="PATCH", body={"status": {"parents": [{"x": 1}]}},
                       headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual(r.status, 200)
        obj = self.srv.get("gateway.networking.k8s.io/v1", "HTTPRoute", "r")
        self.assertEqual(obj["status"], {"parents": [{"x": 1}]})
        self.assertEqual(obj["spec"], {"rules": []})
        self.assertEqual(self.srv.state()["status_writes"][0]["name"], "r")
        stale = dict(obj, metadata=dict(obj["metadata"], resourceVersion="1"))
        self.assertEqual(self.c.get(base, method="PUT", body=stale).status, 409)


class ControlOverHttpTest(ServerTest):
    """Every control route, through ControlClient (what a test uses with a server process)."""

    def test_control_client_drives_the_server(self):
        ctl = fake_apiserver.ControlClient(self.srv.control_url)
        ctl.apply(pod("a"))
        self.assertEqual(ctl.get("v1", "Pod", "a")["metadata"]["name"], "a")
        ctl.set_tokens(["other"])
        self.assertEqual(self.c.get("/api/v1/pods").status, 401)
        ctl.set_tokens([TOKEN])
        ctl.set_crd("example.com", "v1", "widgets", installed=True, kind="Widget")
        ctl.apply({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
        self.assertEqual(self.list_names("/apis/example.com/v1/namespaces/default/widgets"), ["w"])
        ctl.set_crd("example.com", "v1", "widgets", installed=False)
        self.assertEqual(self.c.get("/apis/example.com/v1/widgets").status, 404)
        ctl.fail_next(1, status=503, match="list")
        self.assertEqual(self.c.get("/api/v1/pods").status, 503)
        ctl.forbid([{"verb": "list", "plural": "pods"}])
        self.assertEqual(self.c.get("/api/v1/pods").status, 403)
        ctl.clear_faults()
        self.assertEqual(self.c.get("/api/v1/pods").status, 200)
        rv = ctl.resource_version()
        ctl.apply(pod("b"))
        self.assertEqual(ctl.compact(), ctl.resource_version())
        ctl.set_faults(watch_410="http")
        self.assertEqual(self.c.get(f"/api/v1/pods?watch=1&resourceVersion={rv}").status, 410)

        def drop():
            ctl.wait_until(lambda st: st["watches_open"] == 1)
            self.assertEqual(ctl.drop_watches("clean"), 1)
        self.assertTrue(self.c.get("/api/v1/pods?watch=1", on_head=drop).complete)
        self.assertGreater(ctl.state()["counts"]["requests"], 5)
        ctl.reset_counts()
        self.assertEqual(ctl.state()["counts"]["requests"], 0)
        self.assertIsNotNone(ctl.delete("v1", "Pod", "a"))
        self.assertEqual([o["metadata"]["name"] for o in ctl.list_objects("v1", "Pod")], ["b"])


class ProcessAndFilesTest(unittest.TestCase):
    def test_cli_ready_line_and_control_api(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        kc = os.path.join(tmp.name, "kubeconfig")
        preload = os.path.join(tmp.name, "objects.json")
        with open(preload, "w") as f:
            json.dump([pod("preloaded")], f)
        proc, ctl, ready = fake_apiserver.start_process(
            ["--token", "t1", "--kubeconfig", kc, "--sa-dir", os.path.join(tmp.name, "sa"),
             "--not-installed", "gateway.networking.k8s.io/v1/httproutes", "--preload", preload])
        self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stdout.close(),
                                 proc.stderr.close()))
        self.assertTrue(ready["apiserver"].startswith("https://127.0.0.1:"))
        self.assertTrue(os.path.exists(ready["ca"]))
        ctl.apply([pod("a"), pod("b")])
        self.assertEqual([o["metadata"]["name"] for o in ctl.list_objects("v1", "Pod")],
                         ["a", "b", "preloaded"])
        self.assertIsNotNone(ctl.delete("v1", "Pod", "a"))
        self.assertIsNone(ctl.delete("v1", "Pod", "a"))
        ctx = ssl.create_default_context(cafile=ready["ca"])
        port = int(ready["apiserver"].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as s, \
                ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"GET /apis/gateway.networking.k8s.io/v1/httproutes HTTP/1.1\r\n"
                      b"Host: x\r\nAuthorization: Bearer t1\r\nConnection: close\r\n\r\n")
            self.assertIn(b" 404 ", t.recv(100))
        st = ctl.state()
        self.assertEqual(st["counts"]["not_found"], 1)
        with open(kc) as f:
            text = f.read()
        self.assertIn(f'server: "{ready["apiserver"]}"', text)
        self.assertIn('token: "t1"', text)
        with open(os.path.join(ready["sa-dir"], "token")) as f:
            self.assertEqual(f.read(), "t1")
        proc.terminate()
        self.assertEqual(proc.wait(timeout=10), 0)

    def test_kubeconfig_embeds_the_ca(self):
        with tempfile.TemporaryDirectory() as d:
            ca = kube_files.make_ca(d)
            path = kube_files.write_kubeconfig(os.path.join(d, "kc"), "https://127.0.0.1:1",
                                               ca_file=ca.cert, token="tok",
                                               extra_contexts=["stale"])
            with open(path) as f:
                text = f.read()
            data = text.split("certificate-authority-data: ", 1)[1].split("\n", 1)[0]
            self.assertEqual(base64.b64decode(data).decode(), ca.cert_pem())
            self.assertTrue(text.endswith("current-context: fake\n"))
            self.assertLess(text.index("name: stale"), text.index("name: fake\n"))

    def test_kubeconfig_with_client_certificate(self):
        with tempfile.TemporaryDirectory() as d:
            ca = kube_files.make_ca(d)
            client = kube_files.make_cert(d, ca, "admin", client=True, org="system:masters")
            inline = open(kube_files.write_kubeconfig(os.path.join(d, "a"), "https://127.0.0.1:1",
                                                      ca_file=ca.cert, client=client)).read()
            data = inline.split("client-certificate-data: ", 1)[1].split("\n", 1)[0]
            self.assertEqual(base64.b64decode(data).decode(), client.cert_pem())
            self.assertIn("client-key-data: ", inline)
            self.assertNotIn("token", inline)
            files = open(kube_files.write_kubeconfig(os.path.join(d, "b"), "https://127.0.0.1:1",
                                                     ca_file=ca.cert, ca_data=False, client=client,
                                                     client_data=False)).read()
            self.assertIn(f'client-certificate: "{client.cert}"', files)
            self.assertIn(f'certificate-authority: "{ca.cert}"', files)
            subject = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", client.cert],
                                     capture_output=True, text=True, check=True).stdout
            self.assertIn("O = system:masters", subject)

    def test_service_account_rotation_swaps_data_symlink(self):
        with tempfile.TemporaryDirectory() as d:
            sa = kube_files.ServiceAccountDir(d)
            sa.write("one", "CA", "ns1")
            self.assertEqual(os.readlink(os.path.join(d, "token")), "..data/token")
            first = os.readlink(os.path.join(d, "..data"))
            sa.rotate("two")
            with open(sa.path("token")) as f:
                self.assertEqual(f.read(), "two")
            with open(sa.path("namespace")) as f:
                self.assertEqual(f.read(), "ns1")
            self.assertNotEqual(os.readlink(os.path.join(d, "..data")), first)
            stamped = [n for n in os.listdir(d) if n.startswith("..") and n != "..data"]
            self.assertEqual(len(stamped), 1)


if __name__ == "__main__":
    unittest.main()

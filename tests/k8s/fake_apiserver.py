#!/usr/bin/env python3
"""A stand-in kube-apiserver for tests (Python 3.11 standard library only).

It follows the documented list/watch semantics of the real API server
(https://kubernetes.io/docs/reference/using-api/api-concepts/) closely enough to test a reflector:
one global resourceVersion counter, paged lists with consistent continue tokens, watches that replay
a bounded event history, bookmarks, both forms of 410 Gone, bearer-token and client-certificate
auth, CRDs that are absent (404) and installed later, and injected faults.

COMMAND LINE
  python3 tests/k8s/fake_apiserver.py [options]
    --host H                 listen address for both ports (default 127.0.0.1)
    --port N                 API port (default 0: OS-chosen)
    --control-port N         control port, plain HTTP (default 0)
    --plain-http             serve the API over plain HTTP instead of HTTPS
    --cert-dir DIR           where the CA/server certificates are written (default: a temp dir)
    --token T                accepted bearer token, repeatable (default: fake-token)
    --client-cert-auth       also accept client certificates signed by the CA (mTLS)
    --bookmark-interval S    seconds between BOOKMARK events (default 1.0)
    --history N              events kept for watch replay (default 1000)
    --watch-410 event|http   how a too-old watch resourceVersion is refused (default event)
    --not-installed G/V/P    resource type absent at start (404), e.g. gateway.networking.k8s.io/v1/httproutes
    --preload FILE           JSON file: a list of objects applied at start
    --kubeconfig PATH        write a kubeconfig (CA data, first token) for the server
    --sa-dir DIR             write a service-account directory (kubelet layout) with the first token
    --seed N                 seed for the random byte splitting (default 0)
    --verbose                log each request to stderr
  Ready line on stdout, once both ports listen (flushed):
    apiserver https://127.0.0.1:PORT control http://127.0.0.1:PORT ca /path/ca.crt [kubeconfig PATH] [sa-dir DIR]
  (`ca -` with --plain-http). SIGTERM/SIGINT stop it.

CONTROL API (plain HTTP JSON on the control port; every answer is JSON)
  POST   /control/objects        body: an object or {"objects": [...]}: create or replace (apply)
  DELETE /control/objects        body: {apiVersion, kind, namespace?, name} -> deleted object, 404 if absent
  GET    /control/objects?apiVersion=&kind=&namespace=   -> {"items": [...]}
  POST   /control/drop-watches   {"mode": "abrupt"|"clean"|"reset"|"partial"|"error"|"expire",
                                 "resource": "pods"?} -> {"dropped": n}  (all open watches, or
                                 only those of one plural)
         abrupt: close without the terminating chunk; clean: terminating chunk then close;
         reset: TCP RST; partial: half of an event line, then close without the terminating chunk;
         error / expire: an ERROR event (Status 500 InternalError / 410 Expired), then the
         terminating chunk
  POST   /control/compact        {"keep": 0} -> {"compacted": rv}: new lists/watches/continue tokens
                                 can start only from the `keep` newest events on (older -> 410);
                                 watches already open still get every event
  POST   /control/tokens         {"tokens": [...]}: the accepted set (others get 401 from now on)
  POST   /control/client-certs   {"enabled": bool}: accept client certificates or not
  POST   /control/crd            {group, version, plural, installed, kind?, namespaced?}: install,
                                 uninstall (404 for everything under it) or declare a new type
  POST   /control/faults         any of: {"split": {"max_piece": 7, "pause_ms": 1, "headers": true} | null,
                                 "delay_ms": 0, "watch_410": "event"|"http", "bookmark_interval": 0.2,
                                 "watch_max_seconds": 2 (the server ends every watch after that long,
                                 cleanly, like kube-apiserver's --min-request-timeout; 0: never),
                                 "stall_watches": true (open watches send nothing, not even
                                 bookmarks, until set false; the events are delivered then),
                                 "fail": [{"status": 500|429|..., "count": N, "match": "any"|"list"|
                                 "watch"|"get"|"write", "path_contains": "...", "retry_after": 1}]}
                                 (fail rules are appended; each answers `count` requests then expires)
  DELETE /control/faults         clear all faults
  POST   /control/forbid         {"rules": [{"verb": "list"|"watch"|"get"|"*", "plural": "pods"}]} -> 403
  GET    /control/state          {"resourceVersion", "compacted", "counts": {...}, "watches_open",
                                 "by_resource": {plural: {list|watch|get|...|not_found: n}},
                                 "watches_open_by_resource": {plural: n},
                                 "requests": [last 200 {method, path, query, verb, status, user}],
                                 "status_writes": [...], "last_tls_error": "why the last TLS
                                 handshake failed (e.g. a client that never sent ClientHello)"}
  POST   /control/reset-counts   zero the counters and the request log
  counts keys: requests lists continues gets watches creates updates patches deletes status_writes
  discovery unauthorized forbidden not_found gone expired_events error_events throttled errors
  bookmarks events watches_dropped tls_failures token_auth cert_auth

PYTHON API (import with tests/k8s on sys.path)
  srv = FakeApiServer(tls=True, tokens=("fake-token",), ...).start()   # also a context manager
  srv.url  srv.control_url  srv.ca_path  srv.ca (CertPair)  srv.client_cert(name, org)
  srv.apply(obj)  srv.delete(api_version, kind, name, namespace)  srv.get(...)  srv.list_objects(...)
  srv.drop_watches(mode, resource=None)  srv.compact(keep=0)  srv.resource_version()
  srv.set_tokens([...])  srv.set_client_cert_auth(bool)
  srv.set_crd(group, version, plural, installed, kind=None, namespaced=True)
  srv.set_faults(split=..., delay_ms=..., watch_410=..., bookmark_interval=..., fail=[...],
                 watch_max_seconds=..., stall_watches=...)
  srv.fail_next(count, status=500, match="any", retry_after=None)  srv.clear_faults()
  srv.forbid(rules)  srv.state()  srv.reset_counts()  srv.wait_until(pred, timeout)
  srv.write_kubeconfig(path, ...)  srv.service_account_dir(dir)  srv.stop()
  ControlClient(control_url) has the same methods over HTTP; start_process(args) runs the CLI and
  returns (Popen, ControlClient, ready_words).

FILES
  fake_apiserver.py      this: FakeApiServer (lifecycle, Python control API, control routes), CLI
  apiserver_api.py       answers to API requests (auth, list, get, writes, watch streams)
  apiserver_store.py     types, objects, resourceVersions, event history, selectors
  apiserver_faults.py    injected faults and counters
  apiserver_http.py      threaded HTTP(S) server, handlers, split writes
  apiserver_control.py   ControlClient and start_process
  kube_files.py          openssl CA/certificates, kubeconfig, service-account directory

SEMANTICS (what a client can rely on)
  - resourceVersions are decimal strings of one global counter; clients must treat them as opaque.
  - list: resourceVersion unset -> current state; "0" -> current state and `limit` is ignored (served
    "from the cache", as the real server does); N with resourceVersionMatch=NotOlderThan (or unset)
    -> current state, 504 if N is in the future; resourceVersionMatch=Exact -> the state at N
    (410 if N is older than the history). `limit` pages; `continue` serves the next page of the SAME
    snapshot (410 Expired once the history no longer reaches the list's resourceVersion).
    Items are ordered by namespace/name; metadata.remainingItemCount when paged without selectors.
  - watch (watch=1|true): resourceVersion unset or "0" -> synthetic ADDED for every current object,
    then changes; N -> every change after N (410 if N is older than the history, as an HTTP status
    or a 200 stream with one ERROR event, per watch_410). sendInitialEvents=true -> synthetic ADDED
    then a BOOKMARK annotated k8s.io/initial-events-end=true. allowWatchBookmarks=true -> a BOOKMARK
    ({kind, apiVersion, metadata: {resourceVersion}}) every bookmark_interval seconds; it carries the
    newest resourceVersion (everything up to it was delivered). timeoutSeconds ends the stream with
    the terminating chunk. With a labelSelector, an object leaving the selection arrives as DELETED
    and one entering it as ADDED. Events are newline-terminated JSON, each in its own HTTP chunk
    (split across several chunks and socket writes when the split fault is on).
  - labelSelector: a=b, a==b, a!=b, a in (x,y), a notin (x,y), a, !a. fieldSelector: any dotted
    path (metadata.name, status.phase, spec.nodeName...) with =, ==, !=. A watch on a named object
    (.../pods/NAME?watch=1) is a metadata.name field selector.
  - Writes through the API: POST (201; 409 if it exists), PUT (409 on a stale
    metadata.resourceVersion), PATCH (merge, strategic-merge and apply-patch content types, all as
    a JSON merge patch), DELETE; PUT/PATCH on .../NAME/status change only status and are recorded
    in state()["status_writes"].
  - Discovery (/api, /api/v1, /apis, /apis/G, /apis/G/V) lists installed types only. /healthz,
    /readyz, /livez and /version need no credentials; everything else does (401 Status otherwise).
  - Separate API versions of a group are separate stores (no conversion between them).
  - Objects may be applied to a type that is not installed; they become visible when it is.
"""
import argparse
import copy
import json
import os
import signal
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kube_files  # noqa: E402

from apiserver_api import ApiRequests  # noqa: E402
from apiserver_control import ControlClient, start_process  # noqa: E402,F401
from apiserver_faults import Faults, Stats  # noqa: E402
from apiserver_http import ApiHandler, ApiHttpServer, ControlHandler  # noqa: E402
from apiserver_store import ApiError, ResourceType, Store  # noqa: E402


# --------------------------------------------------------------------------------------------
# Faults and counters


# --------------------------------------------------------------------------------------------
# HTTP plumbing


# --------------------------------------------------------------------------------------------
# The server

class FakeApiServer(ApiRequests):
    def __init__(self, host="127.0.0.1", port=0, control_port=0, tls=True, cert_dir=None,
                 tokens=("fake-token",), client_cert_auth=False, bookmark_interval=1.0,
                 history=1000, watch_410="event", seed=0, verbose=False, control=True):
        self.host, self.port, self.control_port = host, port, control_port
        self.tls, self.cert_dir = tls, cert_dir
        self.tokens = set(tokens)
        self.client_cert_auth = client_cert_auth
        self.verbose = verbose
        self.with_control = control
        self.store = Store(history)
        self.faults = Faults(seed, watch_410, bookmark_interval)
        self.stats = Stats()
        self.watches = {}  # id -> handler thread's drop mode slot
        self.watch_lock = threading.Lock()
        self.drop_set = {}  # watch id -> drop mode, for watches told to end
        self.last_tls_error = ""
        self.ca = None
        self._tmp = None
        self._servers = []

    # ---- lifecycle
    def start(self):
        ctx = None
        if self.tls:
            if not self.cert_dir:
                self._tmp = tempfile.TemporaryDirectory(prefix="fake-apiserver-")
                self.cert_dir = self._tmp.name
            self.ca = kube_files.make_ca(self.cert_dir)
            server = kube_files.make_cert(self.cert_dir, self.ca, "apiserver", server=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(server.cert, server.key)
            ctx.load_verify_locations(self.ca.cert)
            ctx.verify_mode = ssl.CERT_OPTIONAL  # client certificates accepted, never required
        self.api = ApiHttpServer((self.host, self.port), ApiHandler, self, ctx)
        self._serve(self.api)
        if self.with_control:
            self.control = ApiHttpServer((self.host, self.control_port), ControlHandler, self, None)
            self._serve(self.control)
        return self

    def _serve(self, srv):
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        t.start()
        self._servers.append((srv, t))

    def stop(self):
        self.drop_watches("abrupt", wait=0.5)
        for srv, t in self._servers:
            srv.shutdown()
            srv.close_all()
            srv.server_close()
            t.join(timeout=5)
        self._servers = []
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start() if not self._servers else self

    def __exit__(self, *exc):
        self.stop()

    def _host_for_url(self):
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def url(self):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self._host_for_url()}:{self.api.server_address[1]}"

    @property
    def control_url(self):
        return f"http://{self._host_for_url()}:{self.control.server_address[1]}"

    @property
    def ca_path(self):
        return self.ca.cert if self.ca else None

    def client_cert(self, name="admin", org="system:masters"):
        """A client certificate signed by the server's CA (accepted when client_cert_auth)."""
        return kube_files.make_cert(self.cert_dir, self.ca, name, client=True, org=org)

    def write_kubeconfig(self, path, token=None, **kw):
        if token is None and "client" not in kw and "token_file" not in kw:
            token = sorted(self.tokens)[0] if self.tokens else None
        return kube_files.write_kubeconfig(path, self.url, ca_file=self.ca_path, token=token, **kw)

    def service_account_dir(self, directory, token=None, namespace="default"):
        sa = kube_files.ServiceAccountDir(directory)
        token = token if token is not None else (sorted(self.tokens)[0] if self.tokens else "")
        sa.write(token, self.ca.cert_pem() if self.ca else "", namespace)
        return sa

    # ---- Python control API (same names as ControlClient)
    def apply(self, obj):
        if isinstance(obj, list):
            return [self.store.apply(o) for o in obj]
        return self.store.apply(obj)

    def delete(self, api_version, kind, name, namespace="default"):
        return self.store.delete(api_version, kind, name, namespace)

    def get(self, api_version, kind, name, namespace="default"):
        return self.store.get(api_version, kind, name, namespace)

    def list_objects(self, api_version=None, kind=None, namespace=None):
        with self.store.cond:
            out = []
            for t in self.store.types.values():
                if api_version and t.api_version != api_version or kind and t.kind != kind:
                    continue
                for obj in self.store.snapshot(t.key):
                    if namespace is None or obj["metadata"].get("namespace") == namespace:
                        out.append(copy.deepcopy(obj))
            return out

    def resource_version(self):
        return str(self.store.rv)

    DROP_MODES = ("abrupt", "clean", "reset", "partial", "error", "expire")

    def drop_watches(self, mode="abrupt", wait=2.0, resource=None):
        """Ends the open watches (of one plural, e.g. "pods", when `resource` is given); returns how
        many. Waits (bounded) until their handlers have acted, so the drop has happened on return."""
        if mode not in self.DROP_MODES:
            raise ApiError(400, "mode must be one of " + ", ".join(self.DROP_MODES))
        with self.watch_lock:
            open_now = {w for w, key in self.watches.items() if resource in (None, key[2])}
        with self.store.cond:
            for w in open_now:
                self.drop_set[w] = mode
            self.store.cond.notify_all()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self.watch_lock:
                if not open_now & set(self.watches):
                    break
            time.sleep(0.005)
        with self.store.cond:
            for w in open_now:
                self.drop_set.pop(w, None)
        return len(open_now)

    def compact(self, keep=0):
        return str(self.store.compact(keep))

    def set_tokens(self, tokens):
        self.tokens = set(tokens)

    def set_client_cert_auth(self, enabled):
        self.client_cert_auth = bool(enabled)

    def set_crd(self, group, version, plural, installed=True, kind=None, namespaced=True):
        with self.store.cond:
            t = self.store.types.get((group, version, plural))
            if t is None:
                if not kind:
                    raise ApiError(400, "a new type needs kind")
                self.store.declare(ResourceType(group, version, plural, kind, namespaced, installed))
            else:
                t.installed = bool(installed)
            if not installed:
                self.store.cond.notify_all()  # its watches end (terminating chunk), as on a real server
        deadline = time.monotonic() + 2.0
        while not installed and time.monotonic() < deadline:
            with self.watch_lock:
                if (group, version, plural) not in self.watches.values():
                    break
            time.sleep(0.005)

    def set_faults(self, **cfg):
        self.faults.update(cfg)
        with self.store.cond:
            self.store.cond.notify_all()  # open watches see new bookmark/stall settings now

    def fail_next(self, count, status=500, match="any", retry_after=None, path_contains=""):
        self.faults.update({"fail": [{"status": status, "count": count, "match": match,
                                      "retry_after": retry_after, "path_contains": path_contains}]})

    def clear_faults(self):
        self.faults.clear()

    def forbid(self, rules):
        self.faults.update({"forbid": rules})

    def state(self):
        with self.stats.lock:
            counts = dict(self.stats.counts)
            requests = list(self.stats.requests)
            writes = list(self.stats.status_writes)
            by_resource = {k: dict(v) for k, v in self.stats.by_resource.items()}
        with self.watch_lock:
            keys = list(self.watches.values())
        open_by_resource = {}
        for key in keys:
            open_by_resource[key[2]] = open_by_resource.get(key[2], 0) + 1
        return {"resourceVersion": str(self.store.rv), "compacted": str(self.store.compacted),
                "counts": counts, "by_resource": by_resource, "watches_open": len(keys),
                "watches_open_by_resource": open_by_resource, "requests": requests,
                "status_writes": writes, "tokens": len(self.tokens),
                "last_tls_error": self.last_tls_error}

    def reset_counts(self):
        self.stats.reset()

    def wait_until(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            st = self.state()
            if pred(st):
                return st
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met; state counts={st['counts']} "
                                   f"watches_open={st['watches_open']}")
            time.sleep(0.01)


    # ---- control API over HTTP
    def handle_control(self, h):
        url = urllib.parse.urlsplit(h.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        n = int(h.headers.get("Content-Length") or 0)
        try:
            doc = json.loads(h.rfile.read(n) or b"{}") if n else {}
        except ValueError:
            return h.reply(400, {"error": "body is not JSON"})
        route = (h.command, url.path.rstrip("/"))
        try:
            if route == ("POST", "/control/objects"):
                if "objects" in doc:
                    return h.reply(200, {"items": self.apply(doc["objects"])})
                return h.reply(200, self.apply(doc))
            if route == ("DELETE", "/control/objects"):
                obj = self.delete(doc["apiVersion"], doc["kind"], doc["name"],
                                  doc.get("namespace", "default"))
                return h.reply(200 if obj else 404, obj or {"error": "not found"})
            if route == ("GET", "/control/objects"):
                return h.reply(200, {"items": self.list_objects(q.get("apiVersion"), q.get("kind"),
                                                                q.get("namespace"))})
            if route == ("POST", "/control/drop-watches"):
                return h.reply(200, {"dropped": self.drop_watches(doc.get("mode", "abrupt"),
                                                                  resource=doc.get("resource"))})
            if route == ("POST", "/control/compact"):
                return h.reply(200, {"compacted": self.compact(int(doc.get("keep", 0)))})
            if route == ("POST", "/control/tokens"):
                self.set_tokens(doc["tokens"])
                return h.reply(200, {"tokens": len(self.tokens)})
            if route == ("POST", "/control/client-certs"):
                self.set_client_cert_auth(doc.get("enabled", True))
                return h.reply(200, {"enabled": self.client_cert_auth})
            if route == ("POST", "/control/crd"):
                self.set_crd(doc["group"], doc["version"], doc["plural"],
                             doc.get("installed", True), doc.get("kind"), doc.get("namespaced", True))
                return h.reply(200, {"ok": True})
            if route == ("POST", "/control/faults"):
                self.set_faults(**doc)
                return h.reply(200, {"ok": True})
            if route == ("DELETE", "/control/faults"):
                self.clear_faults()
                return h.reply(200, {"ok": True})
            if route == ("POST", "/control/forbid"):
                self.forbid(doc.get("rules", []))
                return h.reply(200, {"ok": True})
            if route == ("GET", "/control/state"):
                return h.reply(200, self.state())
            if route == ("POST", "/control/reset-counts"):
                self.reset_counts()
                return h.reply(200, {"ok": True})
            return h.reply(404, {"error": f"no control route {route}"})
        except ApiError as e:
            return h.reply(e.code, {"error": e.body["message"]})
        except (KeyError, TypeError, ValueError) as e:
            return h.reply(400, {"error": f"bad request: {e!r}"})


# --------------------------------------------------------------------------------------------
# Control over HTTP (for a server started as a process)


def main(argv=None):
    p = argparse.ArgumentParser(description="stand-in kube-apiserver for tests (see module doc)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--plain-http", action="store_true")
    p.add_argument("--cert-dir")
    p.add_argument("--token", action="append")
    p.add_argument("--client-cert-auth", action="store_true")
    p.add_argument("--bookmark-interval", type=float, default=1.0)
    p.add_argument("--history", type=int, default=1000)
    p.add_argument("--watch-410", choices=("event", "http"), default="event")
    p.add_argument("--not-installed", action="append", default=[])
    p.add_argument("--preload")
    p.add_argument("--kubeconfig")
    p.add_argument("--sa-dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    srv = FakeApiServer(host=a.host, port=a.port, control_port=a.control_port, tls=not a.plain_http,
                        cert_dir=a.cert_dir, tokens=a.token or ["fake-token"],
                        client_cert_auth=a.client_cert_auth, bookmark_interval=a.bookmark_interval,
                        history=a.history, watch_410=a.watch_410, seed=a.seed, verbose=a.verbose)
    for spec in a.not_installed:
        parts = spec.split("/")
        group, version, plural = (parts if len(parts) == 3 else ["", *parts])
        group = "" if group == "core" else group
        key = (group, version, plural)
        if key not in srv.store.types:
            p.error(f"unknown type {spec}")
        srv.store.types[key].installed = False
    if a.preload:
        with open(a.preload) as f:
            srv.apply(json.load(f))
    srv.start()
    line = f"apiserver {srv.url} control {srv.control_url} ca {srv.ca_path or '-'}"
    if a.kubeconfig:
        srv.write_kubeconfig(a.kubeconfig)
        line += f" kubeconfig {a.kubeconfig}"
    if a.sa_dir:
        srv.service_account_dir(a.sa_dir)
        line += f" sa-dir {a.sa_dir}"
    print(line, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    srv.stop()


if __name__ == "__main__":
    main()

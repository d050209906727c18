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
  POST   /control/drop-watches   {"mode": "abrupt"|"clean"|"reset"|"partial"} -> {"dropped": n}
         abrupt: close without the terminating chunk; clean: terminating chunk then close;
         reset: TCP RST; partial: half of an event line, then close without the terminating chunk
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
                                 "fail": [{"status": 500|429|..., "count": N, "match": "any"|"list"|
                                 "watch"|"get"|"write", "path_contains": "...", "retry_after": 1}]}
                                 (fail rules are appended; each answers `count` requests then expires)
  DELETE /control/faults         clear all faults
  POST   /control/forbid         {"rules": [{"verb": "list"|"watch"|"get"|"*", "plural": "pods"}]} -> 403
  GET    /control/state          {"resourceVersion", "compacted", "counts": {...}, "watches_open",
                                 "requests": [last 200 {method, path, query, verb, status, user}],
                                 "status_writes": [...]}
  POST   /control/reset-counts   zero the counters and the request log
  counts keys: requests lists continues gets watches creates updates patches deletes status_writes
  discovery unauthorized forbidden not_found gone expired_events throttled errors bookmarks events
  watches_dropped tls_failures token_auth cert_auth

PYTHON API (import with tests/k8s on sys.path)
  srv = FakeApiServer(tls=True, tokens=("fake-token",), ...).start()   # also a context manager
  srv.url  srv.control_url  srv.ca_path  srv.ca (CertPair)  srv.client_cert(name, org)
  srv.apply(obj)  srv.delete(api_version, kind, name, namespace)  srv.get(...)  srv.list_objects(...)
  srv.drop_watches(mode)  srv.compact(keep=0)  srv.set_tokens([...])  srv.set_client_cert_auth(b)
  srv.set_crd(group, version, plural, installed, kind=None, namespaced=True)
  srv.set_faults(split=..., delay_ms=..., watch_410=..., bookmark_interval=..., fail=[...])
  srv.fail_next(count, status=500, match="any", retry_after=None)  srv.clear_faults()
  srv.forbid(rules)  srv.state()  srv.reset_counts()  srv.wait_until(pred, timeout)
  srv.write_kubeconfig(path, ...)  srv.service_account_dir(dir)  srv.stop()
  ControlClient(control_url) has the same methods over HTTP; start_process(args) runs the CLI and
  returns (Popen, ControlClient, ready_words).

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
  - Separate API versions of a group are separate stores (no conversion between them).
  - Objects may be applied to a type that is not installed; they become visible when it is.
"""
import argparse
import base64
import copy
import http.server
import json
import os
import random
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kube_files  # noqa: E402

from apiserver_store import (CORE, ApiError, ResourceType, Store, parse_field_selector,  # noqa: E402,F401
                             parse_label_selector, status_object)

COUNT_KEYS = ("requests lists continues gets watches creates updates patches deletes status_writes "
              "discovery unauthorized forbidden not_found gone expired_events throttled errors "
              "bookmarks events watches_dropped tls_failures token_auth cert_auth").split()


# --------------------------------------------------------------------------------------------
# Faults and counters

class Faults:
    def __init__(self, seed=0, watch_410="event", bookmark_interval=1.0):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.split = None  # {"max_piece", "pause_ms", "headers"}
        self.delay_ms = 0
        self.watch_410 = watch_410
        self.bookmark_interval = bookmark_interval
        self.watch_max_seconds = 0.0
        self.fail = []  # [{"status", "count", "match", "path_contains", "retry_after"}]
        self.forbid = []

    def update(self, cfg):
        with self.lock:
            if "split" in cfg:
                s = cfg["split"]
                self.split = None if not s else {"max_piece": int(s.get("max_piece", 7)),
                                                 "pause_ms": float(s.get("pause_ms", 1)),
                                                 "headers": bool(s.get("headers", True))}
            if "delay_ms" in cfg:
                self.delay_ms = float(cfg["delay_ms"])
            if "watch_410" in cfg:
                if cfg["watch_410"] not in ("event", "http"):
                    raise ApiError(400, "watch_410 must be event or http")
                self.watch_410 = cfg["watch_410"]
            if "bookmark_interval" in cfg:
                self.bookmark_interval = float(cfg["bookmark_interval"])
            if "watch_max_seconds" in cfg:
                self.watch_max_seconds = float(cfg["watch_max_seconds"] or 0)
            for rule in cfg.get("fail", []):
                self.fail.append({"status": int(rule.get("status", 500)),
                                  "count": int(rule.get("count", 1)),
                                  "match": rule.get("match", "any"),
                                  "path_contains": rule.get("path_contains", ""),
                                  "retry_after": rule.get("retry_after")})
            if "forbid" in cfg:
                self.forbid = list(cfg["forbid"])

    def clear(self):
        with self.lock:
            self.split, self.delay_ms, self.fail, self.forbid = None, 0, [], []
            self.watch_max_seconds = 0.0

    def take_failure(self, verb, path):
        with self.lock:
            for rule in self.fail:
                if rule["match"] not in ("any", verb) and not (
                        rule["match"] == "write" and verb in ("create", "update", "patch", "delete")):
                    continue
                if rule["path_contains"] and rule["path_contains"] not in path:
                    continue
                rule["count"] -= 1
                if rule["count"] <= 0:
                    self.fail.remove(rule)
                return rule
        return None

    def forbidden(self, verb, plural):
        with self.lock:
            return any(r.get("verb", "*") in ("*", verb) and r.get("plural", "*") in ("*", plural)
                       for r in self.forbid)

    def pieces(self, data):
        """Random partition of data into 1..max_piece byte pieces (None: no splitting)."""
        with self.lock:
            if not self.split:
                return None
            out, i = [], 0
            while i < len(data):
                n = self.rng.randint(1, self.split["max_piece"])
                out.append(data[i:i + n])
                i += n
            return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.counts = {k: 0 for k in COUNT_KEYS}
            self.requests = deque(maxlen=200)
            self.status_writes = deque(maxlen=200)

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n


# --------------------------------------------------------------------------------------------
# HTTP plumbing

class _Dropped(Exception):
    """The watch was dropped on purpose (control) or the client went away."""


class ApiHttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, app, ssl_ctx):
        self.app = app
        self.ssl_ctx = ssl_ctx
        self.open_sockets = set()
        self.sockets_lock = threading.Lock()
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # Runs on the connection's own thread: the TLS handshake never blocks the accept loop.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_ctx is not None:
            request.settimeout(5)
            try:
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                self.app.stats.add("tls_failures")
                request.close()
                return
            request.settimeout(None)
        with self.sockets_lock:
            self.open_sockets.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(request)
            if self.ssl_ctx is not None:
                request.close()  # the raw socket handed to shutdown_request() is detached

    def shutdown_request(self, request):
        try:
            request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        request.close()

    def close_all(self):
        with self.sockets_lock:
            socks = list(self.open_sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("apiserver: " + (fmt % args) + "\n")

    def do_GET(self):
        self.server.app.handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # Writes go through the splitter so any response can arrive in tiny pieces.
    def write_raw(self, data, split_ok=True):
        app = self.server.app
        pieces = app.faults.pieces(data) if split_ok else None
        if not pieces:
            self.wfile.write(data)
            return
        pause = app.faults.split["pause_ms"] / 1000.0 if app.faults.split else 0
        for p in pieces:
            self.wfile.write(p)
            if pause:
                time.sleep(pause)

    def head_bytes(self, code, headers):
        lines = [f"HTTP/1.1 {code} {self.responses.get(code, ('',))[0]}",
                 "Date: " + self.date_time_string(),
                 "Cache-Control: no-cache, private",
                 "Audit-Id: " + str(uuid.uuid4())]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def send_json(self, code, body, headers=None):
        data = (json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        hdrs = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        hdrs.update(headers or {})
        if self.close_connection:
            hdrs["Connection"] = "close"
        split = self.server.app.faults.split
        head = self.head_bytes(code, hdrs)
        if split and split["headers"]:
            self.write_raw(head + data)
        else:
            self.write_raw(head, split_ok=False)
            self.write_raw(data)
        self.sent_status = code


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.server.app.handle_control(self)

    do_POST = do_DELETE = do_GET

    def reply(self, code, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# --------------------------------------------------------------------------------------------
# The server

class FakeApiServer:
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
        self.drop_gen = 0
        self.drop_mode = "abrupt"
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

    def drop_watches(self, mode="abrupt", wait=2.0):
        """Ends every open watch now; returns how many were open. Waits (bounded) until their
        handlers have acted, so the drop has happened when this returns."""
        if mode not in ("abrupt", "clean", "reset", "partial"):
            raise ApiError(400, "mode must be abrupt, clean, reset or partial")
        with self.watch_lock:
            open_now = set(self.watches)
        with self.store.cond:
            self.drop_mode = mode
            self.drop_gen += 1
            self.store.cond.notify_all()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self.watch_lock:
                if not open_now & set(self.watches):
                    break
            time.sleep(0.005)
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
                self.store.cond.notify_all()
        if not installed:
            self.drop_watches("clean", wait=0.5)  # watches on a removed CRD end, as on a real server

    def set_faults(self, **cfg):
        self.faults.update(cfg)

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
        with self.watch_lock:
            open_watches = len(self.watches)
        return {"resourceVersion": str(self.store.rv), "compacted": str(self.store.compacted),
                "counts": counts, "watches_open": open_watches, "requests": requests,
                "status_writes": writes, "tokens": len(self.tokens)}

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

    # ---- API request handling
    def handle(self, h):
        h.sent_status = 0
        url = urllib.parse.urlsplit(h.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        entry = {"method": h.command, "path": url.path, "query": query, "verb": "", "status": 0,
                 "user": ""}
        self.stats.add("requests")
        body = h.read_body()
        try:
            if self.faults.delay_ms:
                time.sleep(self.faults.delay_ms / 1000.0)
            entry["user"] = self._authenticate(h)
            self._route(h, url.path, query, body, entry)
        except ApiError as e:
            key = {401: "unauthorized", 403: "forbidden", 404: "not_found", 410: "gone",
                   429: "throttled", 500: "errors"}.get(e.code)
            if key:
                self.stats.add(key)
            try:
                h.send_json(e.code, e.body, e.headers)
            except OSError:
                h.close_connection = True
        except _Dropped:
            h.close_connection = True
        except (OSError, ssl.SSLError):
            h.close_connection = True
        entry["status"] = h.sent_status
        with self.stats.lock:
            self.stats.requests.append(entry)
        if self.verbose:
            sys.stderr.write(f"apiserver: {h.command} {h.path} -> {h.sent_status}\n")

    def _authenticate(self, h):
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:].strip() in self.tokens:
            self.stats.add("token_auth")
            return "token"
        if self.client_cert_auth and isinstance(h.connection, ssl.SSLSocket):
            cert = h.connection.getpeercert()
            if cert:
                cn = dict(x[0] for x in cert.get("subject", ())).get("commonName", "")
                self.stats.add("cert_auth")
                return "cert:" + cn
        raise ApiError(401, "Unauthorized")

    def _route(self, h, path, q, body, entry):
        parts = [p for p in path.split("/") if p]
        if path in ("/healthz", "/readyz", "/livez"):
            return self._send_text(h, 200, "ok")
        if path == "/version":
            return h.send_json(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake"})
        if parts[:1] == ["api"] and len(parts) <= 2 or parts[:1] == ["apis"] and len(parts) <= 3:
            return self._discovery(h, parts)
        if parts[:2] == ["api", "v1"]:
            group, version, rest = CORE, "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "the server could not find the requested resource")
        watch_path = rest[:1] == ["watch"]  # legacy /api/v1/watch/... form
        if watch_path:
            rest = rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        plural, name, sub = (rest + [None, None, None])[:3]
        if len(rest) > 3 or not plural:
            raise ApiError(404, "the server could not find the requested resource")
        rtype = self.store.types.get((group, version, plural))
        if rtype is None or not rtype.installed:
            raise ApiError(404, "the server could not find the requested resource")
        if ns is not None and not rtype.namespaced:
            raise ApiError(404, "the server could not find the requested resource")
        is_watch = watch_path or q.get("watch") in ("1", "true", "True")
        verb = {"GET": "watch" if is_watch else ("get" if name else "list"), "POST": "create",
                "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[h.command]
        entry["verb"] = verb
        if self.faults.forbidden(verb, plural):
            user = entry["user"]
            scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
            raise ApiError(403, f'{plural} is forbidden: User "{user}" cannot {verb} resource '
                                f'"{plural}" in API group "{group}" {scope}',
                           details={"group": group, "kind": plural})
        rule = self.faults.take_failure(verb, path)
        if rule:
            headers = {}
            if rule["retry_after"] is not None:
                headers["Retry-After"] = str(rule["retry_after"])
            msg = ("Too many requests, please try again later." if rule["status"] == 429
                   else "injected failure")
            raise ApiError(rule["status"], msg, headers=headers)
        if verb == "watch":
            return self._watch(h, rtype, ns, q)
        if verb == "list":
            return self._list(h, rtype, ns, q)
        if verb == "get":
            if sub not in (None, "status"):
                raise ApiError(404, "the server could not find the requested resource")
            self.stats.add("gets")
            obj = self.store.get(rtype.api_version, rtype.kind, name, ns)
            if obj is None:
                raise ApiError(404, f'{plural} "{name}" not found',
                               details={"name": name, "kind": plural})
            return h.send_json(200, obj)
        return self._write(h, rtype, ns, name, sub, verb, body)

    def _send_text(self, h, code, text):
        data = text.encode()
        h.write_raw(h.head_bytes(code, {"Content-Type": "text/plain",
                                        "Content-Length": str(len(data))}) + data)
        h.sent_status = code

    def _discovery(self, h, parts):
        self.stats.add("discovery")
        types = [t for t in self.store.types.values() if t.installed]
        if parts == ["api"]:
            return h.send_json(200, {"kind": "APIVersions", "versions": ["v1"]})
        if parts == ["apis"]:
            groups = {}
            for t in types:
                if t.group:
                    groups.setdefault(t.group, set()).add(t.version)
            return h.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}
                                         for v in sorted(vs)]} for g, vs in sorted(groups.items())]})
        if len(parts) == 2 and parts[0] == "apis":
            vs = sorted({t.version for t in types if t.group == parts[1]})
            if not vs:
                raise ApiError(404, "the server could not find the requested resource")
            return h.send_json(200, {"kind": "APIGroup", "apiVersion": "v1", "name": parts[1],
                                     "versions": [{"groupVersion": f"{parts[1]}/{v}", "version": v}
                                                  for v in vs]})
        group, version = (CORE, parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        found = [t for t in types if t.group == group and t.version == version]
        if not found:
            raise ApiError(404, "the server could not find the requested resource")
        gv = f"{group}/{version}" if group else version
        return h.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                                 "resources": [{"name": t.plural, "namespaced": t.namespaced,
                                                "kind": t.kind, "verbs": ["get", "list", "watch",
                                                "create", "update", "patch", "delete"]}
                                               for t in found]})

    @staticmethod
    def _parse_rv(text, what="resourceVersion"):
        try:
            return int(text)
        except (TypeError, ValueError):
            raise ApiError(400, f"invalid {what}: {text!r}", reason="BadRequest")

    def _matcher(self, ns, q):
        labels = parse_label_selector(q.get("labelSelector", ""))
        fields = parse_field_selector(q.get("fieldSelector", ""))
        return lambda o: ((ns is None or o["metadata"].get("namespace") == ns)
                          and labels(o["metadata"].get("labels")) and fields(o))

    # ---- list
    def _list(self, h, rtype, ns, q):
        self.stats.add("lists")
        match = self._matcher(ns, q)
        limit = int(q.get("limit") or 0)
        start_key = None
        rv_param, rv_match = q.get("resourceVersion", ""), q.get("resourceVersionMatch", "")
        with self.store.cond:
            current = self.store.rv
            if q.get("continue"):
                self.stats.add("continues")
                try:
                    tok = json.loads(base64.urlsafe_b64decode(q["continue"].encode()))
                    list_rv, start_key = int(tok["rv"]), tuple(tok["start"])
                except Exception:
                    raise ApiError(400, "invalid continue token", reason="BadRequest")
                if list_rv < self.store.compacted:
                    raise ApiError(410, "The provided continue parameter is too old to display a "
                                        "consistent list result. You can start a new list without "
                                        "the continue parameter.", reason="Expired")
            elif rv_match == "Exact":
                list_rv = self._parse_rv(rv_param)
                if list_rv > current:
                    raise ApiError(504, f"Too large resource version: {list_rv}, current: {current}",
                                   reason="Timeout")
            elif rv_match in ("", "NotOlderThan"):
                if rv_match == "NotOlderThan" and not rv_param:
                    raise ApiError(422, "resourceVersionMatch NotOlderThan needs resourceVersion",
                                   reason="Invalid")
                if rv_param and self._parse_rv(rv_param) > current:
                    raise ApiError(504, f"Too large resource version: {rv_param}, current: {current}",
                                   reason="Timeout")
                list_rv = current
                if rv_param == "0" and not rv_match:
                    limit = 0  # served from the watch cache: limit ignored (documented behaviour)
            else:
                raise ApiError(400, f"invalid resourceVersionMatch: {rv_match}", reason="BadRequest")
            objs = [o for o in self.store.snapshot(rtype.key, list_rv) if match(o)]
        if start_key is not None:
            objs = [o for o in objs
                    if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start_key]
        meta = {"resourceVersion": str(list_rv)}
        if limit and len(objs) > limit:
            last = objs[limit - 1]["metadata"]
            token = {"rv": list_rv, "start": [last.get("namespace", ""), last["name"]]}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            if not q.get("labelSelector") and not q.get("fieldSelector"):
                meta["remainingItemCount"] = len(objs) - limit
            objs = objs[:limit]
        h.send_json(200, {"kind": rtype.kind + "List", "apiVersion": rtype.api_version,
                          "metadata": meta, "items": objs})

    # ---- writes through the API (status writes are what a controller does)
    def _write(self, h, rtype, ns, name, sub, verb, body):
        key = {"create": "creates", "update": "updates", "patch": "patches", "delete": "deletes"}
        self.stats.add(key[verb])
        if verb == "delete":
            obj = self.store.delete(rtype.api_version, rtype.kind, name, ns)
            if obj is None:
                raise ApiError(404, f'{rtype.plural} "{name}" not found')
            return h.send_json(200, obj)
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            raise ApiError(400, "body is not JSON")
        if verb == "patch":
            ctype = h.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                raise ApiError(415, f"unsupported patch type {ctype}")
            cur = self.store.get(rtype.api_version, rtype.kind, name, ns)
            if cur is None:
                raise ApiError(404, f'{rtype.plural} "{name}" not found')
            doc = merge_patch(cur, doc)
            doc["metadata"].pop("resourceVersion", None)
        doc.setdefault("apiVersion", rtype.api_version)
        doc.setdefault("kind", rtype.kind)
        meta = doc.setdefault("metadata", {})
        if ns is not None:
            meta["namespace"] = ns
        if name:
            meta.setdefault("name", name)
            if meta["name"] != name:
                raise ApiError(400, "name in body does not match the URL")
        status_only = sub == "status"
        if status_only:
            self.stats.add("status_writes")
            with self.stats.lock:
                self.stats.status_writes.append({"plural": rtype.plural, "namespace": ns,
                                                 "name": name, "status": doc.get("status")})
        obj = self.store.apply(doc, create_only=(verb == "create"),
                               expect_rv=meta.get("resourceVersion") if verb == "update" else None,
                               status_only=status_only)
        h.send_json(201 if verb == "create" else 200, obj)

    # ---- watch
    def _watch(self, h, rtype, ns, q):
        self.stats.add("watches")
        match = self._matcher(ns, q)
        rv_param = q.get("resourceVersion", "")
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true", "True")
        send_initial = q.get("sendInitialEvents") in ("1", "true", "True")
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        initial, too_old = [], False
        with self.store.cond:
            if send_initial or rv_param in ("", "0"):
                cursor = self.store.rv
                initial = [o for o in self.store.snapshot(rtype.key) if match(o)]
            else:
                cursor = self._parse_rv(rv_param)
                too_old = cursor < self.store.compacted
            drop_gen = self.drop_gen
        expired = too_old
        if expired and self.faults.watch_410 == "http":
            raise ApiError(410, f"too old resource version: {cursor} ({self.store.compacted})")
        wid = object()
        with self.watch_lock:
            self.watches[wid] = rtype.plural
        try:
            self._stream(h, rtype, q, match, cursor, initial, expired, bookmarks, send_initial,
                         timeout, drop_gen)
        finally:
            with self.watch_lock:
                del self.watches[wid]

    def _event_line(self, etype, obj):
        return (json.dumps({"type": etype, "object": obj}, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    def _chunk(self, h, data):
        pieces = self.faults.pieces(data) or [data]
        h.write_raw(b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces))

    def _bookmark(self, rtype, rv, initial_end=False):
        meta = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta}

    def _stream(self, h, rtype, q, match, cursor, initial, expired, bookmarks, send_initial,
                timeout, drop_gen):
        h.write_raw(h.head_bytes(200, {"Content-Type": "application/json",
                                       "Transfer-Encoding": "chunked"}),
                    split_ok=bool(self.faults.split and self.faults.split["headers"]))
        h.sent_status = 200
        if expired:
            self.stats.add("expired_events")
            status = status_object(410, f"too old resource version: {cursor} ({self.store.compacted})")
            self._chunk(h, self._event_line("ERROR", status))
            return self._end_stream(h)
        for obj in initial:
            self._chunk(h, self._event_line("ADDED", obj))
            self.stats.add("events")
        if send_initial and bookmarks:
            self._chunk(h, self._event_line("BOOKMARK", self._bookmark(rtype, cursor, True)))
            self.stats.add("bookmarks")
        start = time.monotonic()
        limits = [x for x in (timeout, self.faults.watch_max_seconds) if x]
        deadline = start + min(limits) if limits else None
        next_bookmark = start + self.faults.bookmark_interval
        sock = h.connection
        while True:
            with self.store.cond:
                while True:
                    now = time.monotonic()
                    if self.drop_gen != drop_gen or not rtype.installed:
                        break
                    if self.store.rv > cursor or (deadline and now >= deadline):
                        break
                    if bookmarks and now >= next_bookmark:
                        break
                    wake = min(x for x in (deadline, next_bookmark if bookmarks else None,
                                           now + 0.5) if x)
                    self.store.cond.wait(max(0.0, wake - now))
                    if self.store.rv <= cursor and _peer_closed(sock):
                        raise _Dropped()
                if self.drop_gen != drop_gen:
                    return self._drop(h, self.drop_mode)
                if not rtype.installed:
                    return self._end_stream(h)
                if cursor < self.store.trimmed:  # a watcher slower than the bounded history
                    events, expired_now = [], True
                else:
                    events, expired_now = self.store.events_after(rtype.key, cursor), False
                compacted = self.store.trimmed
                cursor = max(cursor, self.store.rv)
            if expired_now:  # the history moved past this watch while it was open
                self.stats.add("expired_events")
                status = status_object(410, f"too old resource version: {cursor} ({compacted})")
                self._chunk(h, self._event_line("ERROR", status))
                return self._end_stream(h)
            for ev in events:
                out = self._filtered(ev, match)
                if out:
                    self._chunk(h, self._event_line(out, ev.obj))
                    self.stats.add("events")
            now = time.monotonic()
            if bookmarks and now >= next_bookmark:
                self._chunk(h, self._event_line("BOOKMARK", self._bookmark(rtype, cursor)))
                self.stats.add("bookmarks")
                next_bookmark = now + self.faults.bookmark_interval
            if deadline and now >= deadline:
                return self._end_stream(h)

    @staticmethod
    def _filtered(ev, match):
        """Event type as seen through a selector (None: not sent)."""
        old = ev.prev is not None and match(ev.prev)
        new = match(ev.obj)
        if ev.kind == "ADDED":
            return "ADDED" if new else None
        if ev.kind == "DELETED":
            return "DELETED" if old else None
        if old and new:
            return "MODIFIED"
        return "DELETED" if old else ("ADDED" if new else None)

    def _end_stream(self, h):
        h.write_raw(b"0\r\n\r\n", split_ok=False)

    def _drop(self, h, mode):
        sock = h.connection
        try:
            if mode == "clean":
                self._end_stream(h)
            elif mode == "partial":
                line = self._event_line("MODIFIED", {"kind": "Partial", "metadata": {
                    "name": "never-complete", "resourceVersion": "1"}})
                half = line[:len(line) // 2]
                h.write_raw(b"%x\r\n%s" % (len(line), half), split_ok=False)
            elif mode == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            self.stats.add("watches_dropped")
            if mode != "reset":
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if mode == "reset":
            sock.close()  # with SO_LINGER 0 the close sends a TCP RST
        raise _Dropped()

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
                return h.reply(200, {"dropped": self.drop_watches(doc.get("mode", "abrupt"))})
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


def _peer_closed(sock):
    """True when the client has closed its side (readable with nothing to read)."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        if isinstance(sock, ssl.SSLSocket):
            sock.setblocking(False)
            try:
                return sock.recv(1) == b""
            except ssl.SSLWantReadError:
                return False
            finally:
                sock.setblocking(True)
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# --------------------------------------------------------------------------------------------
# Control over HTTP (for a server started as a process)

class ControlClient:
    """The FakeApiServer control methods, over the control port."""

    def __init__(self, control_url):
        self.control_url = control_url.rstrip("/")

    def _call(self, method, path, body=None, ok=(200,)):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.control_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            if e.code in ok:
                return json.loads(e.read())
            raise RuntimeError(f"control {method} {path}: {e.code} {e.read()!r}")

    def apply(self, obj):
        if isinstance(obj, list):
            return self._call("POST", "/control/objects", {"objects": obj})["items"]
        return self._call("POST", "/control/objects", obj)

    def delete(self, api_version, kind, name, namespace="default"):
        r = self._call("DELETE", "/control/objects", {"apiVersion": api_version, "kind": kind,
                                                      "name": name, "namespace": namespace},
                       ok=(200, 404))
        return None if "error" in r else r

    def get(self, api_version, kind, name, namespace="default"):
        for o in self.list_objects(api_version, kind, namespace):
            if o["metadata"]["name"] == name:
                return o
        return None

    def list_objects(self, api_version=None, kind=None, namespace=None):
        q = urllib.parse.urlencode({k: v for k, v in (("apiVersion", api_version), ("kind", kind),
                                                      ("namespace", namespace)) if v})
        return self._call("GET", "/control/objects" + ("?" + q if q else ""))["items"]

    def resource_version(self):
        return self.state()["resourceVersion"]

    def drop_watches(self, mode="abrupt"):
        return self._call("POST", "/control/drop-watches", {"mode": mode})["dropped"]

    def compact(self, keep=0):
        return self._call("POST", "/control/compact", {"keep": keep})["compacted"]

    def set_tokens(self, tokens):
        self._call("POST", "/control/tokens", {"tokens": list(tokens)})

    def set_client_cert_auth(self, enabled):
        self._call("POST", "/control/client-certs", {"enabled": enabled})

    def set_crd(self, group, version, plural, installed=True, kind=None, namespaced=True):
        self._call("POST", "/control/crd", {"group": group, "version": version, "plural": plural,
                                            "installed": installed, "kind": kind,
                                            "namespaced": namespaced})

    def set_faults(self, **cfg):
        self._call("POST", "/control/faults", cfg)

    def fail_next(self, count, status=500, match="any", retry_after=None, path_contains=""):
        self.set_faults(fail=[{"status": status, "count": count, "match": match,
                               "retry_after": retry_after, "path_contains": path_contains}])

    def clear_faults(self):
        self._call("DELETE", "/control/faults")

    def forbid(self, rules):
        self._call("POST", "/control/forbid", {"rules": rules})

    def state(self):
        return self._call("GET", "/control/state")

    def reset_counts(self):
        self._call("POST", "/control/reset-counts", {})

    def wait_until(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            st = self.state()
            if pred(st):
                return st
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met; counts={st['counts']}")
            time.sleep(0.02)


def start_process(args=(), timeout=20.0):
    """Runs this file as a process; returns (Popen, ControlClient, ready-line words as a dict:
    {"apiserver": url, "control": url, "ca": path, ...})."""
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        r, _, _ = select.select([proc.stdout], [], [], max(0, left))
        chunk = os.read(proc.stdout.fileno(), 4096) if r else b""
        if not chunk:
            proc.kill()
            raise RuntimeError("fake apiserver did not start: " + proc.stderr.read().decode())
        buf += chunk
    words = buf.split(b"\n", 1)[0].decode().split()
    ready = dict(zip(words[0::2], words[1::2]))
    return proc, ControlClient(ready["control"]), ready


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

"""The stand-in API server's answers to API requests: auth, routing, discovery, list (paging and
resourceVersion semantics), get, writes (status subresource, merge patch) and watch streams (replay,
bookmarks, both 410 forms, drops). A mixin of FakeApiServer, whose state it uses (store, faults,
stats, tokens, watches)."""
import base64
import copy
import json
import os
import socket
import ssl
import struct
import sys
import time
import urllib.parse

from apiserver_http import _Dropped, _peer_closed
from apiserver_store import (CORE, ApiError, parse_field_selector, parse_label_selector,
                             status_object)


class ApiRequests:
    # ---- API request handling
    def handle(self, h):
        h.sent_status = 0
        url = urllib.parse.urlsplit(h.path)
        parsed = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in parsed.items()}
        entry = {"method": h.command, "path": url.path, "query": query, "verb": "", "status": 0,
                 "user": ""}
        self.stats.add("requests")
        body = h.read_body()
        try:
            if self.faults.delay_ms:
                time.sleep(self.faults.delay_ms / 1000.0)
            # As kube-apiserver's system:public-info-viewer: health and version need no credentials.
            public = url.path in ("/healthz", "/readyz", "/livez", "/version")
            entry["user"] = "anonymous" if public else self._authenticate(h)
            self._route(h, url.path, query, body, entry)
        except ApiError as e:
            key = {401: "unauthorized", 403: "forbidden", 404: "not_found", 410: "gone",
                   429: "throttled"}.get(e.code) or ("errors" if e.code >= 500 else None)
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
            self.stats.add_resource(plural, "not_found")
            raise ApiError(404, "the server could not find the requested resource")
        if ns is not None and not rtype.namespaced:
            raise ApiError(404, "the server could not find the requested resource")
        is_watch = watch_path or q.get("watch") in ("1", "true", "True")
        verb = {"GET": "watch" if is_watch else ("get" if name else "list"), "POST": "create",
                "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[h.command]
        entry["verb"] = verb
        self.stats.add_resource(plural, verb)
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
            if name:  # watching one object: the same as a metadata.name field selector
                sel = q.get("fieldSelector", "")
                q = dict(q, fieldSelector=(sel + "," if sel else "") + "metadata.name=" + name)
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
                raise ApiError(400, f"invalid resourceVersionMatch: {rv_match}")
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
            # Server-side apply (apply-patch+yaml) is approximated by a merge patch of a JSON body.
            if ctype not in ("application/merge-patch+json",
                             "application/strategic-merge-patch+json",
                             "application/apply-patch+yaml"):
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
        expired = too_old
        if expired and self.faults.watch_410 == "http":
            raise ApiError(410, f"too old resource version: {cursor} ({self.store.compacted})")
        wid = object()
        with self.watch_lock:
            self.watches[wid] = rtype.key
        try:
            self._stream(h, rtype, q, match, cursor, initial, expired, bookmarks, send_initial,
                         timeout, wid)
        finally:
            with self.watch_lock:
                del self.watches[wid]

    def _event_line(self, etype, obj):
        event = {"type": etype, "object": obj}
        return (json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    def _chunk(self, h, data):
        pieces = self.faults.pieces(data) or [data]
        h.write_raw(b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces))

    def _bookmark(self, rtype, rv, initial_end=False):
        meta = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta}

    def _stream(self, h, rtype, q, match, cursor, initial, expired, bookmarks, send_initial,
                timeout, wid):
        h.write_raw(h.head_bytes(200, {"Content-Type": "application/json",
                                       "Transfer-Encoding": "chunked"}),
                    split_ok=bool(self.faults.split and self.faults.split["headers"]))
        h.sent_status = 200
        if expired:
            self.stats.add("expired_events")
            status = status_object(
                410, f"too old resource version: {cursor} ({self.store.compacted})")
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
        last_bookmark = start
        sock = h.connection
        while True:
            with self.store.cond:
                while True:
                    now = time.monotonic()
                    # Read each time: a new interval applies to watches already open.
                    next_bookmark = last_bookmark + self.faults.bookmark_interval
                    if wid in self.drop_set or not rtype.installed:
                        break
                    stalled = self.faults.stall_watches  # a silent, half-dead connection
                    if not stalled and self.store.rv > cursor or deadline and now >= deadline:
                        break
                    if bookmarks and not stalled and now >= next_bookmark:
                        break
                    wake = min(x for x in (deadline, next_bookmark
                                           if bookmarks and not stalled else None, now + 0.5) if x)
                    self.store.cond.wait(max(0.0, wake - now))
                    if (stalled or self.store.rv <= cursor) and _peer_closed(sock):
                        raise _Dropped()
                if wid in self.drop_set:
                    return self._drop(h, self.drop_set[wid])
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
                last_bookmark = now
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
            elif mode in ("error", "expire"):
                code, why = (500, "injected watch error") if mode == "error" else (
                    410, "too old resource version: injected expiry")
                self._chunk(h, self._event_line("ERROR", status_object(code, why)))
                self.stats.add("expired_events" if code == 410 else "error_events")
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
            # Close the descriptor now (SO_LINGER 0: a TCP RST); sock.close() would wait for the
            # handler's file objects to be released.
            os.close(sock.detach())
        raise _Dropped()


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

"""Driving a stand-in API server from a test: ControlClient (the FakeApiServer control methods
over the control port) and start_process (run fake_apiserver.py as a process, read its ready
line)."""
import json
import os
import select
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


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

    def drop_watches(self, mode="abrupt", resource=None):
        return self._call("POST", "/control/drop-watches",
                          {"mode": mode, "resource": resource})["dropped"]

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
    """Runs fake_apiserver.py as a process; returns (Popen, ControlClient, ready-line words as a dict:
    {"apiserver": url, "control": url, "ca": path, ...})."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_apiserver.py")
    proc = subprocess.Popen([sys.executable, script, *args],
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

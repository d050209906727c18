"""The stand-in API server's data: resource types, objects, one global resourceVersion counter, a
bounded event history (for watch replay and for snapshots at an older resourceVersion), label and
field selectors, and the Status objects errors are reported with. No I/O here."""
import copy
import threading
import time
import uuid
from collections import deque

START_RV = 10000
CORE = ""

# (group, version, plural, kind, namespaced): the types infergate watches.
DEFAULT_TYPES = [
    (CORE, "v1", "pods", "Pod", True),
    ("inference.networking.k8s.io", "v1", "inferencepools", "InferencePool", True),
    ("inference.networking.x-k8s.io", "v1alpha2", "inferencepools", "InferencePool", True),
    ("inference.networking.x-k8s.io", "v1alpha2", "inferencemodels", "InferenceModel", True),
    ("inference.networking.x-k8s.io", "v1alpha2", "inferenceobjectives", "InferenceObjective", True),
    ("inference.networking.x-k8s.io", "v1alpha1", "inferencepools", "InferencePool", True),
    ("inference.networking.x-k8s.io", "v1alpha1", "inferencemodels", "InferenceModel", True),
    ("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", True),
    ("gateway.networking.k8s.io", "v1beta1", "referencegrants", "ReferenceGrant", True),
]

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
           422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable", 504: "Timeout"}


def status_object(code, message, reason=None, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason or REASONS.get(code, ""), "code": code}
    if details:
        body["details"] = details
    return body


def split_api_version(api_version):
    return tuple(api_version.split("/", 1)) if "/" in api_version else (CORE, api_version)


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ApiError(Exception):
    def __init__(self, code, message, reason=None, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.body = status_object(code, message, reason, details)
        self.headers = headers or {}


# --------------------------------------------------------------------------------------------
# Selectors

def parse_label_selector(text):
    """Returns a predicate on a labels dict. Supports a=b, a==b, a!=b, a in (x,y), a notin (x,y),
    a, !a; requirements separated by commas (outside parentheses)."""
    reqs, depth, cur = [], 0, ""
    for ch in text or "":
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            reqs.append(cur)
            cur = ""
        else:
            cur += ch
    reqs.append(cur)
    tests = []
    for r in (x.strip() for x in reqs):
        if not r:
            continue
        words = r.split(None, 1)
        if len(words) == 2 and words[1].split(None, 1)[0] in ("in", "notin"):
            op, rest = words[1].split(None, 1)
            rest = rest.strip()
            if not (rest.startswith("(") and rest.endswith(")")):
                raise ApiError(400, f"unable to parse requirement: {r}")
            values = {v.strip() for v in rest[1:-1].split(",") if v.strip()}
            key = words[0]
            if op == "in":
                tests.append(lambda l, k=key, v=values: l.get(k) in v)
            else:
                tests.append(lambda l, k=key, v=values: l.get(k) not in v)
        elif "!=" in r:
            k, v = (s.strip() for s in r.split("!=", 1))
            tests.append(lambda l, k=k, v=v: l.get(k) != v)
        elif "==" in r or "=" in r:
            k, v = (s.strip() for s in r.replace("==", "=", 1).split("=", 1))
            tests.append(lambda l, k=k, v=v: l.get(k) == v)
        elif r.startswith("!"):
            tests.append(lambda l, k=r[1:].strip(): k not in l)
        else:
            tests.append(lambda l, k=r: k in l)
    return lambda labels: all(t(labels or {}) for t in tests)


def parse_field_selector(text):
    """`path.to.field=value`, `==`, `!=`, comma-separated. Any dotted path of the object is accepted
    (the real server allows a few per type: metadata.name, metadata.namespace, and for pods
    status.phase, status.podIP, spec.nodeName...); a missing field compares as ""."""
    tests = []
    for r in (x.strip() for x in (text or "").split(",")):
        if not r:
            continue
        neg = "!=" in r
        k, v = (s.strip() for s in r.replace("!=", "=").replace("==", "=").split("=", 1))
        if not k:
            raise ApiError(400, f"invalid field selector: {r}")
        tests.append(lambda o, path=k.split("."), v=v, neg=neg: (_field(o, path) == v) != neg)
    return lambda obj: all(t(obj) for t in tests)


def _field(obj, path):
    for part in path:
        obj = obj.get(part) if isinstance(obj, dict) else None
    return "" if obj is None else str(obj)


# --------------------------------------------------------------------------------------------
# Store: types, objects, the global resourceVersion and the event history

class ResourceType:
    def __init__(self, group, version, plural, kind, namespaced=True, installed=True):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.installed = namespaced, installed

    @property
    def key(self):
        return (self.group, self.version, self.plural)

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version


class Event:
    __slots__ = ("rv", "type_key", "kind", "obj", "prev")

    def __init__(self, rv, type_key, kind, obj, prev):
        self.rv, self.type_key, self.kind, self.obj, self.prev = rv, type_key, kind, obj, prev


class Store:
    def __init__(self, history_limit=1000):
        self.cond = threading.Condition()
        self.rv = START_RV
        # New requests may start from resourceVersion >= compacted; events after `trimmed` are still
        # in memory (open watches keep being served from there). trimmed <= compacted.
        self.compacted = START_RV
        self.trimmed = START_RV
        self.history_limit = history_limit
        self.history = deque()
        self.types = {}
        self.objects = {}
        for t in DEFAULT_TYPES:
            self.declare(ResourceType(*t))

    def declare(self, rtype):
        with self.cond:
            self.types[rtype.key] = rtype
            self.objects.setdefault(rtype.key, {})

    def type_for(self, api_version, kind):
        group, version = split_api_version(api_version)
        for t in self.types.values():
            if t.group == group and t.version == version and t.kind == kind:
                return t
        raise ApiError(404, f"no type for apiVersion {api_version} kind {kind}")

    def _record(self, rtype, kind, obj, prev):
        self.history.append(Event(self.rv, rtype.key, kind, obj, prev))
        while len(self.history) > self.history_limit:
            self.trimmed = self.history.popleft().rv
            self.compacted = max(self.compacted, self.trimmed)
        self.cond.notify_all()

    def apply(self, obj, create_only=False, expect_rv=None, status_only=False):
        """Create or replace; returns a copy of the stored object."""
        if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
            raise ApiError(400, "object needs apiVersion and kind")
        obj = copy.deepcopy(obj)
        with self.cond:
            rtype = self.type_for(obj["apiVersion"], obj["kind"])
            meta = obj.setdefault("metadata", {})
            if not meta.get("name"):
                raise ApiError(422, "metadata.name: Required value")
            if rtype.namespaced:
                meta.setdefault("namespace", "default")
            else:
                meta.pop("namespace", None)
            key = (meta.get("namespace", ""), meta["name"])
            prev = self.objects[rtype.key].get(key)
            if prev is not None and create_only:
                raise ApiError(409, f'{rtype.plural} "{meta["name"]}" already exists',
                               reason="AlreadyExists")
            if prev is None and (expect_rv or status_only):
                raise ApiError(404, f'{rtype.plural} "{meta["name"]}" not found')
            if expect_rv and prev["metadata"]["resourceVersion"] != expect_rv:
                raise ApiError(409, f'Operation cannot be fulfilled on {rtype.plural} '
                                    f'"{meta["name"]}": the object has been modified',
                               reason="Conflict")
            if status_only:
                status = obj.get("status")
                obj = copy.deepcopy(prev)
                if status is not None:
                    obj["status"] = status
                meta = obj["metadata"]
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            if prev is not None:
                pm = prev["metadata"]
                meta["uid"] = pm["uid"]
                meta["creationTimestamp"] = pm["creationTimestamp"]
                changed = prev.get("spec") != obj.get("spec")
                meta["generation"] = pm.get("generation", 1) + (1 if changed else 0)
            else:
                meta["uid"] = str(uuid.uuid4())
                meta["creationTimestamp"] = now_rfc3339()
                meta["generation"] = 1
            self.objects[rtype.key][key] = obj
            self._record(rtype, "MODIFIED" if prev is not None else "ADDED", obj, prev)
            return copy.deepcopy(obj)

    def delete(self, api_version, kind, name, namespace=None):
        with self.cond:
            rtype = self.type_for(api_version, kind)
            key = ((namespace or "default") if rtype.namespaced else "", name)
            prev = self.objects[rtype.key].pop(key, None)
            if prev is None:
                return None
            self.rv += 1
            final = copy.deepcopy(prev)
            final["metadata"]["resourceVersion"] = str(self.rv)
            self._record(rtype, "DELETED", final, prev)
            return copy.deepcopy(final)

    def get(self, api_version, kind, name, namespace=None):
        with self.cond:
            rtype = self.type_for(api_version, kind)
            key = ((namespace or "default") if rtype.namespaced else "", name)
            obj = self.objects[rtype.key].get(key)
            return copy.deepcopy(obj) if obj else None

    def compact(self, keep=0):
        with self.cond:
            if len(self.history) > keep:
                self.compacted = max(self.compacted, self.history[len(self.history) - keep - 1].rv)
            return self.compacted

    def snapshot(self, type_key, at_rv=None):
        """Objects of a type at `at_rv` (None: now), sorted by namespace/name. Caller holds cond."""
        state = dict(self.objects[type_key])
        if at_rv is not None and at_rv < self.rv:
            if at_rv < self.compacted:
                raise ApiError(410, f"too old resource version: {at_rv} ({self.compacted})")
            for ev in reversed(self.history):
                if ev.rv <= at_rv:
                    break
                if ev.type_key != type_key:
                    continue
                m = ev.obj["metadata"]
                key = (m.get("namespace", ""), m["name"])
                if ev.prev is None:
                    state.pop(key, None)
                else:
                    state[key] = ev.prev
        return [state[k] for k in sorted(state)]

    def events_after(self, type_key, rv):
        """Events of a type with resourceVersion > rv, oldest first. Caller holds cond."""
        out = []
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            if ev.type_key == type_key:
                out.append(ev)
        out.reverse()
        return out

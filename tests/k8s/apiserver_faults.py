"""Injected faults of the stand-in API server (byte splitting, delay, failing the next requests,
forbidden verbs, the form of watch 410s, the bookmark period, a server-side watch time limit) and
its request counters."""
import random
import threading
from collections import deque

from apiserver_store import ApiError


COUNT_KEYS = ("requests lists continues gets watches creates updates patches deletes status_writes "
              "discovery unauthorized forbidden not_found gone expired_events error_events "
              "throttled errors bookmarks events watches_dropped tls_failures token_auth "
              "cert_auth").split()


class Faults:
    def __init__(self, seed=0, watch_410="event", bookmark_interval=1.0):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.split = None  # {"max_piece", "pause_ms", "headers"}
        self.delay_ms = 0
        self.watch_410 = watch_410
        self.bookmark_interval = bookmark_interval
        self.watch_max_seconds = 0.0
        self.stall_watches = False
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
            if "stall_watches" in cfg:
                self.stall_watches = bool(cfg["stall_watches"])
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
            self.stall_watches = False

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
            self.by_resource = {}  # plural -> {verb or "not_found": n}

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def add_resource(self, plural, key):
        with self.lock:
            per = self.by_resource.setdefault(plural, {})
            per[key] = per.get(key, 0) + 1

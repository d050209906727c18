"""Shared helpers for integration tests: start our binaries on OS-chosen loopback ports, wait for
their ready lines (never sleep), talk raw HTTP/1.1, and always stop what we started, by PID.

Contract with the binaries: once a listener is bound, the process prints one line to stdout,
`listening HOST:PORT` (`admin HOST:PORT` for the gateway's admin listener), and flushes.
"""
import http.server
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time

SIM_BIN = os.environ.get("INFERGATE_SIM_BIN", "build/src/sim/infergate-sim")
GATEWAY_BIN = os.environ.get("INFERGATE_BIN", "build/src/app/infergate")
START_TIMEOUT = 20.0
# scripts/test-sanitized.sh runs the suite on ASan/UBSan builds: each process then reports to
# log files of its own, is stopped with SIGTERM (so it exits and leak checks run), and a report
# fails the test that started it.
SANITIZED = os.environ.get("INFERGATE_SANITIZED") == "1"
if SANITIZED:
    START_TIMEOUT = 60.0


def sanitizer_env(env=None):
    """The environment of a child: with sanitizers, report to a fresh log_path prefix.

    Returns (env, prefix); prefix is None when not sanitized."""
    env = {**os.environ, **(env or {})}
    if not SANITIZED:
        return env, None
    prefix = os.path.join(tempfile.mkdtemp(prefix="infergate-san-"), "report")
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env[name] = ":".join(filter(None, [env.get(name, ""), f"log_path={prefix}"]))
    return env, prefix


def sanitizer_reports(prefix):
    """The text of every sanitizer report written under prefix (log files are prefix.PID)."""
    if prefix is None:
        return ""
    folder = os.path.dirname(prefix)
    texts = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), errors="replace") as f:
            texts.append(f.read())
    return "\n".join(t for t in texts if t.strip())


def stop(proc, prefix, name):
    """Stops a child we started (SIGTERM when sanitized, SIGKILL otherwise) and raises
    AssertionError with its sanitizer report, if it wrote one."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM if SANITIZED else signal.SIGKILL)
        try:
            proc.wait(timeout=20 if SANITIZED else 5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    report = sanitizer_reports(prefix)
    if report:
        raise AssertionError(f"sanitizer report from {name}:\n{report[-8000:]}")


class Process:
    """A child process whose ready lines we read; killed on close()."""

    def __init__(self, argv, ready_lines, env=None):
        self.argv = argv
        env, self.sanitizer_prefix = sanitizer_env(env)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.listening = []  # "host:port" strings in order
        self.admin = None
        self._wait_ready(ready_lines)

    def _wait_ready(self, count):
        deadline = time.monotonic() + START_TIMEOUT
        buf = b""
        while len(self.listening) + (1 if self.admin else 0) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise TimeoutError(f"{self.argv[0]} not ready: {self.stderr_text()}")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.close()
                raise RuntimeError(f"{self.argv} exited early: {self.stderr_text()}")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                words = line.decode().split()
                if len(words) >= 2 and words[0] == "listening":
                    self.listening.append(words[1])
                elif len(words) >= 2 and words[0] == "admin":
                    self.admin = words[1]

    def port(self, i=0):
        return int(self.listening[i].rsplit(":", 1)[1])

    def stderr_text(self):
        try:
            self.proc.wait(timeout=0.1)
            return self.proc.stderr.read().decode(errors="replace")[-4000:]
        except Exception:
            return "(still running)"

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def close(self):
        try:
            stop(self.proc, self.sanitizer_prefix, os.path.basename(self.argv[0]))
        finally:
            for f in (self.proc.stdout, self.proc.stderr):
                if f:
                    f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def start_sim(*args, instances=1):
    """infergate-sim on 127.0.0.1, OS-chosen ports; returns a Process with `instances` ports."""
    argv = [SIM_BIN, "--host", "127.0.0.1", "--port", "0", "--instances", str(instances), *args]
    return Process(argv, instances)


def write_config(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write(text)
    f.close()
    return f.name


def start_gateway(config_text, *args):
    """infergate on 127.0.0.1:0 with admin on 127.0.0.1:0; config given as YAML text."""
    path = write_config(config_text)
    argv = [GATEWAY_BIN, "--config", path, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", *args]
    return Process(argv, 2)


def request(port, method, path, body=None, headers=None, timeout=10.0, host="127.0.0.1"):
    """One HTTP/1.1 request on a fresh connection; returns (status, headers dict (lower), body bytes)."""
    import http.client
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def debug_endpoints(admin_port):
    """/debug/endpoints of a gateway's admin port, as {endpoint name: its entry}."""
    status, headers, raw = request(admin_port, "GET", "/debug/endpoints")
    if status != 200 or headers.get("content-type") != "application/json":
        raise AssertionError(f"/debug/endpoints: {status} {raw!r}")
    return {e["name"]: e for pool in json.loads(raw)["pools"] for e in pool["endpoints"]}


def raw_connect(port, host="127.0.0.1", timeout=10.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def scrape(port, host="127.0.0.1"):
    """GET /metrics and parse the Prometheus text format into {(name, frozenset(labels)): value}."""
    status, _, body = request(port, "GET", "/metrics", host=host)
    assert status == 200, status
    out = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1) if "}" not in line else (
            line[:line.rindex("}") + 1], line[line.rindex("}") + 1:].strip().split(" ")[0])
        if "{" in name_labels:
            name, rest = name_labels.split("{", 1)
            labels = frozenset(_parse_labels(rest.rstrip("}")))
        else:
            name, labels = name_labels.split(" ")[0], frozenset()
        out[(name, labels)] = float(value.split(" ")[0])
    return out


def _parse_labels(s):
    i, n = 0, len(s)
    while i < n:
        eq = s.index("=", i)
        key = s[i:eq].strip().lstrip(",").strip()
        j = eq + 2  # skip ="
        val = []
        while s[j] != '"':
            if s[j] == "\\":
                j += 1
            val.append(s[j])
            j += 1
        yield key, "".join(val)
        i = j + 1
        while i < n and s[i] in ", ":
            i += 1


def metric(samples, name, **labels):
    """Sum of every sample of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def unused_port(host="127.0.0.1"):
    """A loopback port nothing listens on (bound, then released): connecting to it is refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(predicate, timeout=5.0, interval=0.02):
    """Polls predicate() until it returns something truthy or `timeout` passes; returns its last
    value. For conditions that have no event to wait on (a counter on /metrics), not readiness."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class HttpReader:
    """Reads HTTP/1.1 responses from a raw socket, one after another (keep-alive, pipelining).
    Bytes past one response are kept for the next."""

    def __init__(self, sock, timeout=10.0):
        self.sock = sock
        self.buf = b""
        self.timeout = timeout
        self.closed = False

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = self.sock.recv(65536)
        if not chunk:
            self.closed = True
            raise EOFError("connection closed")
        self.buf += chunk

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self):
        """(status, headers dict with lower-case names, body bytes); chunked bodies decoded."""
        deadline = time.monotonic() + self.timeout
        while True:
            status = int(self._line(deadline).split(b" ")[1])
            headers = {}
            while True:
                line = self._line(deadline)
                if not line:
                    break
                name, value = line.decode().split(":", 1)
                headers[name.strip().lower()] = value.strip()
            if status // 100 != 1:
                break
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._line(deadline).split(b";")[0], 16)
                if size == 0:
                    while self._line(deadline):
                        pass
                    break
                body += self._exact(size, deadline)
                self._exact(2, deadline)
        elif "content-length" in headers:
            body = self._exact(int(headers["content-length"]), deadline)
        else:
            body = self.buf
            try:
                while True:
                    self._fill(deadline)
            except EOFError:
                body = self.buf
            self.buf = b""
        return status, headers, body


def recording_upstream(test, reply, extra_headers=()):
    """A plain HTTP/1.1 server on loopback that answers every POST with `reply` (JSON) plus
    `extra_headers`, and records what it got: a list of (path, headers lowercased, body)."""
    seen = []

    class Upstream(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                         self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            for name, value in extra_headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    test.addCleanup(server.server_close)
    test.addCleanup(server.shutdown)
    return server.server_address[1], seen

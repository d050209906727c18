"""HTTP plumbing of the stand-in API server: a threaded server whose TLS handshakes run on each
connection's own thread, the API and control request handlers, and response writes that go through
the byte splitter."""
import http.server
import json
import select
import socket
import ssl
import sys
import threading
import time
import uuid


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
        if ":" in addr[0]:  # an IPv6 literal such as ::1
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # Runs on the connection's own thread: the TLS handshake never blocks the accept loop.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_ctx is not None:
            request.settimeout(5)
            try:
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.app.stats.add("tls_failures")
                self.app.last_tls_error = repr(e)  # shown in state(): why a client's handshake failed
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

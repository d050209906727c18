"""Helpers the bench drivers share: OS-chosen loopback ports, readiness of the processes they
start, and a one-backend HAProxy config (the peer where no body routing is needed)."""
import socket
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_port(proc):
    """The port of the first 'listening HOST:PORT' line an infergate process prints."""
    for line in proc.stdout:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "listening":
            return int(parts[1].rsplit(":", 1)[1])
    raise RuntimeError("no 'listening' line")


def wait_port(port, proc, seconds=10):
    """Bounded wait until `port` accepts a connection while `proc` runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{proc.args[0]} is not listening on {port}")


def haproxy_one_backend(path, server_port, maxconn, timeout_s, options=()):
    """Writes a one-thread HAProxy config to `path` proxying everything to 127.0.0.1:server_port;
    returns its listening port. `options`: extra `option` lines of the defaults section."""
    port = free_port()
    extra = "".join(f"    option {o}\n" for o in options)
    path.write_text(f"""global
    nbthread 1
    maxconn {maxconn}
defaults
    mode http
{extra}    http-reuse always
    timeout connect 2s
    timeout client {timeout_s}s
    timeout server {timeout_s}s
    timeout http-keep-alive {timeout_s}s
frontend f
    bind 127.0.0.1:{port}
    default_backend b
backend b
    server s 127.0.0.1:{server_port} maxconn {maxconn}
""")
    return port

"""Files a Kubernetes client reads, made for tests: a CA and certificates (with the `openssl`
command), a kubeconfig, and a service-account directory laid out the way kubelet projects it.

    ca = make_ca(dir)                                   -> CertPair(cert, key) of a new CA
    server = make_cert(dir, ca, "server", server=True)  -> certificate for 127.0.0.1, ::1, localhost
    client = make_cert(dir, ca, "admin", client=True, org="system:masters")
    write_kubeconfig(path, server_url, ca_file=..., token=... | token_file=... | client=CertPair)
    sa = ServiceAccountDir(dir); sa.write(token, ca_pem, namespace); sa.rotate(new_token)

The service-account layout is kubelet's atomic writer: the real files live in a timestamped
`..2026_12_01_07_00_00.123456789` directory, `..data` is a symlink to it and `token`, `ca.crt` and
`namespace` are symlinks through `..data`. A rotation writes a new timestamped directory, points a
temporary `..data_tmp` symlink at it and renames that over `..data` (one atomic step), then removes
the old directory: a reader opening `token` sees the old or the new content, never a mix.
"""
import base64
import os
import subprocess
import time
from dataclasses import dataclass


@dataclass
class CertPair:
    cert: str  # PEM file path
    key: str   # PEM file path

    def cert_pem(self):
        with open(self.cert) as f:
            return f.read()


def _openssl(*args, cwd=None):
    subprocess.run(["openssl", *args], check=True, cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def _new_key(path):
    # EC P-256: generated in milliseconds, accepted by every TLS 1.2/1.3 client.
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)


def make_ca(directory, name="fake-kube-ca", days=2):
    """A self-signed CA certificate and key in `directory` (files NAME.crt and NAME.key)."""
    os.makedirs(directory, exist_ok=True)
    key = os.path.join(directory, name + ".key")
    cert = os.path.join(directory, name + ".crt")
    _new_key(key)
    _openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", str(days),
             "-subj", "/CN=" + name,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return CertPair(cert, key)


def make_cert(directory, ca, name, server=False, client=False, org=None, days=2,
              hosts=("127.0.0.1", "::1", "localhost")):
    """A leaf certificate signed by `ca`: a server one (SANs from `hosts`) and/or a client one (the
    API server reads the user from CN and groups from O, as kube-apiserver does)."""
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    cert = os.path.join(directory, name + ".crt")
    ext = os.path.join(directory, name + ".ext")
    _new_key(key)
    subject = "/CN=" + name + ("/O=" + org if org else "")
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", subject)
    usages = (["serverAuth"] if server else []) + (["clientAuth"] if client else [])
    lines = ["basicConstraints=critical,CA:FALSE",
             "keyUsage=critical,digitalSignature,keyEncipherment",
             "extendedKeyUsage=" + ",".join(usages or ["serverAuth"])]
    if server:
        sans = [("IP:" if _is_ip(h) else "DNS:") + h for h in hosts]
        lines.append("subjectAltName=" + ",".join(sans))
    with open(ext, "w") as f:
        f.write("\n".join(lines) + "\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
             "-out", cert, "-days", str(days), "-extfile", ext)
    return CertPair(cert, key)


def _is_ip(host):
    return host.replace(".", "").isdigit() or ":" in host


def _b64_file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(path, server_url, ca_file=None, ca_data=True, token=None, token_file=None,
                     client=None, client_data=True, namespace=None, context="fake",
                     extra_contexts=(), insecure=False):
    """Writes a block-style kubeconfig like `kind` does, with `context` as current-context.

    ca_file: the CA PEM; embedded as certificate-authority-data when ca_data, else referenced as
    certificate-authority. Credentials: token (inline), token_file (tokenFile) and/or client
    (CertPair; client-certificate-data/-key-data when client_data, else file paths).
    extra_contexts: names of further contexts (each with its own unreachable cluster and a user with
    token "wrong-context") written BEFORE the real one, so a client that ignores current-context
    talks to the wrong cluster."""
    def q(s):
        return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'

    clusters, users, contexts = [], [], []
    for i, other in enumerate(extra_contexts):
        clusters.append(f"- name: {other}-cluster\n  cluster:\n"
                        f"    server: https://127.0.0.1:{1 + i}\n")
        users.append(f"- name: {other}-user\n  user:\n    token: wrong-context\n")
        contexts.append(f"- name: {other}\n  context:\n    cluster: {other}-cluster\n"
                        f"    user: {other}-user\n")
    cluster = f"- name: {context}-cluster\n  cluster:\n    server: {q(server_url)}\n"
    if ca_file and ca_data:
        cluster += f"    certificate-authority-data: {_b64_file(ca_file)}\n"
    elif ca_file:
        cluster += f"    certificate-authority: {q(ca_file)}\n"
    if insecure:
        cluster += "    insecure-skip-tls-verify: true\n"
    clusters.append(cluster)
    user = f"- name: {context}-user\n  user:\n"
    if token is not None:
        user += f"    token: {q(token)}\n"
    if token_file is not None:
        user += f"    tokenFile: {q(token_file)}\n"
    if client is not None and client_data:
        user += (f"    client-certificate-data: {_b64_file(client.cert)}\n"
                 f"    client-key-data: {_b64_file(client.key)}\n")
    elif client is not None:
        user += (f"    client-certificate: {q(client.cert)}\n"
                 f"    client-key: {q(client.key)}\n")
    if user.endswith("user:\n"):
        user += "    {}\n"
    users.append(user)
    ctx = f"- name: {context}\n  context:\n    cluster: {context}-cluster\n    user: {context}-user\n"
    if namespace:
        ctx += f"    namespace: {q(namespace)}\n"
    contexts.append(ctx)
    text = ("apiVersion: v1\nkind: Config\npreferences: {}\n"
            "clusters:\n" + "".join(clusters) +
            "users:\n" + "".join(users) +
            "contexts:\n" + "".join(contexts) +
            f"current-context: {context}\n")
    with open(path, "w") as f:
        f.write(text)
    return path


class ServiceAccountDir:
    """/var/run/secrets/kubernetes.io/serviceaccount as kubelet writes it (see module doc)."""

    FILES = ("token", "ca.crt", "namespace")

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self._content = {}

    def path(self, name="token"):
        return os.path.join(self.dir, name)

    def write(self, token, ca_pem, namespace="default"):
        self._content = {"token": token, "ca.crt": ca_pem, "namespace": namespace}
        self._swap()
        for name in self.FILES:
            link = os.path.join(self.dir, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)

    def rotate(self, token):
        """Atomically replaces the token (ca.crt and namespace are rewritten unchanged)."""
        self._content["token"] = token
        self._swap()

    def _swap(self):
        stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + str(time.time_ns())[-9:]
        new_dir = os.path.join(self.dir, stamp)
        os.mkdir(new_dir)
        for name, text in self._content.items():
            with open(os.path.join(new_dir, name), "w") as f:
                f.write(text)
        data = os.path.join(self.dir, "..data")
        old = os.readlink(data) if os.path.islink(data) else None
        tmp = os.path.join(self.dir, "..data_tmp")
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(stamp, tmp)
        os.rename(tmp, data)
        if old:
            old_dir = os.path.join(self.dir, old)
            for name in os.listdir(old_dir):
                os.unlink(os.path.join(old_dir, name))
            os.rmdir(old_dir)


def in_cluster_env(server_url):
    """KUBERNETES_SERVICE_HOST/PORT for a server URL like https://127.0.0.1:PORT."""
    hostport = server_url.split("://", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    return {"KUBERNETES_SERVICE_HOST": host.strip("[]"), "KUBERNETES_SERVICE_PORT": port}

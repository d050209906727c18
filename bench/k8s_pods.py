"""Realistic Pod objects for bench/k8s_scale.py: what a kube-apiserver returns for a pod of a
Deployment (ReplicaSet owner) or StatefulSet, with the kubelet's status and the managedFields of
kubectl, kube-controller-manager and the kubelet; about 7-8 KB of compact JSON each. Deterministic
in (index, revision): a churn update regenerates the pod with the next revision (new annotation,
new probe/heartbeat times, a restart count), the way kubelet status updates change a pod."""
import hashlib
import random
import time

NAMESPACES = ["models", "payments", "search", "batch-jobs", "monitoring", "web-frontend"]
APPS = ["checkout", "cart", "indexer", "crawler", "api", "worker", "cache", "ingest", "reporter",
        "scheduler", "notifier", "exporter", "renderer", "gateway-legacy", "auth"]
BASE_TIME = 1764547200  # 2025-12-01T00:00:00Z


def _ts(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_TIME + seconds))


def _uid(seed):
    h = hashlib.md5(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _managed_fields(started):
    """The three managers a real pod has; field sets as kube-apiserver records them."""
    spec_fields = {"f:containers": {'k:{"name":"main"}': {
        ".": {}, "f:args": {}, "f:env": {".": {}, 'k:{"name":"LOG_LEVEL"}': {".": {}, "f:name": {}, "f:value": {}},
                                         'k:{"name":"POD_NAME"}': {".": {}, "f:name": {}, "f:valueFrom": {}}},
        "f:image": {}, "f:imagePullPolicy": {}, "f:livenessProbe": {".": {}, "f:failureThreshold": {},
                                                                    "f:httpGet": {}, "f:periodSeconds": {}},
        "f:name": {}, "f:ports": {}, "f:readinessProbe": {".": {}, "f:httpGet": {}, "f:periodSeconds": {}},
        "f:resources": {".": {}, "f:limits": {}, "f:requests": {}}, "f:terminationMessagePath": {},
        "f:terminationMessagePolicy": {}, "f:volumeMounts": {}}},
        "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {},
        "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}, "f:tolerations": {}, "f:volumes": {}}
    status_fields = {"f:conditions": {'k:{"type":"ContainersReady"}': {".": {}, "f:lastProbeTime": {},
                                                                     "f:lastTransitionTime": {}, "f:status": {},
                                                                     "f:type": {}},
                                      'k:{"type":"Initialized"}': {".": {}, "f:lastProbeTime": {},
                                                                 "f:lastTransitionTime": {}, "f:status": {},
                                                                 "f:type": {}},
                                      'k:{"type":"PodReadyToStartContainers"}': {".": {}, "f:lastProbeTime": {},
                                                                                 "f:lastTransitionTime": {},
                                                                                 "f:status": {}, "f:type": {}},
                                      'k:{"type":"Ready"}': {".": {}, "f:lastProbeTime": {},
                                                           "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}},
                     "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {}, "f:phase": {}, "f:podIP": {},
                     "f:podIPs": {".": {}, 'k:{"ip":"10.0.0.1"}': {".": {}, "f:ip": {}}}, "f:startTime": {}}
    return [
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": _ts(started),
         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {
             "f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}, "f:tier": {}},
             "f:annotations": {".": {}, "f:kubectl.kubernetes.io/restartedAt": {}},
             "f:ownerReferences": {".": {}, 'k:{"uid":"owner"}': {}}}, "f:spec": spec_fields}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": _ts(started + 30),
         "fieldsType": "FieldsV1", "fieldsV1": {"f:status": status_fields}, "subresource": "status"},
    ]


def pod(index, revision=0, pool=None):
    """Pod number `index` at `revision`. pool: None for an unrelated workload, else a dict
    {"namespace", "app", "ip", "port"}: a ready pod of the benchmark's InferencePool."""
    rng = random.Random(index * 7919 + 17)
    if pool:
        ns, app, ip = pool["namespace"], pool["app"], pool["ip"]
        name = f"{app}-7f9c4b5d8-{index:05d}"
    else:
        ns = NAMESPACES[index % len(NAMESPACES)]
        app = APPS[rng.randrange(len(APPS))]
        name = f"{app}-{rng.randrange(16**9):09x}-{index:06d}"
        ip = f"10.{64 + index // 65536 % 64}.{index // 256 % 256}.{index % 256}"
    node = f"ip-10-1-{rng.randrange(256)}-{rng.randrange(256)}.ec2.internal"
    host_ip = f"10.1.{rng.randrange(256)}.{rng.randrange(256)}"
    started = rng.randrange(86400 * 30)
    now = started + 3600 + revision * 10
    template_hash = f"{rng.randrange(16**9):09x}"
    port = pool["port"] if pool else 8080
    ready = True if pool else rng.random() < 0.9
    owner_kind = "StatefulSet" if rng.random() < 0.2 else "ReplicaSet"
    image = f"registry.example.com/{ns}/{app}:v1.{rng.randrange(40)}.{rng.randrange(10)}"
    cond = lambda t, s, trans: {"type": t, "status": s, "lastProbeTime": None,  # noqa: E731
                                "lastTransitionTime": _ts(trans)}
    ready_s = "True" if ready else "False"
    obj = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "generateName": name.rsplit("-", 1)[0] + "-", "namespace": ns,
            "uid": _uid(f"{ns}/{name}"),
            "labels": {"app": app, "app.kubernetes.io/name": app, "app.kubernetes.io/instance": f"{app}-prod",
                       "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/version": image.rsplit(":", 1)[1],
                       "pod-template-hash": template_hash, "tier": "backend" if rng.random() < 0.6 else "frontend",
                       "team": ns},
            "annotations": {
                "kubectl.kubernetes.io/restartedAt": _ts(started - 600),
                "prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics",
                "checksum/config": hashlib.sha256(f"cfg{index}".encode()).hexdigest(),
                "checksum/secret": hashlib.sha256(f"sec{index}".encode()).hexdigest(),
                "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
                "bench.infergate.dev/revision": str(revision),
                "bench.infergate.dev/heartbeat": _ts(now),
            },
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner_kind,
                                 "name": f"{app}-{template_hash}", "uid": _uid(f"{ns}/{app}/owner"),
                                 "controller": True, "blockOwnerDeletion": True}],
            "managedFields": _managed_fields(started),
        },
        "spec": {
            "volumes": [
                {"name": "config", "configMap": {"name": f"{app}-config", "defaultMode": 420}},
                {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "kube-api-access-" + template_hash[:5], "projected": {"sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                        "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}], "defaultMode": 420}},
            ],
            "containers": [{
                "name": "main", "image": image,
                "args": ["--port", str(port), "--log-format", "json", "--config", "/etc/app/config.yaml"],
                "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"},
                          {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                "env": [{"name": "LOG_LEVEL", "value": "info"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                        "fieldPath": "metadata.name"}}},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "status.podIP"}}},
                        {"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {
                            "containerName": "main", "resource": "limits.cpu", "divisor": "1"}}}],
                "resources": {"limits": {"cpu": "2", "memory": "4Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
                "volumeMounts": [{"name": "config", "readOnly": True, "mountPath": "/etc/app"},
                                 {"name": "cache", "mountPath": "/var/cache/app"},
                                 {"name": "kube-api-access-" + template_hash[:5], "readOnly": True,
                                  "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                                  "initialDelaySeconds": 10, "timeoutSeconds": 1, "periodSeconds": 10,
                                  "successThreshold": 1, "failureThreshold": 3},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"},
                                   "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1,
                                   "failureThreshold": 3},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True},
            }],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": app, "serviceAccount": app, "nodeName": node,
            "securityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": app}},
                                                    "topologyKey": "kubernetes.io/hostname"}}]}},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
                {"key": "dedicated", "operator": "Equal", "value": ns, "effect": "NoSchedule"}],
            "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": [cond("PodReadyToStartContainers", "True", started + 5),
                           cond("Initialized", "True", started + 1),
                           cond("Ready", ready_s, now if not ready else started + 20),
                           cond("ContainersReady", ready_s, now if not ready else started + 20),
                           cond("PodScheduled", "True", started)],
            "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "podIP": ip, "podIPs": [{"ip": ip}],
            "startTime": _ts(started),
            "containerStatuses": [{
                "name": "main", "state": {"running": {"startedAt": _ts(started + 8 + revision)}},
                "lastState": {} if revision == 0 else {"terminated": {
                    "exitCode": 137, "reason": "OOMKilled", "startedAt": _ts(started + 8),
                    "finishedAt": _ts(started + 7 + revision), "containerID": f"containerd://{'b' * 64}"}},
                "ready": ready, "restartCount": revision, "started": True,
                "image": image, "imageID": "registry.example.com/" + ns + "/" + app + "@sha256:"
                + hashlib.sha256(image.encode()).hexdigest(),
                "containerID": "containerd://" + hashlib.sha256(f"{name}{revision}".encode()).hexdigest(),
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True,
                                  "recursiveReadOnly": "Disabled"},
                                 {"name": "cache", "mountPath": "/var/cache/app"}],
            }],
            "qosClass": "Burstable",
        },
    }
    return obj

#!/usr/bin/env python3
"""Writes the gateway config of one benchmark run: the 8 simulators as one pool, the models the
workloads ask for, and the pool's scheduler profile for the policy under test.

usage: gen_config.py POLICY ENDPOINTS(comma-separated) [--no-scheduler-key] [--no-priorities]

POLICY: infergate (the built-in default profile: queue 2, kv-cache 2, prefix-cache 3,
lora-affinity 1, prefill-load 1, max-score picker) | round-robin | random | least-request | power-of-two-choices.
--no-scheduler-key / --no-priorities / --no-metrics leave out what the config loader of the
build under test does not know yet (run.sh probes that with --check-config).
BENCH_SATURATION (environment): the pool's `saturation:` map, e.g. "{queue: 0, running: 8}".
BENCH_PLUGINS (environment, policy infergate only): the pool's scheduler plugins instead of the
built-in default, a YAML flow list, e.g. "[{type: available-filter}, {type: queue-scorer, weight: 2}]".
"""
import os
import sys

from workloads import BASE_MODEL, CLASS_MODELS, LORA_ADAPTERS

PRIORITY = {"critical": "Critical", "standard": "Standard", "sheddable": "Sheddable"}


def render(policy, endpoints, scheduler_key=True, priorities=True, metrics=True):
    lines = ["listen: 127.0.0.1:0", "admin: 127.0.0.1:0", "workers: 1",
             "timeouts: {first_byte: 120s, stream_idle: 60s}", "pools:", "  - name: fleet",
             "    endpoints: [" + ", ".join(endpoints) + "]"]
    if metrics:
        lines.append("    metrics: {flavour: vllm}")
    if os.environ.get("BENCH_SATURATION"):  # a YAML flow map, e.g. "{queue: 0, running: 8}"
        lines.append("    saturation: " + os.environ["BENCH_SATURATION"])
    if scheduler_key and policy == "infergate" and os.environ.get("BENCH_PLUGINS"):
        lines += ["    scheduler:", "      plugins: " + os.environ["BENCH_PLUGINS"]]
    if scheduler_key and policy != "infergate":
        lines += ["    scheduler:", "      plugins:", "        - {type: available-filter}",
                  f"        - {{type: {policy}}}"]
    lines.append("models:")
    lines.append(f"  - {{name: {BASE_MODEL}, pool: fleet}}")
    for a in LORA_ADAPTERS:
        lines.append(f"  - {{name: {a}, pool: fleet}}")
    for klass, name in CLASS_MODELS.items():
        prio = f", priority: {PRIORITY[klass]}" if priorities else ""
        lines.append(f"  - {{name: {name}, pool: fleet{prio}}}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    argv = sys.argv[1:]
    flags = {a for a in argv if a.startswith("--")}
    pos = [a for a in argv if not a.startswith("--")]
    sys.stdout.write(render(pos[0], pos[1].split(","), "--no-scheduler-key" not in flags,
                            "--no-priorities" not in flags, "--no-metrics" not in flags))

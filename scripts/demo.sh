#!/usr/bin/env bash
# Installs what is missing, builds, then runs the demo in the foreground: three simulated vLLM
# servers (infergate-sim on 127.0.0.1:8001-8003) behind infergate on 127.0.0.1:8080, configured by
# config/gateway.yaml. Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

build/src/sim/infergate-sim --host 127.0.0.1 --instances 3 --base-port 8001 \
  --model Qwen/Qwen3-0.6B --lora-modules support-lora --itl-ms 20 &
pids+=($!)
build/src/app/infergate --config config/gateway.yaml &
pids+=($!)

# Wait (bounded) until the gateway answers, instead of sleeping blindly.
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null http://127.0.0.1:9090/readyz 2>/dev/null && break
  kill -0 "${pids[1]}" 2>/dev/null || { echo "infergate exited; see the log above" >&2; exit 1; }
  sleep 0.1
done

cat <<'TXT'

infergate is up on http://127.0.0.1:8080 (admin: http://127.0.0.1:9090/metrics). Try:

  curl -s http://127.0.0.1:8080/v1/models
  curl -s http://127.0.0.1:8080/v1/chat/completions -H 'content-type: application/json' \
    -d '{"model":"Qwen/Qwen3-0.6B","messages":[{"role":"user","content":"Hello!"}]}'
  curl -sN http://127.0.0.1:8080/v1/chat/completions -H 'content-type: application/json' \
    -d '{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"Hi"}]}'

Ctrl-C stops the gateway and the simulators.
TXT
wait -n "${pids[@]}"

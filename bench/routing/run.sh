#!/usr/bin/env bash
# The routing benchmark: 8 simulated vLLM servers (one infergate-sim process), the gateway once per
# policy, an open-loop driver. Calibrates round-robin's saturation rate per workload, then runs
# stages at fractions of it for every policy, and writes results/summary.jsonl (report.py turns it
# into results.md and the plots). Loopback only; every step bounded; stops only its own PIDs.
#
# usage: bench/routing/run.sh [--duration S] [--drain S] [--policies "..."] [--workloads "..."]
#                             [--fractions "0.1 0.5 ..."] [--out DIR] [--quick] [--engine step]
# env: INFERGATE_BIN, INFERGATE_SIM_BIN (default build-routebench/src/{app,sim}/...)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
GW="${INFERGATE_BIN:-$ROOT/build-routebench/src/app/infergate}"
SIM="${INFERGATE_SIM_BIN:-$ROOT/build-routebench/src/sim/infergate-sim}"
PY="${PYTHON:-python3}"

DURATION=12; DRAIN=15; CAL_DURATION=12
POLICIES="round-robin random least-request power-of-two-choices infergate"
WORKLOADS="shared-prefix no-reuse lora priority"
FRACTIONS="0.1 0.5 0.8 1.0 1.2"
OUT="$HERE/results"
PRESET=(); APPEND=0; TAG=""; ENGINE=request
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2;;
    --drain) DRAIN="$2"; shift 2;;
    --policies) POLICIES="$2"; shift 2;;
    --workloads) WORKLOADS="$2"; shift 2;;
    --fractions) FRACTIONS="$2"; shift 2;;
    --out) OUT="$2"; shift 2;;
    --sat) PRESET+=("$2"); shift 2;;           # WORKLOAD=RATE: skip that calibration
    --append) APPEND=1; shift;;                # keep results/summary.jsonl, add to it
    --tag) TAG="@$2"; shift 2;;                # label this run's policies POLICY@TAG
    --engine) ENGINE="$2"; shift 2;;          # request (default) | step: see SIM_ARGS
    --quick) DURATION=4; DRAIN=8; CAL_DURATION=5; FRACTIONS="0.5 1.2"; shift;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done

# The simulated fleet. A "small GPU" per server: 8 sequences in the batch, 512 KV blocks of 16
# tokens (8192 tokens: eight ~750-token prompts, little room left to keep other prefixes),
# prefill 10 ms + 200 us per uncached prompt token (~5k tokens/s), ITL 20 ms alone and 40 ms with a
# full batch, 10% jitter; 2 LoRA slots, 100 ms to load an adapter.
LORAS="lora-0,lora-1,lora-2,lora-3,lora-4,lora-5,lora-6,lora-7"
SIM_ARGS=(--host 127.0.0.1 --port 0 --instances 8 --max-num-seqs 8 --max-queue 1024
  --kv-blocks 512 --block-size 16 --prefill-overhead-ms 10 --prefill-per-token-us 200
  --itl-ms 20 --itl-load-factor 2 --jitter 0.1 --seed 1
  --served-model-name "Qwen/Qwen3-0.6B,bench-critical,bench-standard,bench-sheddable"
  --lora-modules "$LORAS" --max-loras 2 --lora-load-ms 100 --log-level warn)
# --engine step: the same servers, but prefill shares the GPU with decode in steps of at most 2048
# tokens (vLLM's chunked prefill and its usual online-serving budget), so an uncached prompt slows
# every stream in its batch. The default, request, charges each prefill to its own request only.
case "$ENGINE" in
  request) ;;
  step) SIM_ARGS+=(--max-num-batched-tokens 2048);;
  *) echo "unknown --engine $ENGINE" >&2; exit 2;;
esac

WORK="$(mktemp -d /tmp/routebench.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() {  # stop one of our processes
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=(); for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done; PIDS=("${keep[@]:-}")
}

# wait_lines FILE PATTERN COUNT: until FILE has COUNT lines matching PATTERN (10 s at most).
wait_lines() {
  for _ in $(seq 1 200); do
    [ "$(grep -c "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
    sleep 0.05
  done
  echo "timed out waiting for '$2' in $1" >&2; cat "${1%.out}.err" >&2 || true; return 1
}

start_fleet() {
  rm -f "$WORK/sim.out"  # here, not by the redirection: the child truncates it only once forked
  "$SIM" "${SIM_ARGS[@]}" > "$WORK/sim.out" 2> "$WORK/sim.err" &
  SIM_PID=$!; PIDS+=("$SIM_PID")
  wait_lines "$WORK/sim.out" '^listening ' 8
  ENDPOINTS="$(awk '/^listening /{printf "%s%s", (n++ ? "," : ""), $2}' "$WORK/sim.out")"
}

# What the config loader of this build knows (the scheduler profile keys land in stages).
probe() {
  local f="$WORK/probe.yaml"
  (cd "$HERE" && "$PY" gen_config.py "$@" > "$f")
  "$GW" --check-config "$f" > /dev/null 2>&1
}
CFG_FLAGS=()
probe round-robin 127.0.0.1:1 --no-priorities --no-metrics && HAVE_SCHED=1 || HAVE_SCHED=0
[ "$HAVE_SCHED" = 1 ] || CFG_FLAGS+=(--no-scheduler-key)
probe infergate 127.0.0.1:1 --no-metrics "${CFG_FLAGS[@]}" || CFG_FLAGS+=(--no-priorities)
probe infergate 127.0.0.1:1 "${CFG_FLAGS[@]}" || CFG_FLAGS+=(--no-metrics)
echo "gateway config support: scheduler profiles=$HAVE_SCHED flags=${CFG_FLAGS[*]:-none}" >&2

start_gateway() {  # start_gateway POLICY
  (cd "$HERE" && "$PY" gen_config.py "$1" "$ENDPOINTS" "${CFG_FLAGS[@]}") > "$WORK/gw-$1.yaml"
  cp "$WORK/gw-$1.yaml" "$OUT/raw/gateway-$1$TAG.yaml"
  rm -f "$WORK/gw.out"
  "$GW" --config "$WORK/gw-$1.yaml" --log-level warn > "$WORK/gw.out" 2> "$WORK/gw.err" &
  GW_PID=$!; PIDS+=("$GW_PID")
  wait_lines "$WORK/gw.out" '^listening ' 1
  GW_ADDR="$(awk '/^listening /{print $2; exit}' "$WORK/gw.out")"
}

# How a policy is reached: through the gateway, or (a baseline the gateway cannot be configured
# with yet) routed by the driver itself straight to the servers.
client_policy() {
  case "$1" in
    round-robin) echo rr;; random) echo random;; least-request) echo least;;
    power-of-two-choices) echo p2c;;
  esac
}

# run_policy POLICY WORKLOAD RATES LABEL DURATION: fresh fleet (cold caches) and gateway.
run_policy() {
  local policy="$1" workload="$2" rates="$3" label="$4$TAG" duration="$5" target via
  start_fleet
  if [ "$policy" = infergate ] || [ "$HAVE_SCHED" = 1 ]; then
    start_gateway "$policy"; target=(--gateway "$GW_ADDR"); via=gateway
  else
    target=(--endpoints "$ENDPOINTS" --client-policy "$(client_policy "$policy")"); via=driver
  fi
  timeout $(( (${duration%.*} + DRAIN + 20) * $(echo "$rates" | tr ',' ' ' | wc -w) + 30 )) \
    "$PY" "$HERE/driver.py" "${target[@]}" --metrics "$ENDPOINTS" --workload "$workload" \
      --rates "$rates" --duration "$duration" --drain "$DRAIN" --seed 42 --label "$label" \
      --extra "{\"policy\": \"$policy$TAG\", \"via\": \"$via\", \"fractions\": \"$FRACS_NOW\"}" \
      --out "$OUT/$SUMMARY" --raw "$OUT/raw/$label-$workload.jsonl"
  [ -n "${GW_PID:-}" ] && stop "$GW_PID"; GW_PID=""
  stop "$SIM_PID"
}

mkdir -p "$OUT/raw"
SUMMARY=summary.jsonl
if [ "$APPEND" = 0 ]; then
  : > "$OUT/$SUMMARY"; : > "$OUT/calibration.jsonl"; : > "$OUT/run-info.txt"; rm -f "$OUT"/raw/*.jsonl
fi
{
  echo "date: $(date -u +%FT%TZ)"; echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)"
  echo "uptime: $(uptime)"; echo "nproc: $(nproc)"
  echo "command: $0 --duration $DURATION --drain $DRAIN --policies \"$POLICIES\" --workloads \"$WORKLOADS\" --fractions \"$FRACTIONS\""
  echo "sim: ${SIM_ARGS[*]}"; echo "scheduler profiles in config: $HAVE_SCHED (${CFG_FLAGS[*]:-all keys})"
} >> "$OUT/run-info.txt"

# Round-robin's saturation rate per workload: an overload stage (well past the estimate), then
# completions per second in its steady part. lora and priority use no-reuse's rate.
declare -A SAT
for kv in "${PRESET[@]:-}"; do [ -n "$kv" ] && SAT[${kv%%=*}]="${kv#*=}"; done
GW_PID=""
for wl in shared-prefix no-reuse; do
  [ -n "${SAT[$wl]:-}" ] && continue
  need=" $wl "; [ "$wl" = no-reuse ] && need=" no-reuse lora priority "
  hit=0; for w in $need; do case " $WORKLOADS " in *" $w "*) hit=1;; esac; done
  [ "$hit" = 1 ] || continue
  FRACS_NOW="calibration"
  SUMMARY=calibration.jsonl
  run_policy round-robin "$wl" 90 "calibrate" "$CAL_DURATION"
  SAT[$wl]="$("$PY" "$HERE/calibrate.py" "$OUT/raw/calibrate-$wl.jsonl" "$CAL_DURATION")"
  echo "round-robin saturation, $wl: ${SAT[$wl]} requests/s" | tee -a "$OUT/run-info.txt" >&2
done
SAT[lora]="${SAT[no-reuse]:-}"; SAT[priority]="${SAT[no-reuse]:-}"
SUMMARY=summary.jsonl

for wl in $WORKLOADS; do
  sat="${SAT[$wl]}"
  fr="$FRACTIONS"; pols="$POLICIES"
  case "$wl" in
    lora) fr="0.5 1.0"                           # LoRA affinity: moderate and saturated load
          pols="$(echo "$POLICIES" | tr ' ' '\n' | grep -E '^(round-robin|least-request|infergate)$' | tr '\n' ' ')";;
    priority) fr="0.1 1.5"; pols="$(echo "$POLICIES" | tr ' ' '\n' | grep -E '^(round-robin|least-request|infergate)$' | tr '\n' ' ')";;
  esac
  rates="$(for f in $fr; do "$PY" -c "print(round($f*$sat, 2))"; done | paste -sd, -)"
  FRACS_NOW="$(echo $fr | tr ' ' ',')"
  for policy in $pols; do
    echo "== $wl / $policy: rates $rates" >&2
    run_policy "$policy" "$wl" "$rates" "$policy" "$DURATION"
  done
done
echo "uptime after: $(uptime)" >> "$OUT/run-info.txt"
echo "done: $OUT/summary.jsonl" >&2

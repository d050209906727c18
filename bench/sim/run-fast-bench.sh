#!/usr/bin/env bash
# Fast-mode throughput of infergate-sim over loopback: the simulator pinned to one core, wrk to the
# other, 64 keep-alive connections, small chat-completions POSTs (non-streaming, then streaming).
# usage: bench/sim/run-fast-bench.sh [duration_s] [runs]   env: INFERGATE_SIM_BIN, SIM_CORE, WRK_CORE
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-5}
RUNS=${2:-3}
SIM=${INFERGATE_SIM_BIN:-build/src/sim/infergate-sim}
SIM_CORE=${SIM_CORE:-0}
WRK_CORE=${WRK_CORE:-1}
OUT=$(mktemp)
taskset -c "$SIM_CORE" "$SIM" --host 127.0.0.1 --port 0 --fast >"$OUT" 2>/dev/null &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$OUT"' EXIT
for _ in $(seq 1 100); do grep -q '^listening ' "$OUT" && break; sleep 0.05; done
ADDR=$(awk '/^listening /{print $2; exit}' "$OUT")
[[ -n $ADDR ]] || { echo "simulator did not start" >&2; exit 1; }
echo "# $(date -u +%FT%TZ) sim=$SIM core $SIM_CORE, wrk core $WRK_CORE, -t1 -c64 -d${DURATION}s, load: $(cut -d' ' -f1-3 /proc/loadavg)"
# CPU seconds (user+system) the simulator has used so far: requests per CPU-second is its capacity
# on one core, whatever else runs on the machine.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$PID/stat"; }
for stream in 0 1; do
  for run in $(seq 1 "$RUNS"); do
    c0=$(cpu_s)
    res=$(STREAM=$stream taskset -c "$WRK_CORE" wrk -t1 -c64 -d"${DURATION}s" -s bench/sim/chat_small.lua \
          "http://$ADDR" | grep '^RESULT')
    c1=$(cpu_s)
    n=$(sed 's/.*"requests":\([0-9]*\).*/\1/' <<<"$res")
    echo "stream=$stream run=$run $res sim_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b-a}')" \
         "req_per_cpu_s=$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN{printf "%.0f", n/(b-a)}')"
  done
done

#!/usr/bin/env bash
# Side-by-side proxy benchmark on loopback: the simulator direct, infergate, HAProxy and nginx+njs,
# all routing by the JSON body's `model` to the same simulator pools, one worker each (--workers).
#
# For each target x body size (2 KB, 50 KB; `model` after a large `messages` array) it measures
#   - requests/s at 64 connections      wrk -t1 -c64 -d${DURATION}s
#   - latency p50/p99 at 1 connection   wrk -t1 -c1  -d${DURATION}s --latency
# and derives the latency each proxy adds over the direct path. Before measuring it checks that every
# proxy really routes (each model answered by its own pool, per the simulator's x-inference-port);
# a row with any non-2xx response or socket error is marked FAIL. It also counts system calls per
# request (strace -c) and checks that streamed SSE events pass one by one (bench/stream_check.py).
#
# Priority: the run (its own session, so its own scheduler autogroup) and every process in it get
# nice -19 (BENCH_NICE), so that on a shared 2-vCPU VM a compile elsewhere gets ~1/70 of a core we
# use instead of half of it. It does not make a busy machine quiet: check `uptime` first.
# Pinning (2-core machine): the simulators and the proxy under test share core 0 (PROXY_CORE); for
# throughput wrk runs alone on core 1 (RPS_WRK_CORE) so that the load generator does not steal the
# proxy's CPU; for latency at 1 connection wrk runs on core 0 too (LAT_WRK_CORE), because every
# wake-up that crosses cores adds 50-70 us here, more than the hop we want to measure.
#
# usage: bench/run-proxy-bench.sh [--duration S] [--runs N] [--targets "direct infergate haproxy nginx"]
#        (more targets: infergate-keys, infergate-redis: API keys with local or Redis-shared limits;
#         infergate-log: every request written to an access log file)
#                                 [--sizes "2048 51200"] [--no-stream] [--no-strace] [--out FILE] [--raw DIR]
#                                 [--conns "20 60 150"] [--paced-ms MS] [--no-baseline] [--tls]
#                                 [--workers N]
#   --conns: also a sweep, per target and body size: wrk --latency at each of these connection
#            counts (requests/s and latency under load, the added latency against direct at the
#            same count); --paced-ms: at each count also a paced run (each connection pauses MS
#            before every request: below saturation, the latency is the proxy's own work, not its
#            queue); --no-baseline skips the usual 64-connection and 1-connection runs.
#   --tls:   the proxies terminate TLS (one ECDSA P-256 certificate made for the run, TLS 1.2+,
#            ALPN http/1.1); direct stays plain HTTP. Adds a handshake run per proxy: wrk -c64
#            with `Connection: close`, so each request is a new connection and a full handshake.
#   --workers: infergate workers, HAProxy nbthread, nginx worker_processes (default 1); with 2,
#            set PROXY_CORE=0,1 to let the proxy use both cores.
# env:   INFERGATE_BIN, INFERGATE_SIM_BIN (default: build-bench/src/{app,sim}/...)
# Writes bench/results/proxy-baseline.md (or --out) and raw outputs to bench/results/raw/.
set -euo pipefail
WATCHDOG_S=${WATCHDOG_S:-900}   # hard cap on the whole run
# Re-run under timeout(1): at the cap this script gets SIGTERM and its EXIT trap stops what it started.
NICE=${BENCH_NICE:--19}
if [[ -z ${INFERGATE_BENCH_CAPPED:-} ]]; then
  export INFERGATE_BENCH_CAPPED=1
  # setsid: a session of our own is a scheduler autogroup of our own, whose nice we may raise
  # below without touching anyone else's processes.
  exec setsid -w timeout -k 30 "$WATCHDOG_S" "$0" "$@"
fi
# With autogroups (sched_autogroup_enabled), per-process nice only weighs within a session: the
# whole run's group gets the priority (root only; ignored otherwise).
echo "$NICE" >/proc/self/autogroup 2>/dev/null || true
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=10
RUNS=1
TARGETS="direct infergate haproxy nginx"
SIZES="2048 51200"
DO_STREAM=1
DO_STRACE=1
DO_BASELINE=1
CONNS=""
PACE_MS=0
TLS=0
WORKERS=1
OUT=bench/results/proxy-baseline.md
RAW=bench/results/raw
PROXY_CORE=${PROXY_CORE:-0}
RPS_WRK_CORE=${RPS_WRK_CORE:-1}
LAT_WRK_CORE=${LAT_WRK_CORE:-0}
SIM_BIN=${INFERGATE_SIM_BIN:-$ROOT/build-bench/src/sim/infergate-sim}
GW_BIN=${INFERGATE_BIN:-$ROOT/build-bench/src/app/infergate}

RUN_CMD="bench/run-proxy-bench.sh $*"
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --targets) TARGETS=$2; shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    --no-stream) DO_STREAM=0; shift ;;
    --no-strace) DO_STRACE=0; shift ;;
    --no-baseline) DO_BASELINE=0; DO_STRACE=0; shift ;;
    --conns) CONNS=$2; shift 2 ;;
    --paced-ms) PACE_MS=$2; shift 2 ;;
    --tls) TLS=1; shift ;;
    --workers) WORKERS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --raw) RAW=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

WORK=$(mktemp -d /tmp/infergate-bench.XXXXXX)
LOAD_START=$(cat /proc/loadavg)
mkdir -p "$RAW"
rm -f "$RAW"/*.txt "$RAW"/*.json
pids=()

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --tls: one certificate for every proxy (server.pem: HAProxy wants the chain and key in one file).
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/server.key" -out "$WORK/server.crt" 2>/dev/null || { log "openssl failed"; exit 1; }
  cat "$WORK/server.crt" "$WORK/server.key" >"$WORK/server.pem"
}
scheme() { [[ $TLS -eq 1 && $1 != direct ]] && echo https || echo http; }

cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start NAME CORE CMD... : runs CMD pinned to CORE in the background; stdout/err go to $WORK/NAME.*
start() {
  local name=$1 core=$2; shift 2
  taskset -c "$core" nice -n "$NICE" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  pids+=($!)
  printf -v "pid_${name//-/_}" '%s' "$!"
  echo "taskset -c $core nice -n $NICE $*" >>"$WORK/commands.txt"
}

# wait_lines NAME WORD COUNT : bounded wait until NAME printed COUNT lines "WORD host:port".
wait_lines() {
  local name=$1 word=$2 count=$3 pidvar="pid_${1//-/_}" deadline=$((SECONDS + 20))
  while (($(grep -c "^$word " "$WORK/$name.out" 2>/dev/null || true) < count)); do
    if ! kill -0 "${!pidvar}" 2>/dev/null; then
      log "$name exited early:"; tail -20 "$WORK/$name.err" >&2; exit 1
    fi
    ((SECONDS < deadline)) || { log "$name not ready in 20 s"; tail -20 "$WORK/$name.err" >&2; exit 1; }
    sleep 0.05
  done
}

# wait_port NAME PORT : bounded wait until PORT accepts connections.
wait_port() {
  local name=$1 port=$2 pidvar="pid_${1//-/_}" deadline=$((SECONDS + 20))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "${!pidvar}" 2>/dev/null; then
      log "$name exited early:"; tail -20 "$WORK/$name.err" >&2; exit 1
    fi
    ((SECONDS < deadline)) || { log "$name not listening in 20 s"; exit 1; }
    sleep 0.05
  done
}

addr_of() { grep -m1 "^$2 " "$WORK/$1.out" | awk '{print $2}'; }

# --- model servers: three pools, one simulator instance each -------------------------------------
# bench-a and bench-b: fast mode (no modelled latency) for throughput and latency;
# bench-stream: 20 ms between tokens, for the streaming check.
log "starting simulators ($SIM_BIN)"
start sim_a "$PROXY_CORE" "$SIM_BIN" --host 127.0.0.1 --port 0 --instances 1 --model bench-a --fast
start sim_b "$PROXY_CORE" "$SIM_BIN" --host 127.0.0.1 --port 0 --instances 1 --model bench-b --fast
start sim_s "$PROXY_CORE" "$SIM_BIN" --host 127.0.0.1 --port 0 --instances 1 --model bench-stream \
  --itl-ms 20
for s in sim_a sim_b sim_s; do wait_lines "$s" listening 1; done
A=$(addr_of sim_a listening); B=$(addr_of sim_b listening); S=$(addr_of sim_s listening)
declare -A POOL=([a]=$A [b]=$B [stream]=$S)
declare -A MODEL_POOL=([bench-a]=a [bench-b]=b [bench-stream]=stream)
log "pools: a=$A b=$B stream=$S"

declare -A URL=([direct]=$A)
declare -A PROC=([direct]=sim_a)

# --- infergate -------------------------------------------------------------------------------------
# start_infergate NAME : "infergate" (no keys), "infergate-keys" (the wrk script's key, requests and
# tokens limits high enough never to refuse, counted locally) or "infergate-redis" (the same limits
# shared through a redis-server started here).
start_infergate() {
  local name=$1 cfg=$WORK/$1.yaml m
  [[ $name == infergate-redis ]] && start_redis
  {
    echo "listen: 127.0.0.1:0"
    echo "admin: 127.0.0.1:0"
    echo "workers: $WORKERS"
    echo "pools:"
    for p in a b stream; do echo "  - {name: pool-$p, endpoints: [${POOL[$p]}]}"; done
    echo "models:"
    for m in bench-a bench-b bench-stream; do
      echo "  - {name: $m, targets: [{pool: pool-${MODEL_POOL[$m]}}]}"
    done
    if [[ $name == infergate-keys || $name == infergate-redis ]]; then
      echo "auth:"
      echo "  keys:"
      echo "    - {name: bench, team: bench, key: bench, limits: {requests_per_minute: 1000000000, tokens_per_minute: 1000000000000}}"
    fi
    if [[ $name == infergate-redis ]]; then
      echo "limits:"
      echo "  store: redis://127.0.0.1:$REDIS_PORT"
    fi
    if [[ $name == infergate-log ]]; then
      echo "access_log: {path: $WORK/access.log, format: json}"
    fi
    if [[ $TLS -eq 1 ]]; then
      echo "tls: {cert: $WORK/server.crt, key: $WORK/server.key}"
    fi
  } >"$cfg"
  cp "$cfg" "$RAW/$name.yaml"
  start "$name" "$PROXY_CORE" "$GW_BIN" --config "$cfg" --listen 127.0.0.1:0 \
    --admin 127.0.0.1:0 --workers "$WORKERS"
  wait_lines "$name" listening 1
  URL[$name]=$(addr_of "$name" listening)
  PROC[$name]=$name
}

# start_redis : a redis-server on a free port (pinned with the simulators): REDIS_PORT.
start_redis() {
  REDIS_PORT=$(free_port)
  start redis "$PROXY_CORE" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
    --appendonly no
  wait_port redis "$REDIS_PORT"
}

# --- HAProxy ---------------------------------------------------------------------------------------
# HAProxy reads `model` only from what one buffer holds: a power of two above the largest body
# plus room for the head (at least 128 KB).
haproxy_bufsize() {
  local largest=0 s b=131072
  for s in $SIZES; do ((s > largest)) && largest=$s; done
  while ((b < largest + 16384)); do b=$((b * 2)); done
  echo "$b"
}

# haproxy_config NODELAY(1|0) PORT : the filled-in template on stdout.
haproxy_config() {
  local nodelay=$1 port=$2 backends="" p
  for p in a b stream; do
    backends+=$'backend pool_'"$p"$'\n    server s1 '"${POOL[$p]}"$' maxconn 1000\n\n'
  done
  {
    for m in bench-a bench-b bench-stream; do echo "$m pool_${MODEL_POOL[$m]}"; done
  } >"$WORK/models.map"
  local tpl
  tpl=$(<bench/peers/haproxy.cfg.in)
  tpl=${tpl//@PORT@/$port}
  tpl=${tpl//@BUFSIZE@/$(haproxy_bufsize)}
  tpl=${tpl//@THREADS@/$WORKERS}
  if [[ $TLS -eq 1 ]]; then
    tpl=${tpl//@BIND_TLS@/ ssl crt $WORK/server.pem alpn http/1.1 ssl-min-ver TLSv1.2}
  else
    tpl=${tpl//@BIND_TLS@/}
  fi
  tpl=${tpl//@MAPFILE@/$WORK/models.map}
  tpl=${tpl//@BACKENDS@/$backends}
  if [[ $nodelay -eq 0 ]]; then
    tpl=${tpl//    option http-no-delay/    # option http-no-delay (removed: control run)}
  fi
  printf '%s\n' "$tpl"
}

start_haproxy() {
  local name=$1 nodelay=$2 port
  port=$(free_port)
  haproxy_config "$nodelay" "$port" >"$WORK/$name.cfg"
  cp "$WORK/$name.cfg" "$RAW/$name.cfg"
  haproxy -c -q -f "$WORK/$name.cfg" || { log "haproxy config invalid"; exit 1; }
  start "$name" "$PROXY_CORE" haproxy -db -f "$WORK/$name.cfg"
  wait_port "$name" "$port"
  URL[$name]=127.0.0.1:$port
  PROC[$name]=$name
}

# --- nginx + njs -----------------------------------------------------------------------------------
start_nginx() {
  local port ups="" locs="" map="" p m dir=$WORK/nginx
  port=$(free_port)
  mkdir -p "$dir"
  cp bench/peers/route.js "$dir/"
  for p in a b stream; do
    ups+="    upstream pool_$p {"$'\n'"        server ${POOL[$p]};"$'\n'"        keepalive 64;"$'\n'"    }"$'\n'
    locs+="        location @pool_$p {"$'\n'"            proxy_pass http://pool_$p;"$'\n'
    locs+="            proxy_http_version 1.1;"$'\n'"            proxy_set_header Connection \"\";"$'\n'
    locs+="            proxy_buffering off;"$'\n'"        }"$'\n'
  done
  for m in bench-a bench-b bench-stream; do map+="${map:+,}\"$m\":\"${MODEL_POOL[$m]}\""; done
  local tpl
  tpl=$(<bench/peers/nginx.conf.in)
  tpl=${tpl//@PORT@/$port}
  tpl=${tpl//@DIR@/$dir}
  tpl=${tpl//@POOLMAP@/\{$map\}}
  tpl=${tpl//@UPSTREAMS@/$ups}
  tpl=${tpl//@LOCATIONS@/$locs}
  tpl=${tpl//@WORKERS@/$WORKERS}
  if [[ $TLS -eq 1 ]]; then
    tpl=${tpl//@LISTEN_TLS@/ ssl}
    tpl=${tpl//@SERVER_TLS@/        ssl_certificate $WORK/server.crt;$'\n'        ssl_certificate_key $WORK/server.key;$'\n'        ssl_protocols TLSv1.2 TLSv1.3;}
  else
    tpl=${tpl//@LISTEN_TLS@/}
    tpl=${tpl//@SERVER_TLS@/}
  fi
  printf '%s\n' "$tpl" >"$dir/nginx.conf"
  cp "$dir/nginx.conf" "$RAW/nginx.conf"
  nginx -t -q -p "$dir/" -e stderr -c "$dir/nginx.conf" || { log "nginx config invalid"; exit 1; }
  start nginx "$PROXY_CORE" nginx -p "$dir/" -e stderr -c "$dir/nginx.conf"
  wait_port nginx "$port"
  URL[nginx]=127.0.0.1:$port
  PROC[nginx]=nginx
}

if [[ $TLS -eq 1 ]]; then
  make_cert
  DO_STREAM=0  # bench/stream_check.py speaks plain HTTP
fi
for t in $TARGETS; do
  case $t in
    direct) ;;
    infergate|infergate-keys|infergate-redis|infergate-log) start_infergate "$t" ;;
    haproxy) start_haproxy haproxy 1 ;;
    nginx) start_nginx ;;
    *) log "unknown target $t"; exit 2 ;;
  esac
  log "target $t on ${URL[$t]}"
done

# --- routing check: every proxy sends each model to its own pool -----------------------------------
routing_ok=1
for t in $TARGETS; do
  [[ $t == direct ]] && continue
  if ! python3 bench/check_routing.py "$t" "$(scheme "$t")://${URL[$t]}" "bench-a=${A##*:}" "bench-b=${B##*:}" \
        "bench-stream=${S##*:}" | tee -a "$RAW/routing.txt"; then
    routing_ok=0
  fi
done
if [[ $routing_ok -ne 1 ]]; then log "routing check FAILED; see above"; exit 1; fi

# --- measurements ----------------------------------------------------------------------------------
# wrk_run OUTFILE CORE ARGS... : one bounded wrk run against bench-a; raw output to OUTFILE.
wrk_run() {
  local out=$1 core=$2; shift 2
  echo "BODY_BYTES=$BODY_BYTES MODEL=bench-a PACE_MS=${PACE:-0} taskset -c $core nice -n $NICE wrk $*" >"$out"
  PACE_MS=${PACE:-0} BODY_BYTES=$BODY_BYTES MODEL=bench-a timeout $((DURATION + 30)) \
    taskset -c "$core" nice -n "$NICE" wrk "$@" >>"$out" 2>&1 || echo "wrk exit status $?" >>"$out"
}

# Syscalls per request: strace -c the proxy's processes (all threads) during a short load.
strace_run() {
  local t=$1 pid pids_to_trace=() out=$RAW/strace-$1-$BODY_BYTES.txt
  local proc=${PROC[$t]}; local pidvar="pid_${proc//-/_}"
  pid=${!pidvar}
  pids_to_trace=("$pid")
  # nginx: the worker is the master's child and does the work.
  if [[ $t == nginx ]]; then
    for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do pids_to_trace+=("$c"); done
  fi
  local args=()
  for p in "${pids_to_trace[@]}"; do args+=(-p "$p"); done
  timeout 60 nice -n "$NICE" strace -c -f -q -o "$WORK/strace.txt" "${args[@]}" &
  local spid=$!
  sleep 0.5  # let strace attach before the load starts
  wrk_run "$WORK/strace-wrk.txt" "$RPS_WRK_CORE" -t1 -c64 -d2s -s bench/wrk/chat_post.lua "$(scheme "$t")://${URL[$t]}"
  kill -INT "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  { grep RESULT "$WORK/strace-wrk.txt"; cat "$WORK/strace.txt"; } >"$out"
}

# Rounds: every target is measured once per round, so that a burst of outside load hits one round
# of one target rather than all of a target's samples; the report takes the median over rounds.
for round in $(seq 1 "$RUNS"); do
  for BODY_BYTES in $SIZES; do
    for t in $TARGETS; do
      url="$(scheme "$t")://${URL[$t]}"
      log "round $round/$RUNS: measuring $t, body $BODY_BYTES B"
      # Warm-up (not recorded): fill keep-alive pools, fault in pages, let JITs settle.
      wrk_run "$WORK/warmup.txt" "$RPS_WRK_CORE" -t1 -c64 -d1s -s bench/wrk/chat_post.lua "$url"
      if [[ $DO_BASELINE -eq 1 ]]; then
        wrk_run "$RAW/$t-$BODY_BYTES-c64-r$round.txt" "$RPS_WRK_CORE" -t1 -c64 -d"${DURATION}s" \
          -s bench/wrk/chat_post.lua "$url"
        wrk_run "$RAW/$t-$BODY_BYTES-c1-r$round.txt" "$LAT_WRK_CORE" -t1 -c1 -d"${DURATION}s" \
          --latency -s bench/wrk/chat_post.lua "$url"
      fi
      for c in $CONNS; do
        wrk_run "$RAW/$t-$BODY_BYTES-sweep-c$c-r$round.txt" "$RPS_WRK_CORE" -t1 -c"$c" \
          -d"${DURATION}s" --latency -s bench/wrk/chat_post.lua "$url"
        if [[ $PACE_MS -gt 0 ]]; then
          PACE=$PACE_MS wrk_run "$RAW/$t-$BODY_BYTES-paced-c$c-r$round.txt" "$RPS_WRK_CORE" \
            -t1 -c"$c" -d"${DURATION}s" --latency -s bench/wrk/chat_post.lua "$url"
        fi
      done
      if [[ $TLS -eq 1 && $t != direct && $DO_BASELINE -eq 1 ]]; then
        wrk_run "$RAW/$t-$BODY_BYTES-hs-r$round.txt" "$RPS_WRK_CORE" -t1 -c64 -d"${DURATION}s" \
          -H "Connection: close" -s bench/wrk/chat_post.lua "$url"
      fi
      if [[ $DO_STRACE -eq 1 && $round -eq 1 ]]; then strace_run "$t"; fi
    done
  done
done

# --- streaming: SSE events one by one, through every proxy, vs direct ------------------------------
if [[ $DO_STREAM -eq 1 ]]; then
  stream_targets=("direct=$S")
  for t in $TARGETS; do [[ $t != direct ]] && stream_targets+=("$t=${URL[$t]}"); done
  if [[ " $TARGETS " == *" haproxy "* ]]; then
    # Control: the same HAProxy without http-no-delay, to show what the check catches.
    start_haproxy haproxy_nodelay_off 0
    stream_targets+=("haproxy-without-no-delay=${URL[haproxy_nodelay_off]}")
  fi
  log "streaming check"
  timeout 300 nice -n "$NICE" python3 bench/stream_check.py --model bench-stream --tokens 20 --requests 5 \
    --json "$RAW/stream.json" "${stream_targets[@]}" | tee "$RAW/stream.txt"
fi

# --- report ----------------------------------------------------------------------------------------
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "tree at run: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); binaries built from: ${BENCH_BUILD_COMMIT:-unknown (set BENCH_BUILD_COMMIT)}"
  echo "nproc: $(nproc)"
  lscpu | head -n 20 | grep -E 'Model name|^CPU\(s\)|Thread|Hypervisor|L2|L3|MHz' || true
  echo "kernel: $(uname -r)"
  echo "haproxy: $(haproxy -v | head -1)"
  echo "nginx: $(nginx -v 2>&1) + njs $(dpkg-query -W -f='${Version}' libnginx-mod-http-js)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  echo "loadavg at start: $LOAD_START; at end: $(cat /proc/loadavg); autogroup: $(cat /proc/self/autogroup 2>/dev/null)"
} >"$RAW/machine.txt"
cp "$WORK/commands.txt" "$RAW/commands.txt"
echo "BENCH_BUILD_COMMIT=${BENCH_BUILD_COMMIT:-} $RUN_CMD" >"$RAW/run.txt"
python3 bench/proxy_report.py --raw "$RAW" --targets "$TARGETS" --sizes "$SIZES" \
  --conns "$CONNS" --paced-ms "$PACE_MS" --baseline "$DO_BASELINE" --tls "$TLS" \
  --duration "$DURATION" --runs "$RUNS" --cores "$PROXY_CORE/$RPS_WRK_CORE/$LAT_WRK_CORE" \
  --workers "$WORKERS" \
  --notes "${OUT%.md}.notes.md" >"$OUT"
log "wrote $OUT"
cat "$OUT"

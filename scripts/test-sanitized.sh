#!/usr/bin/env bash
# Builds infergate with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ (g++,
# -O1 -g1, asserts on) and runs the unit and integration tests and the fuzz corpus replays under
# them. Left out: e2e (a browser and npm clients: slow under ASan, and they test the same paths
# the integration tests do) and packaging (it checks the release binary's shared libraries).
# Extra args go to `meson test` (a test name, --suite ...). Ends with meson's own summary.
set -uo pipefail
cd "$(dirname "$0")/.."

# BOOST_DISABLE_ASSERTS: Beast 1.81's parse_chunk_header asserts n >= 5 where 3 bytes are valid
# (a final chunk's CRLF arriving alone; fixed upstream in boostorg/beast#2861); our own assert()s,
# simdjson's included, stay on.
if [[ ! -f build-asan/build.ninja ]]; then
  meson setup build-asan --buildtype=plain -Db_sanitize=address,undefined -Db_ndebug=false \
    -Dcpp_args='-O1 -g1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DBOOST_DISABLE_ASSERTS' || exit 1
fi
nice -n 10 ninja -C build-asan -j2 || exit 1

# Reports fail the process (UBSan included); the integration harness sends each child's report
# to a log of its own and fails the test that started it (tests/integration/harness.py).
export INFERGATE_SANITIZED=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
suites=(--suite unit --suite integration --suite fuzz-replay --no-suite packaging)
[[ $# -gt 0 ]] && suites=()
meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3 \
  "${suites[@]}" "$@"

#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, integration, end-to-end), then
# the unit and integration tests and fuzz corpus replays again under ASan+UBSan.
# Ends with a plain "N passed, N failed" line computed from both of meson's test logs.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test || exit 1
scripts/build.sh || exit 1
if [[ -f tests/e2e/package-lock.json ]]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi

# Two cores: run two tests at a time; each test bounds its own run time.
meson test -C build --print-errorlogs --num-processes 2 "$@"
status=$?

# The same tests again under AddressSanitizer + UBSan (build-asan/; e2e and packaging left out).
rm -f build-asan/meson-logs/testlog.json
scripts/test-sanitized.sh "$@" || status=1

python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            for line in f:
                r = json.loads(line).get("result")
                if r in ("OK", "EXPECTEDFAIL"): passed += 1
                elif r == "SKIP": skipped += 1
                else: failed += 1
    except FileNotFoundError:
        failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit $status

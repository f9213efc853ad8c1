#!/usr/bin/env bash
# Runs the whole suite on the embedded engine, then on PostgreSQL when one is reachable at
# TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). GROUPD_REQUIRE_POSTGRES=1
# turns an unreachable PostgreSQL into a failure (CI sets it). Extra arguments select test files.
set -uo pipefail
cd "$(dirname "$0")/.."

npm run --silent build || exit 1

files=("$@")
[ ${#files[@]} -eq 0 ] && files=(test/*.test.ts)
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

engines=(sqlite)
if node scripts/pg-reachable.mjs "$TEST_DATABASE_URL" 2>/tmp/groupd-pg-probe.log; then
  engines+=(postgres)
elif [ -n "${GROUPD_REQUIRE_POSTGRES:-}" ]; then
  echo "PostgreSQL is required but not reachable at $TEST_DATABASE_URL: $(cat /tmp/groupd-pg-probe.log)" >&2
  exit 1
else
  echo "PostgreSQL not reachable at $TEST_DATABASE_URL; running the embedded engine only." >&2
fi

total_pass=0
total_fail=0
status=0
summary=()
for engine in "${engines[@]}"; do
  echo "=== engine: $engine ==="
  log=$(mktemp)
  GROUPD_TEST_ENGINE=$engine node --import tsx --test --test-reporter=spec --test-concurrency=2 "${files[@]}" 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  pass=$(grep -E '^ℹ pass [0-9]+' "$log" | tail -1 | awk '{print $3}')
  fail=$(grep -E '^ℹ fail [0-9]+' "$log" | tail -1 | awk '{print $3}')
  rm -f "$log"
  total_pass=$((total_pass + ${pass:-0}))
  total_fail=$((total_fail + ${fail:-0}))
  summary+=("$engine: ${pass:-0} passed, ${fail:-0} failed")
  [ "$code" -ne 0 ] && status=1
done

echo "=== engines ran: ${engines[*]} ==="
printf '  %s\n' "${summary[@]}"
echo "${total_pass} passed, ${total_fail} failed"
exit $status

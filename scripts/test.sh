#!/usr/bin/env bash
# Runs the whole suite on the embedded engine, then on PostgreSQL when one is reachable at
# TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). GROUPD_REQUIRE_POSTGRES=1
# turns an unreachable PostgreSQL into a failure (CI sets it). Then the suites that touch events
# (CLICKHOUSE_FILES) once more with events in ClickHouse, when GROUPD_TEST_CLICKHOUSE_URL answers;
# GROUPD_REQUIRE_CLICKHOUSE=1 makes that pass required. Extra arguments select test files.
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

# Event-touching suites that run again with ClickHouse as the events store.
CLICKHOUSE_FILES=(test/capture.test.ts test/metric-values.test.ts test/filter-operators.test.ts test/sdk.test.ts
  test/clickhouse.test.ts test/clickhouse-sharding.test.ts)
clickhouse_files=()
for f in "${files[@]}"; do
  for c in "${CLICKHOUSE_FILES[@]}"; do [ "$f" = "$c" ] && clickhouse_files+=("$f"); done
done
if [ ${#clickhouse_files[@]} -gt 0 ]; then
  if [ -n "${GROUPD_TEST_CLICKHOUSE_URL:-}" ] && curl -sf "${GROUPD_TEST_CLICKHOUSE_URL%/}/ping" >/dev/null 2>&1; then
    engines+=(clickhouse)
  elif [ -n "${GROUPD_REQUIRE_CLICKHOUSE:-}" ]; then
    echo "ClickHouse is required but not reachable at '${GROUPD_TEST_CLICKHOUSE_URL:-}' (GROUPD_TEST_CLICKHOUSE_URL)" >&2
    exit 1
  else
    echo "ClickHouse suites SKIPPED: GROUPD_TEST_CLICKHOUSE_URL ('${GROUPD_TEST_CLICKHOUSE_URL:-}') does not answer; set it to run them." >&2
  fi
fi

total_pass=0
total_fail=0
status=0
summary=()
for engine in "${engines[@]}"; do
  echo "=== engine: $engine ==="
  log=$(mktemp)
  if [ "$engine" = clickhouse ]; then
    # Metadata on PostgreSQL when there is one (the production pairing), events in ClickHouse.
    meta=sqlite
    [[ " ${engines[*]} " == *" postgres "* ]] && meta=postgres
    GROUPD_TEST_ENGINE=$meta GROUPD_TEST_EVENTS=clickhouse node --import tsx --test --test-reporter=spec \
      --test-concurrency=2 "${clickhouse_files[@]}" 2>&1 | tee "$log"
  else
    GROUPD_TEST_ENGINE=$engine node --import tsx --test --test-reporter=spec --test-concurrency=2 "${files[@]}" 2>&1 | tee "$log"
  fi
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

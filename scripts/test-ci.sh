#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs typecheck, lint and the tests.
# Ends with one plain line "N passed, N failed, N skipped" (read by CI).
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
npm ci --no-audit --no-fund --loglevel=error || { echo "0 passed, 1 failed"; exit 1; }

status=0
npx tsc --noEmit -p tsconfig.json || { echo "typecheck failed"; status=1; }
npx biome check . || { echo "lint failed"; status=1; }

report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report"
tests_status=$?
[ $tests_status -eq 0 ] || status=1

node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$report" || { echo "0 passed, 1 failed"; status=1; }
exit $status

#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs typecheck, lint and the tests.
# Ends with one plain line "N passed, N failed, N skipped" (read by CI).
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
npm ci --no-audit --no-fund --loglevel=error || { echo "0 passed, 1 failed"; exit 1; }

# The runtime is the `node` devDependency (a Node 24 binary in node_modules/.bin), not whatever Node
# the machine has: npm puts node_modules/.bin first on PATH for `npm run`, and this line keeps that
# true when the script is started some other way. Refuse to test on any other major version.
PATH="$PWD/node_modules/.bin:$PATH"
wanted_major=$(node -p 'require("./package.json").devDependencies.node.split(".")[0]')
echo "node $(node --version) at $(command -v node) (project pins Node ${wanted_major})"
if [ "$(node -p 'process.versions.node.split(".")[0]')" != "$wanted_major" ]; then
  echo "wrong Node: $(node --version), package.json devDependencies pin node ${wanted_major}.x"
  echo "0 passed, 1 failed"
  exit 1
fi

status=0
# Typecheck and lint count as one check each in the final line, so a type error cannot hide
# behind green tests.
checks_failed=0
npx tsc --noEmit -p tsconfig.json || { echo "typecheck failed"; status=1; checks_failed=$((checks_failed + 1)); }
npx biome check . || { echo "lint failed"; status=1; checks_failed=$((checks_failed + 1)); }

report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report"
tests_status=$?
[ $tests_status -eq 0 ] || status=1

node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  const checksFailed = Number(process.argv[2]);
  // A file that fails to load has no failing test of its own: count it once.
  const brokenFiles = (r.testResults ?? []).filter(
    (f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed"),
  ).length;
  // Vitest can fail a run whose tests all passed (an unhandled error, say): that counts once too,
  // so the line never reads "0 failed" under a red exit code.
  const runFailed = Number(process.argv[3]) !== 0 && r.numFailedTests + brokenFiles === 0 ? 1 : 0;
  if (runFailed) console.log("the test run failed outside any test (see the errors above)");
  const failed = r.numFailedTests + brokenFiles + checksFailed + runFailed;
  console.log(`${r.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
' "$report" "$checks_failed" "$tests_status" || { echo "0 passed, 1 failed"; status=1; }
exit $status

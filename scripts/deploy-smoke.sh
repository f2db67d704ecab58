#!/usr/bin/env bash
# What the Dockerfile does, without a container engine: build the committed tree with dev
# dependencies, install production dependencies only next to dist/ and proto/, start it as the
# image's ENTRYPOINT does (`node <its flags> dist/src/cli.js serve`), check /healthz, /readyz and
# /metrics, and stop it with SIGTERM. Needs the npm registry (npm ci). Usage: bash scripts/deploy-smoke.sh [git-ref]
set -euo pipefail
ref="${1:-HEAD}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== build stage ($ref)"
mkdir "$work/build" "$work/app"
git -C "$repo" archive "$ref" package.json package-lock.json tsconfig.json tsconfig.build.json proto src | tar -x -C "$work/build"
(cd "$work/build" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && npm run build --silent)

echo "== runtime stage"
cp "$work/build/package.json" "$work/build/package-lock.json" "$work/app/"
cp -r "$work/build/proto" "$work/build/dist" "$work/app/"
(cd "$work/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)

echo "== serve"
port=$((20000 + RANDOM % 20000))
cd "$work/app"
# Started directly (not in a subshell) so that SIGTERM reaches node and `wait` returns its status.
# With strace available, every successful file write, create, rename or delete is recorded, to
# show the process is fine with a read-only root filesystem (writes only under /tmp).
trace=()
if command -v strace >/dev/null 2>&1; then
  trace=(strace -f -qq -o "$work/files.trace" -e trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat)
fi
# The node flags of that ref's ENTRYPOINT (exec form: node, flags, script), so this never drifts
# from the image.
read -r -a node_flags < <(git -C "$repo" show "$ref:Dockerfile" | node -e '
  const line = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.startsWith("ENTRYPOINT ")).pop();
  console.log(JSON.parse(line.slice("ENTRYPOINT ".length)).slice(1, -1).join(" "));')
NODE_ENV=production HOME=/tmp LISTEN_HOST=127.0.0.1 GRPC_PORT=0 HTTP_PORT="$port" \
  "${trace[@]}" node "${node_flags[@]}" dist/src/cli.js serve >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null
curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"
grep -q '^# HELP keda_llm_scaler_' "$work/metrics.txt"
# Under strace, $pid is strace itself: signal node, its child.
target="$pid"
if [ ${#trace[@]} -gt 0 ]; then target="$(pgrep -P "$pid" node || echo "$pid")"; fi
kill -TERM "$target"
status=0
wait "$pid" || status=$?
pid=""
if [ "$status" -ne 0 ]; then
  echo "serve exited with status $status on SIGTERM:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
if [ ${#trace[@]} -gt 0 ]; then
  # Successful calls that write: opens with O_WRONLY/O_RDWR/O_CREAT, and every mkdir/rename/unlink.
  writes=$(grep -v ' = -1 ' "$work/files.trace" \
    | grep -E 'O_WRONLY|O_RDWR|O_CREAT|mkdir|rename|unlink|creat\(' \
    | grep -oE '"[^"]*"' | tr -d '"' | grep -vE '^(/tmp/|/dev/|/proc/)' | sort -u || true)
  if [ -n "$writes" ]; then
    echo "writes outside /tmp (a read-only root filesystem would refuse them):" >&2
    echo "$writes" >&2
    exit 1
  fi
  echo "no file written outside /tmp ($(wc -l <"$work/files.trace") file calls traced)"
fi
echo "ok: built, started with production dependencies only ($(du -sh node_modules | cut -f1) node_modules), healthy, stopped cleanly on SIGTERM"

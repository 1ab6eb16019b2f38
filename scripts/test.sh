#!/usr/bin/env bash
# `npm test`: everything a fresh clone needs (scripts/setup.sh: Node 24, apt packages, npm ci, the
# stack), then every check: tsc --noEmit, eslint, vitest run (all unit + integration tests), and the
# source + type suites on the newest PostgreSQL release (scripts/pg-matrix.ts --pg newest).
# Runs unattended (CI=true, no stdin, as root or with passwordless sudo). Exits non-zero if any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# First: the npm that started this script may run on an older system Node; from here on `node`,
# npm and npx are Node 24 (scripts/node.sh), and so is everything they start.
. scripts/node.sh
bash scripts/setup.sh --with-browser

started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

failed=()
step "tsc --noEmit (node $(node --version))"
npx tsc --noEmit || failed+=(tsc)
step "eslint"
npx eslint . || failed+=(eslint)
step "vitest"
npx vitest run || failed+=(vitest)
# The source and type suites once more on the newest PostgreSQL release (zonky build, private
# cluster next to the stack's 15; docs/pg-versions.md). The other versions: npm run test:pg-matrix.
step "source + type suites on the newest PostgreSQL (pg-matrix --pg newest)"
npx tsx scripts/pg-matrix.ts --pg newest || failed+=(pg-newest)

step "done"
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "all checks passed"

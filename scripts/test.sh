#!/usr/bin/env bash
# `npm test`: everything a fresh clone needs (scripts/setup.sh: apt packages, npm ci, the stack),
# then every check: tsc --noEmit, eslint, vitest run (all unit + integration tests).
# Runs unattended (CI=true, no stdin, as root or with passwordless sudo). Exits non-zero if any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-browser

started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

failed=()
step "tsc --noEmit"
npx tsc --noEmit || failed+=(tsc)
step "eslint"
npx eslint . || failed+=(eslint)
step "vitest"
npx vitest run || failed+=(vitest)

step "done"
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "all checks passed"

#!/usr/bin/env bash
# `npm run demo`: install what is missing, bring the real stack up, run the shop demo.
# Arguments pass through to scripts/demo/main.ts, e.g. `npm run demo -- --duration 20 --rate 50`.
# Where a Docker engine answers, `docker compose up` runs the same demo instead (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 24 first on PATH (installed into .tools/ when the system Node is older): the demo, the
# daemon it starts (process.execPath) and npm ci all run on it.
. scripts/node.sh
bash scripts/setup.sh
npx tsx scripts/demo/main.ts "$@"

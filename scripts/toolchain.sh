# Shared by the packaging and cross scripts (sourced, not run): install the toolchain pieces they
# need from the registries CI can reach, and say exactly why when one cannot be had.
# Each ensure_* returns 0 when the piece is ready, else 1 with the reason in $TOOL_ERR.
# Tools land under target/tools (git-ignored, reused between runs).

TOOLS_DIR="${TOOLS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/tools}"
TOOL_ERR=''

# The last line of a failed command's output, for a one-line reason.
_last_line() { grep -v '^\s*$' "$1" | tail -1 | cut -c1-300; }

# zig (PyPI `ziglang`) and cargo-zigbuild (PyPI `cargo-zigbuild`, a prebuilt wheel) in a venv;
# puts its bin/ first on PATH. `napi build -x` then links glibc-versioned, musl and Mach-O targets.
ensure_zig() {
  local venv="$TOOLS_DIR/zig-venv" log
  if [ ! -x "$venv/bin/cargo-zigbuild" ] || ! "$venv/bin/python" -m ziglang version >/dev/null 2>&1; then
    log=$(mktemp)
    mkdir -p "$TOOLS_DIR"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check ziglang cargo-zigbuild; } >"$log" 2>&1; then
      TOOL_ERR="pip install ziglang cargo-zigbuild failed: $(_last_line "$log")"
      rm -f "$log"; return 1
    fi
    rm -f "$log"
  fi
  # napi's -x looks for `zig` on PATH; the ziglang wheel ships the binary inside the package.
  if [ ! -x "$venv/bin/zig" ]; then
    local zigbin
    zigbin=$("$venv/bin/python" -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
    ln -sf "$zigbin" "$venv/bin/zig"
  fi
  export PATH="$venv/bin:$PATH"
}

# A rustup target's standard library (stable toolchain).
ensure_rust_target() {
  local log
  rustup target list --installed 2>/dev/null | grep -qx "$1" && return 0
  log=$(mktemp)
  if ! rustup target add "$1" >"$log" 2>&1; then
    TOOL_ERR="rustup target add $1 failed: $(_last_line "$log")"; rm -f "$log"; return 1
  fi
  rm -f "$log"
}

# Debian packages (CI runs as root). Args: the command that proves it is there, then the packages.
ensure_apt() {
  local probe="$1" log; shift
  command -v "$probe" >/dev/null 2>&1 && return 0
  log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
    TOOL_ERR="apt-get install $* failed: $(_last_line "$log")"; rm -f "$log"; return 1
  fi
  rm -f "$log"
  command -v "$probe" >/dev/null 2>&1 || { TOOL_ERR="$probe still missing after apt-get install $*"; return 1; }
}

# A Node binary from the npm registry (the node-<os>-<arch> packages ship bin/node), unpacked
# under target/tools/node-<spec>; prints the path of bin/node.
ensure_npm_node() {
  local spec="$1" dir="$TOOLS_DIR/$1" log tgz
  if [ ! -x "$dir/package/bin/node" ]; then
    log=$(mktemp); mkdir -p "$dir"
    if ! tgz=$(cd "$dir" && npm pack --silent "$spec" 2>"$log"); then
      TOOL_ERR="npm pack $spec failed: $(_last_line "$log")"; rm -f "$log"; return 1
    fi
    tar -xzf "$dir/$tgz" -C "$dir" && rm -f "$dir/$tgz" "$log"
  fi
  echo "$dir/package/bin/node"
}

# PATH without any directory holding cargo or rustc (to prove an install builds nothing).
path_without_rust() {
  local out='' d
  local IFS=:
  for d in $PATH; do
    { [ -x "$d/cargo" ] || [ -x "$d/rustc" ]; } && continue
    out="${out:+$out:}$d"
  done
  echo "$out"
}

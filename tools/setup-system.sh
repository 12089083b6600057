#!/usr/bin/env bash
# System packages the project needs on Linux, installed only where missing (idempotent):
# 1. A Vulkan driver for Dawn (npm `webgpu`). If a WebGPU adapter already works, nothing is done;
#    otherwise Mesa's lavapipe (CPU Vulkan) is installed, on Debian bookworm from
#    bookworm-backports: bookworm's own Mesa 22.3 is rejected by Dawn
#    ("shaderUniform*ArrayDynamicIndexing required").
# 2. Chromium (Debian's package) for the demo page's browser test, unless CHROMIUM_PATH points at one;
#    optional: without it setup succeeds and that test is skipped.
# Needs root (or sudo) only when it has to install something.
set -euo pipefail
[ "$(uname -s)" = Linux ] || { echo "setup: not Linux: install a WebGPU-capable driver and Chromium yourself"; exit 0; }
here=$(cd "$(dirname "$0")/.." && pwd)
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
probe() { node "$here/tools/probe-adapter.mjs" 2>/dev/null; }
updated=""
apt_install() {
  command -v apt-get >/dev/null || { echo "setup: no apt-get: install $* yourself" >&2; return 1; }
  [ -n "$updated" ] || { $sudo apt-get update -qq; updated=1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if adapter=$(probe); then
  echo "setup: WebGPU adapter: $adapter"
else
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" = bookworm ]; then
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "deb http://deb.debian.org/debian bookworm-backports main" | $sudo tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    fi
    apt_install -t bookworm-backports mesa-vulkan-drivers libvulkan1
  else
    apt_install mesa-vulkan-drivers libvulkan1
  fi
  if adapter=$(probe); then echo "setup: installed lavapipe; WebGPU adapter: $adapter"; else
    echo "setup: Dawn still finds no WebGPU adapter after installing mesa-vulkan-drivers:" >&2
    node "$here/tools/probe-adapter.mjs" >&2 || true
    exit 1
  fi
fi

# Chromium serves one test only (the demo page, test/web/page.test.ts): where it cannot be installed,
# setup still succeeds and that test is skipped, naming why (under CI=true it fails instead).
if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then
  echo "setup: Chromium: $CHROMIUM_PATH"
elif [ -x /usr/bin/chromium ]; then
  echo "setup: Chromium: /usr/bin/chromium"
elif apt_install chromium && [ -x /usr/bin/chromium ]; then
  echo "setup: installed Chromium: $(/usr/bin/chromium --version 2>/dev/null)"
else
  echo "setup: warning: Chromium is not installed (see above); the demo page's test will be skipped. Install Debian's chromium, or set CHROMIUM_PATH, to run it." >&2
fi

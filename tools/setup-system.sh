#!/usr/bin/env bash
# System packages the project needs on Linux, installed only where missing (idempotent):
# 1. A Vulkan driver for Dawn (npm `webgpu`). If a WebGPU adapter already works, nothing is done;
#    otherwise Mesa's lavapipe (CPU Vulkan) is installed, on Debian bookworm from
#    bookworm-backports: bookworm's own Mesa 22.3 is rejected by Dawn
#    ("shaderUniform*ArrayDynamicIndexing required").
# 2. Chromium (Debian's package) for the demo page's browser test, unless CHROMIUM_PATH points at one;
#    optional: without it setup succeeds and that test is skipped.
# 3. Redis (Debian's redis-server) for the BullMQ adapter's tests, which start their own server on a
#    free loopback port (test/helpers/redis.ts); the system service Debian's package enables is
#    stopped and disabled again. Required under CI=true (setup fails without it); elsewhere a warning,
#    and those tests are skipped naming why.
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

# Redis serves the BullMQ adapter's tests (test/adapters/bullmq.test.ts), each of which starts its own
# redis-server; none uses a system Redis. So when this script installs the package, it stops and
# disables the service that Debian's package starts and enables (where it could start one), leaving
# nothing listening on port 6379; `systemctl enable --now redis-server` brings it back for real runs.
if command -v redis-server >/dev/null; then
  echo "setup: Redis: $(redis-server --version)"
elif apt_install redis-server && command -v redis-server >/dev/null; then
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
  else
    $sudo service redis-server stop >/dev/null 2>&1 || true
    $sudo update-rc.d redis-server disable >/dev/null 2>&1 || true
    command -v systemctl >/dev/null && $sudo systemctl disable redis-server >/dev/null 2>&1 || true
  fi
  echo "setup: installed Redis: $(redis-server --version) (its system service stopped and disabled: the tests start their own)"
elif [ -n "${CI:-}" ]; then
  echo "setup: redis-server is not installed and could not be installed (see above); the BullMQ tests need it under CI" >&2
  exit 1
else
  echo "setup: warning: redis-server is not installed (see above); the BullMQ adapter's tests will be skipped. Install Debian's redis-server to run them." >&2
fi

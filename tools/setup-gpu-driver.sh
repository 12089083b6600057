#!/usr/bin/env bash
# Makes sure Dawn (npm `webgpu`) finds a Vulkan adapter on Linux.
# - If a Vulkan adapter already works, does nothing.
# - Otherwise, on Debian bookworm, installs Mesa's lavapipe (CPU Vulkan) from bookworm-backports:
#   bookworm's own Mesa 22.3 is rejected by Dawn ("shaderUniform*ArrayDynamicIndexing required").
# Idempotent; needs root (or sudo) only when it has to install.
set -euo pipefail
[ "$(uname -s)" = Linux ] || exit 0
here=$(cd "$(dirname "$0")/.." && pwd)
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

probe() { node "$here/tools/probe-adapter.mjs" >/dev/null 2>&1; }

if [ -d "$here/node_modules/webgpu" ] && probe; then
  echo "setup: a WebGPU adapter already works: $(node "$here/tools/probe-adapter.mjs" 2>/dev/null)"
  exit 0
fi

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
if ! command -v apt-get >/dev/null; then
  echo "setup: no working Vulkan adapter and no apt-get: install a Vulkan driver (Mesa >= 23 lavapipe or a GPU driver) yourself" >&2
  exit 1
fi
. /etc/os-release
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
  list=/etc/apt/sources.list.d/bookworm-backports.list
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $sudo tee "$list" >/dev/null
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
else
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
if [ -d "$here/node_modules/webgpu" ]; then
  if probe; then echo "setup: adapter: $(node "$here/tools/probe-adapter.mjs")"; else
    echo "setup: installed mesa-vulkan-drivers but Dawn still finds no adapter:" >&2
    node "$here/tools/probe-adapter.mjs" >&2 || true; exit 1; fi
fi

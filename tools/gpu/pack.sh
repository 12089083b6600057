#!/usr/bin/env bash
# Packs this checkout — and optionally an older commit to compare with — for one call of a lent GPU
# machine (no Node.js, no registry there), into .gpu/ (git-ignored through .git/info/exclude):
#   bash tools/gpu/pack.sh [--base REF] [FIXTURE ...]
# .gpu/ then holds node.xz (Node itself), the Vulkan loader .deb, app.tar.xz (dist/, src/, the
# runtime dependencies, vitest's closure, the ORT Web WebGPU files, test/kernels|helpers|wgsl, reference/
# and the FIXTUREs named, e.g. test/fixtures/ov1-ti16-224-d1.*), base.tar.xz (REF built in a
# temporary worktree: its dist/ and src/, run with the same node_modules) and device-run.sh.
# docs/gpu.md says how to carry it under the device tool's 64 MiB and which steps to run.
set -euo pipefail
base=''
if [ "${1:-}" = --base ]; then base=$2; shift 2; fi
root=$(git rev-parse --show-toplevel)
cd "$root"
here=$root/tools/gpu
mkdir -p "$(git rev-parse --git-path info)"
grep -qx '/.gpu/' "$(git rev-parse --git-path info/exclude)" 2>/dev/null || echo '/.gpu/' >> "$(git rev-parse --git-path info/exclude)"
dev=$root/.gpu; rm -rf "$dev"; mkdir -p "$dev"
cp "$here/device-run.sh" "$dev/device-run.sh"
xz -T2 -9 -c "$(readlink -f "$(command -v node)")" > "$dev/node.xz"
mkdir -p /tmp/amd64-lists/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64-lists'
apt-get $o update -qq >/dev/null 2>&1 || true
(cd "$dev" && apt-get $o download libvulkan1 >/dev/null 2>&1) || echo 'pack: could not download libvulkan1 (the GPU machine may have a loader)' >&2
npm run build >/dev/null
stage=$(mktemp -d); app=$stage/app; mkdir -p "$app/node_modules" "$app/test/fixtures" "$app/bench/peers"
# runtime dependencies + the closures of vitest and of Benchmark.js (the benchmarks time with it) + the ORT Web WebGPU peer's files, nothing else
{ node "$here/closure.cjs" "$root" $(node -e 'console.log(Object.keys(require("./package.json").dependencies).join(" "))')
  node "$here/closure.cjs" "$root" vitest onnxruntime-common benchmark; } | sort -u | while read -r d; do
  mkdir -p "$app/$(dirname "$d")"; cp -r "$d" "$app/$d"; done
rm -rf "$app"/node_modules/webgpu/dist/{darwin-*,win32-*,linux-arm64}
ort=node_modules/onnxruntime-web; mkdir -p "$app/$ort/dist"; cp "$ort/package.json" "$app/$ort/"
cp "$ort"/dist/ort.webgpu.min.mjs "$ort"/dist/ort-wasm-simd-threaded.asyncify.mjs \
   "$ort"/dist/ort-wasm-simd-threaded.asyncify.wasm "$ort"/dist/ort.node.min.js "$app/$ort/dist/"
cp -r dist src package.json tsconfig.json tsconfig.test.json vitest.config.ts "$app/"
cp -r test/kernels test/helpers test/wgsl "$app/test/"; cp -r reference "$app/"
cp bench/peers/pytorch_vit.py "$app/bench/peers/"
for f in "$@"; do cp "$f" "$app/test/fixtures/"; done
tar -C "$stage" -cf - app | xz -T2 -6 > "$dev/app.tar.xz"
rm -rf "$stage"
if [ -n "$base" ]; then
  wt=$(mktemp -d)/base
  git worktree add -q --detach "$wt" "$base"
  ln -s "$root/node_modules" "$wt/node_modules"
  (cd "$wt" && npm run build >/dev/null)
  tar -C "$wt" -cf - dist src | xz -T2 -6 > "$dev/base.tar.xz"
  echo "$(git rev-parse --short "$base")" > "$dev/base.commit"
  git worktree remove --force "$wt"
fi
git rev-parse --short HEAD > "$dev/app.commit"
du -sh "$dev"/* | sed 's/^/packed: /'
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
echo "total: .gpu $(( $(du -sb "$dev" | cut -f1) / 1048576 )) MiB + tracked files $(( tracked / 1048576 )) MiB (the device tool carries at most 64 MiB; docs/gpu.md: the call from a branch without test/fixtures)"

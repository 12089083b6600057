#!/usr/bin/env bash
# Packs what the GPU machine needs to run the benchmark, within the device tool's 64 MiB:
# the shared pack (Node, npm, the Vulkan loader, ../shared/gpu/run.sh), then a pruned
# node_modules (runtime dependencies + the ORT Web WebGPU build for the peer; no dev tooling,
# no other platforms' Dawn) in place of the full one. `dist/` is built here and carried too:
#   bash tools/pack-gpu.sh
#   device run: carry [".gpu", "dist"], command: bash .gpu/run.sh bash bench/gpu-run.sh [torch] [kernels] [suite]
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
npm run build >/dev/null
mkdir -p "$(git rev-parse --git-path info)"   # a fresh clone may have no .git/info, where pack.sh records /.gpu/
bash ../shared/gpu/pack.sh >/dev/null
stage=$(mktemp -d)
cp package.json package-lock.json "$stage/"
(cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null 2>&1)
# The benchmark's peer: only the WebGPU ESM build and the one wasm it loads.
ort=node_modules/onnxruntime-web
mkdir -p "$stage/$ort/dist"
cp "$ort/package.json" "$stage/$ort/"
cp "$ort"/dist/ort.webgpu.min.mjs "$ort"/dist/ort-wasm-simd-threaded.asyncify.mjs "$ort"/dist/ort-wasm-simd-threaded.asyncify.wasm "$ort"/dist/ort.node.min.js "$stage/$ort/dist/"  # ort.node.min.js: what require.resolve finds (bench/peers/ort-web.ts)
for dep in onnxruntime-common; do [ -d "$stage/node_modules/$dep" ] || cp -r "node_modules/$dep" "$stage/node_modules/"; done
tar -C "$stage" --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
    --exclude='node_modules/webgpu/dist/linux-arm64' -cf - node_modules | xz -T2 -6 > .gpu/node_modules.tar.xz
rm -rf "$stage"
du -sh .gpu/* dist | sed 's/^/packed: /'
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
echo "total to carry: $(( ($(du -sb .gpu | cut -f1) + $(du -sb dist | cut -f1) + tracked) / 1048576 )) MiB (limit 64)"

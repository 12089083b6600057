#!/usr/bin/env bash
# Everything the GPU-machine benchmark needs, in one device call (so that the ratios to PyTorch are
# measured in the same session on the same GPU):
#   here:    bash tools/pack-gpu.sh
#   device:  carry [".gpu", "dist"], command: bash .gpu/run.sh bash bench/gpu-run.sh [torch] [kernels] [suite]
# (no step named: all three; a device command may run 10 minutes, so one call per step is safer;
# SUITE_ROWS="b-16@224x32,..." runs those rows instead of the whole `full` suite, to split it).
# Writes under $OUT (or bench/results/gpu): pytorch.json, kernels-*.{json,md}, the suite's
# *.{json,md} with a PyTorch column (from pytorch.json, so run `torch` in the same call as `suite`
# or keep its file), and log.txt. Steps that fail are reported and the rest still run.
set -uo pipefail
out=${OUT:-bench/results/gpu}
mkdir -p "$out"
exec > >(tee -a "$out/log.txt") 2>&1
steps=${*:-torch kernels suite}
# The PyTorch rows: the `full` suite's random-weight rows (bench/suites.ts).
rows=${ROWS:-ti-16@224x32,s-16@224x32,b-16@224x1,b-16@224x32,b-8@224x1,b-8@224x32,l-14@224x1,l-14@224x32,so400m-14@224x1,so400m-14@224x32,h-14@224x1,h-14@224x32}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv || true
node -e "import('./dist/src/model/config.js').then((m) => console.log(JSON.stringify(Object.fromEntries(Object.keys(m.PRESETS).map((n) => [n, m.PRESETS[n]])))))" > "$out/presets.json"
for step in $steps; do
  case $step in
    torch)
      echo "== PyTorch fp32 (TF32 off) reference"
      python3 bench/peers/pytorch_vit.py --presets "$out/presets.json" --rows "$rows" --out "$out/pytorch.json" || echo "pytorch reference failed: $?" ;;
    kernels)
      echo "== kernels: every GEMM tile and both attention variants"
      node dist/bench/kernels.js --tiles all --variants all --out "$out" || echo "kernel benchmark failed: $?" ;;
    suite)
      echo "== model suite (full), with the ORT Web WebGPU peer"
      torch=(); [ -f "$out/pytorch.json" ] && torch=(--torch "$out/pytorch.json")
      sel=(--suite full); [ -n "${SUITE_ROWS:-}" ] && sel=(--rows "$SUITE_ROWS")
      node dist/bench/run.js "${sel[@]}" "${torch[@]}" --out "$out" || echo "suite failed: $?" ;;
    *) echo "unknown step '$step' (torch, kernels, suite)"; exit 2 ;;
  esac
done

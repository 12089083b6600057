#!/usr/bin/env bash
# Runs ON the GPU machine from the repository root (tools/gpu/pack.sh packed .gpu/; docs/gpu.md):
# unpacks Node and the project (and the base build, if packed), then runs the steps in order, each
# under a time limit, none started after DEADLINE seconds; results land in $OUT/results.tar.xz and
# $OUT/summary.txt. Steps (STEPS="…"): probe, diag, spirv, verify, verify-sgm (the fixtures with the
# subgroup-matrix GEMM chosen: WGSL_VIT_SUBGROUP_MATRIX=on), verify-f16 (with precision f16), torch, kernels, kernels-base, suite,
# suite-base, vitest, peer, dtypes (fp16 / q8 against fp32: models at batch 1 and 32, alternated in
# one run, and the GEMMs), precision (f32 vs f16 arithmetic alternated, and the fixtures in f16). The -base steps run the same command with the base build; put them
# between the new build's runs (e.g. "kernels kernels-base suite suite-base suite") to alternate.
# LOCAL=1 runs it here (lavapipe), to catch mistakes before spending device time.
set -u
T0=$(date +%s); DEADLINE=${DEADLINE:-540}
STEPS=${STEPS:-probe verify torch kernels kernels-base suite suite-base vitest dtypes}
R=/tmp/res; mkdir -p $R; OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
el() { echo $(( $(date +%s) - T0 )); }
log() { echo "[$(el)s] $*" | tee -a $R/summary.txt; }
finish() { tar -C /tmp -cJf "$OUT/results.tar.xz" res 2>/dev/null; cp $R/summary.txt "$OUT/summary.txt"; }
trap finish EXIT
step() { # step NAME LIMIT DIR command...
  local name=$1 max=$2 dir=$3; shift 3
  local l=$(( DEADLINE - $(el) ))
  if [ $l -lt 15 ]; then log "SKIP $name (${l}s left)"; return 0; fi
  [ "$max" -gt "$l" ] && max=$l
  log "BEGIN $name (limit ${max}s)"
  (cd "$dir" && timeout -k 5 "$max" "$@") > "$R/$name.log" 2>&1; local rc=$?
  log "END $name rc=$rc"; grep -v -E 'artificially reduced|^\s*$' "$R/$name.log" | tail -n "${TAILN:-14}" | tee -a $R/summary.txt
}
dev=$(pwd)/.gpu
[ -n "${LOCAL:-}" ] || { for f in "$dev"/*.deb; do dpkg -x "$f" /; done; ldconfig; }
mkdir -p /tmp/bin; xz -dc "$dev/node.xz" > /tmp/bin/node; chmod +x /tmp/bin/node; export PATH=/tmp/bin:$PATH
rm -rf /tmp/w; mkdir -p /tmp/w; xz -T0 -dc "$dev/app.tar.xz" | tar -C /tmp/w -xf -
A=/tmp/w/app B=/tmp/w/base
if [ -f "$dev/base.tar.xz" ]; then
  mkdir -p $B; xz -T0 -dc "$dev/base.tar.xz" | tar -C $B -xf -
  ln -s $A/node_modules $B/node_modules; cp $A/package.json $B/
fi
export XDG_RUNTIME_DIR=/tmp WGSL_VIT_PROFILES=off
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
log "unpacked; node $(node --version); new $(cat "$dev/app.commit" 2>/dev/null), base $(cat "$dev/base.commit" 2>/dev/null || echo none)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee -a $R/summary.txt
(cd $A && node -e "import('./dist/src/model/config.js').then((m) => console.log(JSON.stringify(m.PRESETS)))") > $R/presets.json
ROWS=${ROWS:-b-16@224x32,b-16@224x1,l-14@224x32,h-14@224x32,ti-16@224x32,s-16@224x32,so400m-14@224x32,b-8@224x32,l-14@224x1,h-14@224x1}
KFLAGS="--big --tiles all --variants ${VARIANTS:-all} --iters 10"
# Builds before preciseTimestamps (4d5f294 and older) lift Dawn's timestamp quantization only with these flags.
BFLAGS=(--flags enable-dawn-features=allow_unsafe_apis,disable-dawn-features=timestamp_quantization)
n=0
for s in $STEPS; do n=$((n + 1)); case $s in
  probe) step probe 40 $A node --input-type=module -e "
      const { requestDevice } = await import('./dist/src/device.js');
      const i = await requestDevice({ preciseTimestamps: true });
      const a = i.adapter;
      console.log(JSON.stringify({ info: i.adapterInfo, timestamps: i.timestamps, subgroupMin: a.info.subgroupMinSize, subgroupMax: a.info.subgroupMaxSize, features: [...a.features].sort(), granted: i.features, dawnFlags: i.dawnFlags, subgroupMatrixConfigs: i.subgroupMatrixConfigs, limits: i.limits }, null, 1));
      process.exit(0);" ;;
  diag) # the GPU issue's open questions, in one step (docs/gpu.md, "The kit")
    step diag-toggles 40 $A node --input-type=module -e "
      const { requestDevice } = await import('./dist/src/device.js');
      for (const flags of [[], ['enable-dawn-features=allow_unsafe_apis,use_vulkan_memory_model,vulkan_enable_f16_on_nvidia']]) {
        const i = await requestDevice({ dawnFlags: flags, nvidiaF16: false, features: ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'] });
        const a = i.adapter;
        console.log(JSON.stringify({ flags, granted: i.features, subgroupMatrix: a.features.has('chromium-experimental-subgroup-matrix'), configs: a.info?.subgroupMatrixConfigs ?? null }));
        i.device.destroy();
      }
      process.exit(0);"
    step diag-kernels 150 $A node dist/bench/kernels.js --big --diag --only 'gemm diag' --tiles 128x128k8,128x128k8p --iters 10 --out $R/diag
    for rb in off on; do f=(); [ $rb = on ] && f=(--flags enable-dawn-features=disable_robustness)
      step diag-robustness-$rb 120 $A node dist/bench/run.js --rows b-16@224x32 "${f[@]}" --dtypes none --peer none --native no --clip no --iters 5 --out $R/diag-rb-$rb; done ;;
  spirv) step spirv 60 $A node dist/tools/check-spirv.js ;;
  verify|verify-sgm|verify-f16) step $s 90 $A env WGSL_VIT_SUBGROUP_MATRIX=$([ $s = verify-sgm ] && echo on || echo auto) VP="$([ $s = verify-f16 ] && echo "--precision f16")" bash -c 'for e in test/fixtures/*.expected.safetensors; do
      n=$(basename $e .expected.safetensors)
      w=$(ls test/fixtures/$n.safetensors test/fixtures/$n.bin 2>/dev/null | head -1); c=test/fixtures/$n.open_clip_config.json
      [ -n "$w" ] && [ -f "$c" ] || continue
      echo "== $n"; node dist/tools/cli.js verify --weights $w --config $c --expected $e $VP 2>&1 | grep -v "artificially reduced" | tail -12; done' ;;
  torch) step torch 100 $A bash -c "python3 - <<'PY'
import torch
for dt, tf32 in ((torch.float32, False), (torch.float32, True)):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(6304, 768, device='cuda', dtype=dt); b = torch.randn(768, 3072, device='cuda', dtype=dt)
    for _ in range(5): a @ b
    torch.cuda.synchronize(); e0 = torch.cuda.Event(enable_timing=True); e1 = torch.cuda.Event(enable_timing=True)
    e0.record(); [a @ b for _ in range(50)]; e1.record(); torch.cuda.synchronize()
    ms = e0.elapsed_time(e1) / 50
    print(f'torch GEMM 6304x768x3072 {dt} tf32={tf32}: {2*6304*768*3072/ms/1e9:.1f} TFLOP/s')
PY
python3 bench/peers/pytorch_vit.py --presets $R/presets.json --rows $ROWS --iters 20 --out $R/pytorch.json" ;;
  kernels) step kernels-$n 120 $A node dist/bench/kernels.js $KFLAGS --precisions ${PRECISIONS:-f32,f16} --out $R/kernels-$n ;;
  kernels-base) [ -d $B ] && step kernels-base-$n 120 $B node dist/bench/kernels.js $KFLAGS "${BFLAGS[@]}" --out $R/kernels-base-$n ;;
  suite|suite-base) d=$A f=(); [ $s = suite-base ] && d=$B f=("${BFLAGS[@]}"); [ -d $d ] || continue
    t=(); [ -s $R/pytorch.json ] && t=(--torch $R/pytorch.json "${f[@]}")
    [ $s = suite ] && t+=(--dtypes none) # the dtype table has a step of its own (the base build has none)
    step $s-$n 230 $d node dist/bench/run.js --rows "$ROWS" "${t[@]}" --peer none --native no --clip no --iters 10 --out $R/$s-$n ;;
  precision) # f32 vs f16 arithmetic (the precision load option), fp32 and fp16 weights, alternated in one run (verify-f16: the fixtures)
    step precision-$n 180 $A bash -c "node dist/bench/run.js --rows ${PRECISION_ROWS:-b-16@224x32,b-16@224x1,l-14@224x32} --dtypes fp32,fp32/f16,fp16/f16 --peer none --native no --clip no --iters 10 --out $R/precision-$n" ;;
  dtypes) step dtypes-$n 150 $A bash -c "node dist/bench/run.js --rows ${DTYPE_ROWS:-b-16@224x1,l-14@224x1,b-16@224x32} --dtypes fp32,fp16,q8 --peer none --native no --clip no --iters 10 --out $R/dtypes-$n &&
      node dist/bench/kernels.js --only 'gemm b fc 197,gemm b fc b32,gemm l fc b32' --big --dtypes f32,f16,q8 --iters 10 --out $R/dtypes-kernels-$n" ;;
  vitest) # test/kernels holds gemm-subgroup-matrix.test.ts, whose GPU part runs only where the device has the feature:
    # its lines are shown on their own (verbose reporter) so the summary says whether it ran or was skipped.
    TAILN=30 step vitest 150 $A node node_modules/vitest/vitest.mjs run ${VITEST_FILES:-test/kernels} --reporter=dot
    step vitest-subgroup-matrix 60 $A node node_modules/vitest/vitest.mjs run test/kernels/gemm-subgroup-matrix.test.ts --reporter=verbose ;;
  peer) step peer 80 $A node dist/bench/run.js --rows ${PEER_ROWS:-b-16@224x1,b-16@224x32} --peer ort-webgpu --native no --clip no --iters 10 --out $R/peer ;;
  *) log "unknown step $s" ;;
esac; done
log "done"

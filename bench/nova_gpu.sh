#!/usr/bin/env bash
# The GPU runs behind bench/results/nova/ (one H100): `bash bench/nova_gpu.sh STEP [PRESET]`.
#   check   - versions, then the engine tests on CUDA (tiny preset: green partitions + decode graphs)
#   profile - stage tables of PRESET (runtimes.vlm.profile_stages) -> $OUT/tables_PRESET.json
#   micro   - decode co-run, batch-1 roofline, encoder streaming, partition switching
#   bench   - every policy on the same workloads (needs bench/results/nova/tables_PRESET.json)
#   fp8     - FP8 decode step vs bf16 and its logit drift (nova_micro --parts fp8, nova_rounding --fp8)
#   seeds   - nova vs multi-stream on seeds 1,2,3 with 95 % CIs (CAPACITY=..., LOADS, BURSTY,
#             DEADLINE_LOAD for the mixed-deadline workload, BENCH_ARGS for more)
# Results go to $OUT (default bench/results/nova); each JSON records its own command and card.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-bench/results/nova}
PRESET=${2:-qwen2-vl-7b}
mkdir -p "$OUT"
case "$1" in
  check)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    python3 -c "import torch, cuda.bindings; print('torch', torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))"
    NOVA_TEST_DEVICE=cuda python3 -m pytest -q -p no:cacheprovider tests/runtimes/vlm/test_engine.py 2>&1 | tail -15
    ;;
  profile)
    python3 -m runtimes.vlm.profile_stages --preset "$PRESET" --out "$OUT/tables_$PRESET.json" \
      ${PROFILE_ARGS:---sms 8,16,24,32,48,64,96,112 --patches 1024,2500,5200 --tokens 128,512,1400 --batches 1,8,16 \
      --ctx 1400 --iters 2 --corun-reps 1} 2>&1 | tail -40
    ;;
  micro)
    python3 bench/nova_micro.py --preset "$PRESET" --splits 24,48,72 --out "$OUT" 2>&1 | grep -v "^corun\|^streaming\|^roofline" 
    ;;
  bench)
    python3 bench/nova_bench.py --preset "$PRESET" --tables "${TABLES:-bench/results/nova/tables_$PRESET.json}" \
      --out "$OUT" ${BENCH_ARGS:-}
    ;;
  fp8)
    # FP8 decode step against bf16 (graph GPU time b1/b8, host step b1, logits), then the logit
    # drift against the bf16 rounding yardstick on this card.
    python3 bench/nova_micro.py --preset "$PRESET" --splits '' --parts fp8 --out "$OUT" 2>&1 | tail -5
    mv "$OUT/micro_$PRESET.json" "$OUT/fp8_$PRESET.json"
    python3 bench/nova_rounding.py --presets "$PRESET" --fp8 --device cuda --batch 8 \
      --out "$OUT/rounding_fp8_$PRESET.json" 2>&1 | tail -4
    ;;
  seeds)
    # nova against multi-stream on every workload, each on seeds 1,2,3 in one call (95 % CIs);
    # CAPACITY pins load 1.0 (13.26 for 7B, 5.427 for cogagent-9b on the H100).
    python3 bench/nova_bench.py --preset "$PRESET" --tables "bench/results/nova/tables_$PRESET.json" \
      --policies "${POLICIES:-nova,multi-stream}" --seeds "${SEEDS:-1,2,3}" ${CAPACITY:+--capacity "$CAPACITY"} \
      --loads "${LOADS:-0.1,0.5,0.95}" --bursty-load "${BURSTY:-0.7}" \
      --deadline-load "${DEADLINE_LOAD:-0}" --out "$OUT" ${BENCH_ARGS:-} 2>&1 | grep -v "^ *{" | tail -60
    ;;
  *) echo "usage: bash bench/nova_gpu.sh check|profile|micro|bench|fp8|seeds [PRESET]"; exit 2 ;;
esac

#!/usr/bin/env bash
# The GPU runs behind bench/results/nova/ (one H100): `bash bench/nova_gpu.sh STEP [PRESET]`.
#   check   - versions, then the engine tests on CUDA (tiny preset: green partitions + decode graphs)
#   profile - stage tables of PRESET (runtimes.vlm.profile_stages) -> $OUT/tables_PRESET.json
#   micro   - decode co-run, batch-1 roofline, encoder streaming, partition switching
#   bench   - every policy on the same workloads (needs bench/results/nova/tables_PRESET.json)
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
  *) echo "usage: bash bench/nova_gpu.sh check|profile|micro|bench [PRESET]"; exit 2 ;;
esac

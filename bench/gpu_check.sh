#!/usr/bin/env bash
# The whole GPU check in one command, for a lent GPU machine (10 minutes a command, 15 in all):
#     bash bench/gpu_check.sh            # writes into $OUT (default ./gpu-check-out)
# Runs bench/gpu_pipeline.py's default plan with a budget that stops it cleanly before a 10-minute
# command limit; every measurement is a JSON line in $OUT/gpu_pipeline.jsonl the moment it is made.
set -u
OUT="${OUT:-$PWD/gpu-check-out}"
BUDGET_S="${BUDGET_S:-480}"
# $PYTHON if set, else the project's venv, else python3 (a bare machine needs torch with CUDA, diffusers,
# transformers, accelerate, sentencepiece and protobuf: requirements.txt).
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
{
  date -u +"started %Y-%m-%dT%H:%M:%SZ"
  nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv 2>&1
  "$PYTHON" -c "import torch, diffusers, transformers, accelerate; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__, 'accelerate', accelerate.__version__)" 2>&1
} > "$OUT/environment.txt"
cat "$OUT/environment.txt"
"$PYTHON" bench/gpu_pipeline.py --budget-s "$BUDGET_S" --out "$OUT/gpu_pipeline.jsonl" \
  --compile-cache "$OUT/compile-cache" "$@" 2> "$OUT/gpu_pipeline.stderr"
status=$?
rm -rf "$OUT/compile-cache"  # large and machine-specific; the timings are what comes back
tail -n 20 "$OUT/gpu_pipeline.stderr"
echo "gpu_pipeline exit status $status; results in $OUT/gpu_pipeline.jsonl"
exit $status

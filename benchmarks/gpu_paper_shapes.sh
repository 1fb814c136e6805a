#!/usr/bin/env bash
# The paper-shapes cost measurement on one GPU, as one short script (issue 20, part 4): the
# per-step costs of benchmarks/paper_cost.py measured on CUDA in fp16 (the authors' DreamBooth
# precision) and in fp32, written to $OUT (or ./gpu-out). About 5 minutes on one H100/H200-class
# GPU; the projection table then holds measured per-LoRA times beside the FLOP-based ones.
#
# Run it in the repository root of a GPU machine that has PyTorch and transformers. A machine
# without a registry needs the rest carried as wheels (made here, where pip reaches PyPI):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl diffusers==0.42.1 open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.9.4
# and the prepared ARC folder results/data/arc (1.6 MB; `snakemake results/data/arc` here).
# With .whl/ present the script installs it into /tmp/site first.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-out}"
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}"
[ -d results/data/arc ] || { echo "results/data/arc is missing: carry the prepared ARC folder" >&2; exit 2; }
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())" \
  | tee "$OUT/device.txt"
for dtype in fp16 fp32; do
  python3 benchmarks/paper_cost.py --device cuda --dtype "$dtype" --json "$OUT/paper_cost_cuda_$dtype.json" \
    2>&1 | tee "$OUT/paper_cost_cuda_$dtype.md"
done

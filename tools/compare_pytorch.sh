#!/usr/bin/env bash
# PyTorch's CPU training speed and this project's, measured back to back on this machine, twice:
# prints both and their ratio (PyTorch ÷ this project, sigmoid + avg pooling, batch 256).
#
#   bash tools/compare_pytorch.sh [bench flags, e.g. --tune full]
#
# Needs Debian's torch (apt-get install python3-torch; run with /usr/bin/python3). Debian's torch
# links the slow reference BLAS; the PyTorch figure uses OpenBLAS (libopenblas0-pthread, unpacked
# beside it when not installed) with its default threads, as the reference's README measures.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "error: $PY cannot import torch: apt-get install python3-torch" >&2
  exit 1
fi
blas=/usr/lib/x86_64-linux-gnu/openblas-pthread
if [ ! -e "$blas/libblas.so.3" ]; then
  blas=/tmp/lenet-openblas/root/usr/lib/x86_64-linux-gnu/openblas-pthread
  if [ ! -e "$blas/libblas.so.3" ]; then
    echo "unpacking OpenBLAS into /tmp/lenet-openblas (apt-get download libopenblas0-pthread)" >&2
    mkdir -p /tmp/lenet-openblas
    (cd /tmp/lenet-openblas && apt-get download libopenblas0-pthread >/dev/null &&
      dpkg-deb -x libopenblas0-pthread_*.deb root)
  fi
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
field() { "$PY" -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(eval(sys.argv[1], {}, d))" "$1"; }
ratios=()
for round in 1 2; do
  torch_json=$(LD_LIBRARY_PATH="$blas" "$PY" tools/pytorch_speed.py)
  bench_json=$(deno task -q bench --json "$@" 2>/dev/null)
  pt=$(field 'train_images_per_second' <<<"$torch_json")
  pt_eval=$(field 'eval_seconds' <<<"$torch_json")
  ours=$(field 'variants["sigmoid_avg"]["train_images_per_second"]' <<<"$bench_json")
  ours_eval=$(field 'variants["sigmoid_avg"]["eval_seconds"]' <<<"$bench_json")
  ratio=$("$PY" -c "print(f'{$pt / $ours:.2f}')")
  ratios+=("$ratio")
  printf 'round %d: PyTorch %.0f images/s (eval %.2f s), lenet-webgpu %.0f images/s (eval %.2f s): ratio %s\n' \
    "$round" "$pt" "$pt_eval" "$ours" "$ours_eval" "$ratio"
done
echo "PyTorch ÷ lenet-webgpu training images/s: ${ratios[*]}"

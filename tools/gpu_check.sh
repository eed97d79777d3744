#!/usr/bin/env bash
# One call on a machine with a GPU (any machine works; a GPU is what it is for): the test suite,
# `deno task bench --tune full --json` and the reference's 120-epoch recipe, with their output,
# the adapter and the kernel variants chosen, written as at most eight flat files in one folder.
#
#   bash tools/gpu_check.sh [OUT]          (default OUT: runs/gpu_check)
#
# A fresh machine with no network and no Vulkan loader: where the network is, run
# `bash tools/gpu_bundle.sh` first and carry .gpu/ with the checkout; deno then comes from
# .gpu/deno.xz.*, the loader from .gpu/*.deb (unpacked into a private folder, never into /), the
# tests' npm packages from .gpu/deno_dir. The ONNX runtime tests are left out there (not carried:
# onnxruntime-node is 44 MB); everything else runs as `deno task test` runs it, minus the
# type check (it needs those packages' types; CI checks types).
#
# GPU_CHECK_EPOCHS=N shortens the training run (default 120); GPU_CHECK_SKIP=tests,bench,train
# leaves parts out. Exit status: the number of parts that failed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/gpu_check}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
EPOCHS=${GPU_CHECK_EPOCHS:-120}
SKIP=${GPU_CHECK_SKIP:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
summary="$OUT/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }

export NO_COLOR=1
export XDG_RUNTIME_DIR="$work/xdg" && mkdir -m 700 "$XDG_RUNTIME_DIR"
# The tuner stores its picks under the cache folder: a private one, copied to $OUT at the end.
export XDG_CACHE_HOME="$work/cache"

if ! command -v deno >/dev/null 2>&1; then
  if ! ls .gpu/deno.xz.* >/dev/null 2>&1; then
    echo "error: no deno on PATH and no .gpu/deno.xz.* (run bash tools/gpu_bundle.sh where the network is)" >&2
    exit 1
  fi
  mkdir -p "$work/bin" && cat .gpu/deno.xz.* | xz -dc >"$work/bin/deno" && chmod +x "$work/bin/deno"
  export PATH="$work/bin:$PATH"
fi
if [ -d .gpu/deno_dir ]; then
  # A writable copy: deno adds its compiled-module cache beside the npm packages.
  cp -r .gpu/deno_dir "$work/deno_dir" && export DENO_DIR="$work/deno_dir"
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  for deb in .gpu/*.deb; do [ -e "$deb" ] && dpkg-deb -x "$deb" "$work/root"; done
  export LD_LIBRARY_PATH="$work/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# NVIDIA's driver mounted without its Vulkan manifest registered (as on the device machines).
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -e "$nvidia_icd" ] && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES="$nvidia_icd"
fi

# Deno installs every package of the import map and the lockfile before it runs anything: where
# onnxruntime-node is not cached (a bundle from gpu_bundle.sh), everything runs in a copy of the
# checkout without it.
if ! deno eval --cached-only 'await import("onnxruntime-node")' >/dev/null 2>&1; then
  mkdir "$work/tree" && tar --exclude=./.gpu --exclude=./runs -cf - . | tar -xf - -C "$work/tree"
  cd "$work/tree" && rm tests/onnx_test.ts || exit 1
  sed -i -z 's/,\n *"onnxruntime-node": "[^"]*"//' deno.json
  # A lockfile of the same version with no entries: Deno fills it from the cached packages.
  lock_version=$(grep -m1 -oE '"version": "[0-9]+"' deno.lock)
  echo "{ $lock_version }" >deno.lock
  offline="onnxruntime-node is not cached: the checks run without tests/onnx_test.ts"
fi

say "gpu_check $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
say "$(deno --version | head -n 1)"
[ -n "${offline:-}" ] && say "$offline"
command -v nvidia-smi >/dev/null && say "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
say "adapter: $(deno eval 'const a = await navigator.gpu.requestAdapter(), i = a?.info;
  console.log(i ? JSON.stringify([i.vendor, i.architecture, i.device, i.description, i.isFallbackAdapter ?? a.isFallbackAdapter]) : "none")' 2>&1)"

failed=0
# Runs one part: its name, then the command; output to $OUT/<name>.log, the time to the summary.
part() {
  local name=$1
  shift
  if [[ ",$SKIP," == *",$name,"* ]]; then
    say "$name: skipped (GPU_CHECK_SKIP)"
    return
  fi
  local t0=$SECONDS
  "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  say "$name: exit $rc in $((SECONDS - t0)) s"
  [ "$rc" = 0 ] || failed=$((failed + 1))
}

# The README's test command (deno.json's task) without the type check that runs before it.
test_command=$(sed -nE 's/.*"test": "deno task check && (deno test [^"]*)".*/\1/p' deno.json)
run_tests() { eval "${test_command/deno test/deno test --no-check}"; }
part tests run_tests
[ -e "$OUT/tests.log" ] && grep -E '^(ok|FAILED) \| [0-9]+ passed' "$OUT/tests.log" | tail -n 1 | sed 's/^/tests: /' >>"$summary"

bench() { deno task -q bench --tune full --json >"$OUT/bench.json"; }
part bench bench
[ -s "$OUT/bench.json" ] && say "bench: $(tail -n 1 "$OUT/bench.json")"

train() {
  deno task -q train --epochs "$EPOCHS" --out "$work/run" --tune cached --json >"$OUT/train.jsonl"
}
part train train
[ -e "$work/run/metrics.jsonl" ] && cp "$work/run/metrics.jsonl" "$OUT/metrics.jsonl"
[ -s "$OUT/train.jsonl" ] && say "train: $(tail -n 1 "$OUT/train.jsonl")"

# The variants the tuner chose for this adapter (the bench's --tune full stored them).
tuning="$XDG_CACHE_HOME/lenet-webgpu/tuning.json"
[ -e "$tuning" ] && cp "$tuning" "$OUT/tuning.json"
say "files: $(cd "$OUT" && ls | tr '\n' ' ')"
exit "$failed"

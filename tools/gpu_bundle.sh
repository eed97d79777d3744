#!/usr/bin/env bash
# Fills .gpu/ (git-ignored) with what tools/gpu_check.sh needs on a machine with no network:
#
#   deno.xz.00, deno.xz.01, ...   this machine's deno, xz-compressed, in parts of at most 16 MiB
#                                 (the checkout is ~40 MiB: the parts can travel in separate calls)
#   *.deb                         Vulkan's loader (libvulkan1), unpacked there into a private folder
#   deno_dir/                     the npm packages the tests import, except onnxruntime-node
#                                 (its Linux library alone is 44 MB; those tests skip, by name),
#                                 and esbuild's binary (dl/), which `deno bundle` (deno task web,
#                                 the page's tests) downloads on first use
#
#   bash tools/gpu_bundle.sh
#
# Needs apt-get (download only, no root) and a deno that has run the tests here once.
set -euo pipefail
cd "$(dirname "$0")/.."
deno_bin=$(readlink -f "$(command -v deno)")
mkdir -p .gpu
rm -f .gpu/deno.xz.* .gpu/*.deb
echo "compressing $deno_bin (xz -9e, a few minutes)" >&2
xz -9e -T0 -c "$deno_bin" | split -b 16M -d - .gpu/deno.xz.
lists=$(mktemp -d)
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists="$lists")
apt-get "${apt_opts[@]}" update -qq >/dev/null 2>&1 || apt-get update -qq
(cd .gpu && apt-get "${apt_opts[@]}" download libvulkan1 2>/dev/null || apt-get download libvulkan1)
# The npm cache of the packages the tests import, taken from this machine's deno cache.
npm_cache=$(deno info --json | sed -nE 's/.*"npmCache": *"([^"]*)".*/\1/p')
rm -rf .gpu/deno_dir && mkdir -p .gpu/deno_dir/npm/registry.npmjs.org
for package in pngjs jpeg-js; do
  cp -r "$npm_cache/registry.npmjs.org/$package" .gpu/deno_dir/npm/registry.npmjs.org/
done
# `deno bundle` runs esbuild, which Deno downloads into $DENO_DIR/dl/ the first time.
deno_dir=$(deno info --json | sed -nE 's/.*"denoDir": *"([^"]*)".*/\1/p')
ls -d "$deno_dir"/dl/esbuild-* >/dev/null || {
  echo "error: no esbuild in $deno_dir/dl (run deno task web once here first)" >&2
  exit 1
}
mkdir -p .gpu/deno_dir/dl && cp -r "$deno_dir"/dl/esbuild-* .gpu/deno_dir/dl/
du -sh .gpu/* >&2

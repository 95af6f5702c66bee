#!/usr/bin/env bash
# One GPU check in one call (at most nine minutes): the gpu tests, every benchmark at GPU
# size and a slice of each paper-size reproduction, written into one report
# ($OUT/gpu_check.md on the device machine, else benchmarks/results/gpu_check/).
#
#   bash benchmarks/gpu_pack.sh                       # here, once: wheels + MNIST copy
#   bash benchmarks/gpu_check.sh --mnist .gpu-data/mnist   # there (carry .whl and .gpu-data)
#   bash benchmarks/gpu_check.sh --dry-run            # anywhere: CPU, toy sizes (tested in CI)
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
# A bare GPU machine lacks some of robustsk's dependencies: install the carried wheels
# (built for the GPU image's Python; a dry run uses the packages already installed here).
dry_run=0
for arg in "$@"; do [ "$arg" = "--dry-run" ] && dry_run=1; done
if [ "$dry_run" = 0 ] && compgen -G ".whl/*.whl" >/dev/null; then
  site=$(mktemp -d)
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" .whl/*.whl || exit 1
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
# robustsk itself from this checkout, installed or not.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" benchmarks/gpu_check.py "$@"

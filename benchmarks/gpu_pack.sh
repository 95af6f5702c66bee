#!/usr/bin/env bash
# Prepare a GPU check here, before the device call: the wheels a bare GPU machine lacks
# (its image has torch, numpy, scikit-learn, scipy, pandas, matplotlib, pytest, ...; not
# skorch, FastAPI and the rest) for its Python 3.12, in .whl/, and a copy of MNIST in
# .gpu-data/mnist. Both folders are ignored by git; carry them with the call.
#
#   bash benchmarks/gpu_pack.sh [MNIST_FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
mnist=${1:-../shared/data/mnist}
rm -rf .whl && mkdir -p .whl .gpu-data
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
  manylinux1_x86_64 manylinux_2_24_x86_64 manylinux_2_34_x86_64; do
  platforms+=(--platform "$p")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${platforms[@]}" -d .whl \
  skorch corrupt-tta fastapi starlette pydantic pydantic-core annotated-types \
  typing-inspection uvicorn torchattacks auto_LiRPA==0.3 appdirs
cp -r "$mnist" .gpu-data/mnist
du -sh .whl .gpu-data

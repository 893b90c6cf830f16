#!/usr/bin/env bash
# Download the wheels the lent GPU machine's image lacks (it has Python 3.12, CUDA PyTorch, numba,
# OpenCV, scikit-image and grpcio, and no network) into .gpu-wheels/ (git-ignored, ~16 MB), at the
# versions requirements/lock.txt pins. tools/gpu_check.sh installs them there; the device tool
# carries the folder: run(command="bash tools/gpu_check.sh", carry=[".gpu-wheels"]).
#
#   bash tools/gpu_wheels.sh            # for the GPU image's CPython 3.12
#   bash tools/gpu_wheels.sh 3.11 DIR   # another Python, another folder (the CPU-path test)
set -euo pipefail
cd "$(dirname "$0")/.."
pyver=${1:-3.12}
dest=${2:-.gpu-wheels}
mkdir -p "$dest"
pins=()
for name in openimageio opencolorio fileseq protobuf pytest pluggy iniconfig packaging pygments; do
  line=$(grep -i "^${name}==" requirements/lock.txt) || { echo "gpu_wheels: $name is not in the lock" >&2; exit 1; }
  pins+=("$line")
done
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version "$pyver" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
  -d "$dest" "${pins[@]}"
ls "$dest"

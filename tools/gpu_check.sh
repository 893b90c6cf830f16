#!/usr/bin/env bash
# The first-GPU check: run from the project root on the lent device machine (a bare image with
# Python 3.12, CUDA PyTorch, numba, OpenCV, scikit-image, grpcio; no OpenImageIO, OpenColorIO,
# fileseq or Ray; no network). Figures go to $OUT (the device tool brings that folder back).
#
#   bash tools/gpu_wheels.sh                      # here, once: .gpu-wheels/ (what the image lacks)
#   run(command="bash tools/gpu_check.sh", carry=[".gpu-wheels"], timeout_s=540)
#   bash tools/gpu_check.sh --device cpu --quick  # the CPU path (tests/test_gpu_check.py)
#
# It installs the carried wheels into a temporary folder (nothing from a network), runs the CUDA
# tests, and runs `lookgrid bench render` and `bench analyze` on the device at the paper's sizes
# (1024², 3000×4000). Per-frame cost at grid stride r is render + analyze / r: r = 1 and r = 8 are
# in summary.txt. Then `lookgrid bench farm`'s render section (no Ray) on the machine's cores. Every step runs even when one before it failed; the exit status is the worst.
set -uo pipefail
cd "$(dirname "$0")/.."
device=cuda
quick=0
wheels=.gpu-wheels
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --wheels) wheels=$2; shift 2 ;;
    *) echo "gpu_check: unknown argument $1" >&2; exit 2 ;;
  esac
done
out=${OUT:-$PWD/runs/gpu-check}
mkdir -p "$out"
py=${PYTHON:-python3}
status=0
step() {  # step NAME COMMAND...: run, keep its output in $out/NAME.txt, remember a failure
  local name=$1; shift
  echo "== $name: $*" | tee -a "$out/summary.txt"
  local t0=$(date +%s)
  "$@" > "$out/$name.txt" 2>&1
  local rc=$?
  echo "   exit $rc, $(( $(date +%s) - t0 )) s" | tee -a "$out/summary.txt"
  [ $rc -eq 0 ] || status=$rc
  return 0
}

: > "$out/summary.txt"
vendor=$(mktemp -d)/site
if compgen -G "$wheels/*.whl" > /dev/null; then
  step install "$py" -m pip install -q --disable-pip-version-check --no-index --no-deps --target "$vendor" "$wheels"/*.whl
else
  echo "gpu_check: no wheels in $wheels (bash tools/gpu_wheels.sh)" | tee -a "$out/summary.txt"
  status=1
fi
export PYTHONPATH="$PWD/backend:$PWD/plugins/client:$vendor${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
step environment "$py" -c "
import platform, sys, torch, numpy, numba
print('python', sys.version.split()[0], platform.platform())
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i); print(f'cuda:{i}', p.name, round(p.total_memory / 2**30, 1), 'GiB')
print('numpy', numpy.__version__, 'numba', numba.__version__)
import OpenImageIO, PyOpenColorIO, lookgrid, lookgrid_client
print('OpenImageIO', OpenImageIO.__version__, 'OpenColorIO', PyOpenColorIO.__version__, 'lookgrid', lookgrid.__version__)
"
command -v nvidia-smi > /dev/null && step nvidia-smi nvidia-smi
# the tests that need CUDA (they skip on a machine without it)
step cuda-tests "$py" -m pytest -q -p no:cacheprovider -rs tests/model/test_render.py tests/model/test_device.py
if [ $quick -eq 1 ]; then
  sizes=(512); repeat=(--repeat 1 --reference-repeat 1); arepeat=(--repeat 1)
else
  sizes=(1024 3000x4000); repeat=(--repeat 7 --reference-repeat 3); arepeat=(--repeat 9)
fi
step bench-render "$py" -m lookgrid.cli bench render --device "$device" --sizes "${sizes[@]}" "${repeat[@]}"
step bench-analyze "$py" -m lookgrid.cli bench analyze --device "$device" --regions 1 2 "${arepeat[@]}"
# issue 27, item 2: the render's thread budgets on this machine's cores (the dev machine has 2,
# where no overlap wins): the plain loop beside the budgeted overlap, and the I/O floor, at 4K
if [ $quick -eq 1 ]; then
  farm=(--size 1920x1080 --frames 2 --repeats 1)
else
  farm=(--size 3840x2160 --frames 5 --repeats 2)
fi
step bench-farm "$py" -m lookgrid.cli bench farm "${farm[@]}" --skip workers parts
{
  echo "== per frame at grid stride r = render (bench-render.txt, 'fast' column) + analyze (bench-analyze.txt) / r"
  echo "   r = 1: render + analyze;  r = 8: render + analyze / 8 (the paper's Table 1 sizes: 1024², 3000×4000)"
  echo "== exit $status"
} | tee -a "$out/summary.txt"
exit $status

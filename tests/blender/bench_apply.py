#!/usr/bin/env python3
"""Benchmark (a command, not a test): "Apply LookGrid" from Blender vs the same job through
``lookgrid render --spec``, on a synthetic 1920x1080 EXR plate of 24 frames with one matte and
three references (scikit-image's photos), in the same run.

    .venv/bin/python tests/blender/bench_apply.py [--frames 24] [--size 1920x1080] [--runs 3]

Blender side: real bpy 5.0.1 (the cached .venv-blender), the extension zip installed headless,
the operator in background mode against a `lookgrid serve` started here (model already loaded);
the time is the operator's (what the user waits for). Reference: `lookgrid render --spec` of the
spec the extension wrote beside its output, as a fresh process (its time includes start-up and
model load; the start-up alone is measured too, as `lookgrid render` of a 1-frame job). Prints
medians, their ratio and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from blender_env import LOOKGRID, REPO, build_extension, host_venv, run_blender  # noqa: E402


def write_shot(folder: Path, frames: int, w: int, h: int) -> dict:
    from skimage import data

    from lookgrid.imaging import write_image

    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(0)
    grain = rng.standard_normal((h, w, 1)).astype(np.float32) * 0.01
    plates, masks = [], []
    for i in range(frames):
        cx, cy = w * (0.3 + 0.01 * i), h * 0.5
        blob = np.exp(-(((x - cx) / (w * 0.12)) ** 2 + ((y - cy) / (h * 0.25)) ** 2))
        rgb = np.stack([0.04 + 0.5 * x / w + 0.4 * blob, 0.08 + 0.3 * y / h + 0.1 * np.sin(x / 40),
                        0.3 - 0.2 * x / w + 0.25 * blob], -1) + grain
        rgba = np.concatenate([rgb, np.ones((h, w, 1), np.float32)], -1).astype(np.float32)
        plates.append(str(write_image(folder / f"plate.{1001 + i:04d}.exr", rgba, channel_names=list("RGBA"))))
        masks.append(str(write_image(folder / f"matte.{1001 + i:04d}.exr", (blob > 0.4).astype(np.float32)[..., None],
                                     channel_names=["Y"])))
    refs = {}
    for name, img in (("warm", data.coffee()), ("cool", data.chelsea()), ("bg", data.astronaut())):
        refs[name] = str(write_image(folder / f"{name}.png", img.astype(np.float32) / 255.0, dtype="uint8"))
    return {"plate_files": plates, "mask_files": masks, **refs}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    from lookgrid_client.launch import ServerProcess

    with tempfile.TemporaryDirectory(prefix="lookgrid-bench-blender-") as tmp:
        tmp = Path(tmp)
        shot = write_shot(tmp / "shot", args.frames, w, h)
        python = str(host_venv.build(REPO / "plugins" / "blender" / "requirements-bpy.txt", REPO / ".venv-blender"))
        (zip_path,) = build_extension.build(build_extension.blender_ext_in(python), tmp / "dist", ["linux-x64"])
        server = ServerProcess(LOOKGRID)
        blender_s, blender_wall, render_s, spec_path = [], [], [], None
        try:
            server.wait_serving(300)
            for run in range(args.runs):
                job = {"zip": str(zip_path), "server": server.address, "first": 1001, "count": args.frames,
                       "colorspace": "ACEScg", "cases": [{"name": "apply", "output_dir": str(tmp / f"out{run}"),
                                                          "timeout": 30.0}], **shot}
                (tmp / "job.json").write_text(json.dumps(job))
                t0 = time.perf_counter()
                proc = run_blender(python, HERE / "blender_session.py", tmp / "job.json", tmp / f"res{run}", timeout=3600)
                wall = time.perf_counter() - t0
                line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("LOOKGRID-CASE ")), None)
                if proc.returncode != 0 or line is None:
                    raise SystemExit(f"Blender run failed: {(proc.stdout + proc.stderr)[-2000:]}")
                case = json.loads(line[len("LOOKGRID-CASE "):])
                if not case["ok"]:
                    raise SystemExit(f"apply failed: {case['error']}")
                blender_s.append(case["seconds"])
                blender_wall.append(wall)
                spec = json.loads(Path(case["last_spec"]).read_text())
                spec["output"] = str(tmp / f"ref{run}" / "ref.####.exr")
                spec_path = tmp / f"ref{run}.json"
                spec_path.write_text(json.dumps(spec))
                t0 = time.perf_counter()
                subprocess.run([LOOKGRID, "render", "--spec", str(spec_path)], check=True, capture_output=True)
                render_s.append(time.perf_counter() - t0)
                print(f"run {run + 1}: Blender apply {blender_s[-1]:.1f} s (process {wall:.1f} s), "
                      f"lookgrid render {render_s[-1]:.1f} s, load {os.getloadavg()[0]:.2f}", flush=True)
            one = json.loads(spec_path.read_text())
            one["frames"] = "1001"
            one["output"] = str(tmp / "one" / "one.####.exr")
            (tmp / "one.json").write_text(json.dumps(one))
            t0 = time.perf_counter()
            subprocess.run([LOOKGRID, "render", "--spec", str(tmp / "one.json")], check=True, capture_output=True)
            one_s = time.perf_counter() - t0
        finally:
            server.stop()
    mb, mr = statistics.median(blender_s), statistics.median(render_s)
    print(f"{args.frames} frames {w}x{h}, {args.runs} runs, medians: Blender apply {mb:.1f} s "
          f"({args.frames / mb:.2f} frames/s; Blender process {statistics.median(blender_wall):.1f} s), "
          f"lookgrid render {mr:.1f} s ({args.frames / mr:.2f} frames/s; a 1-frame render {one_s:.1f} s), "
          f"ratio Blender/render {mb / mr:.2f}; load average {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Build the LookGrid Blender extension zip: the add-on source, the client's wheel and its
dependencies' wheels for Blender's Python, packed by Blender's own ``blender_ext.py build``.

    python plugins/blender/build_extension.py --blender-ext <bpy>/5.0/scripts/addons_core/bl_pkg/cli/blender_ext.py \
        [--out dist/] [--platform linux-x64]

Steps: copy ``plugins/blender/lookgrid_blender`` to a fresh staging folder; build the
``lookgrid-client`` wheel (``plugins/client``) into its ``wheels/``; download the wheels of
``requirements-wheels.txt`` for every CPython the supported Blender versions use (:data:`PYTHONS`)
on the chosen platform (from the package index, at build time only); list them in the staging
copy's ``blender_manifest.toml``; run ``blender_ext.py validate`` and ``build --split-platforms``.
Prints the zip's path on the last line.

Blender installs, of the wheels an extension lists, those that match its own Python (5.0's
``bl_pkg/bl_extension_ops.py``: "Perform Python Version Checks"), so one zip serves Blender 4.2-5.0
(Python 3.11) and 5.1-5.2 (Python 3.13); the manifest's ``blender_version_min``/``_max`` state that
range.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "lookgrid_blender"
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "plugins" / "client" / "tools"))
import host_venv  # noqa: E402

# CPython of the supported Blender versions (the manifest's blender_version_min .. max) -> those versions
PYTHONS = {"3.11": "Blender 4.2-5.0", "3.13": "Blender 5.1-5.2"}

# Blender platform name -> pip --platform tags (most specific first)
PLATFORMS = {
    "linux-x64": ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_28_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": ["macosx_11_0_arm64"],
    "macos-x64": ["macosx_10_9_x86_64"],
}


def blender_ext_in(bpy_python: str) -> Path:
    """blender_ext.py of the bpy module importable by ``bpy_python`` (found without importing bpy)."""
    out = subprocess.run([bpy_python, "-c", "import importlib.util as u; print(u.find_spec('bpy').origin)"],
                         capture_output=True, text=True, check=True)
    root = Path(out.stdout.strip()).parent
    found = sorted(root.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise SystemExit(f"no blender_ext.py under {root}")
    return found[-1]


def download_wheels(dest: Path, platform: str, python: str) -> list[Path]:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
           "--no-deps", "--python-version", python, "--implementation", "cp", "-d", str(dest),
           "-r", str(HERE / "requirements-wheels.txt")]
    for tag in PLATFORMS[platform]:
        cmd += ["--platform", tag]
    subprocess.run(cmd, check=True)
    return sorted(dest.glob("*.whl"))


def build(blender_ext: Path, out_dir: Path, platforms: list[str]) -> list[Path]:
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lookgrid-ext-") as tmp:
        src = Path(tmp) / "lookgrid"
        shutil.copytree(SOURCE, src, ignore=shutil.ignore_patterns("__pycache__", "wheels", "*.zip"))
        wheels = src / "wheels"
        wheels.mkdir()
        names = [host_venv.client_wheel(wheels).name]
        for platform in platforms:
            for python in PYTHONS:
                names += [w.name for w in download_wheels(wheels, platform, python) if w.name not in names]
        manifest = src / "blender_manifest.toml"
        listed = ",\n".join(f'  "./wheels/{n}"' for n in names)
        platform_list = ", ".join(f'"{p}"' for p in platforms)
        text, count = re.subn(r"(?m)^wheels = \[\]$", f"wheels = [\n{listed},\n]\nplatforms = [{platform_list}]",
                              manifest.read_text())
        if count != 1:
            raise SystemExit("blender_manifest.toml has no 'wheels = []' line to fill")
        manifest.write_text(text)
        run = [sys.executable, str(blender_ext)]
        for old in out_dir.glob("lookgrid-*.zip"):
            old.unlink()
        for step in (["validate", str(src)],
                     ["build", "--source-dir", str(src), "--output-dir", str(out_dir), "--split-platforms"]):
            done = subprocess.run(run + step, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"blender_ext.py {step[0]} failed: {' '.join((done.stdout + done.stderr).split())}")
    return sorted(out_dir.glob("lookgrid-*.zip"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--blender-ext", type=Path, help="path of Blender's bl_pkg/cli/blender_ext.py")
    where.add_argument("--bpy-python", help="a python that can import bpy (blender_ext.py is found beside it)")
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (dist/)")
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS),
                        help="platform(s) to bundle wheels for (default linux-x64; repeatable)")
    args = parser.parse_args(argv)
    blender_ext = args.blender_ext or blender_ext_in(args.bpy_python)
    for zip_path in build(blender_ext, args.out, args.platform or ["linux-x64"]):
        print(zip_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

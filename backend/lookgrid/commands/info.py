"""``lookgrid info``: versions, compute devices, OpenColorIO configs, shipped models.

The first thing to run on a new machine: it imports every heavy dependency once, so a broken
install shows here with the package's name.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
from importlib import metadata

from lookgrid.imaging import color
from lookgrid.model.licence import commercially_usable, data_licence
from lookgrid.model.names import PRIOR_MODEL, models_dir

_PACKAGES = [
    ("lookgrid", "lookgrid"),
    ("torch", "torch"),
    ("numpy", "numpy"),
    ("numba", "numba"),
    ("OpenImageIO", "OpenImageIO"),
    ("opencolorio", "PyOpenColorIO"),
    ("grpcio", "grpc"),
    ("protobuf", "google.protobuf"),
    ("fileseq", "fileseq"),
    ("opencv-python-headless", "cv2"),
    ("scikit-image", "skimage"),
    ("tqdm", "tqdm"),
]


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _version(dist: str, module: str) -> str:
    try:
        mod = importlib.import_module(module)
    except Exception as err:  # a broken install must show, not crash the report
        return f"NOT IMPORTABLE ({type(err).__name__}: {err})"
    v = getattr(mod, "__version__", None)
    if v is None:
        try:
            v = metadata.version(dist)
        except metadata.PackageNotFoundError:
            v = "unknown"
    return str(v)


def _devices() -> list[dict]:
    out = [{"device": "cpu", "name": platform.processor() or platform.machine(), "threads": os.cpu_count()}]
    try:  # a broken torch install is reported, not raised
        torch = importlib.import_module("torch")
    except Exception as err:
        return out + [{"device": "torch", "error": str(err)}]
    out[0]["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append(
                {
                    "device": f"cuda:{i}",
                    "name": p.name,
                    "memory_gib": round(p.total_memory / 2**30, 1),
                    "capability": f"{p.major}.{p.minor}",
                }
            )
    else:
        out.append({"device": "cuda", "available": False})
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append({"device": "mps", "available": True})
    return out


def _colour() -> dict:
    try:
        used = color.pinned_config(None)
    except Exception as err:
        used = f"{color.config_source(None)} (cannot be used: {err})"
    info: dict = {
        "OCIO": os.environ.get("OCIO") or None,
        "config_used": used,
        "config_from": "$OCIO" if os.environ.get("OCIO") else "the built-in default",
        "opencolorio": color.OCIO_VERSION,
        "working_space": color.WORKING_SPACE,
        "builtin_configs": [f"{uri}  {desc}" for uri, desc in color.builtin_configs()],
    }
    try:
        pipe = color.ColorPipeline(None, src=color.SCENE_DEFAULT)
        info["ACEScg_to_working_fast_path"] = pipe.fast_path
    except Exception as err:
        info["error"] = str(err)
    return info


def _models() -> list[dict]:
    """One entry per model a command may name: the checkpoints of the models folder, then the prior
    alone (no file, no training data)."""
    folder = models_dir()
    out: list[dict] = []
    for p in sorted(folder.glob("*.pt")) if folder.is_dir() else []:
        if p.stem == PRIOR_MODEL:
            continue  # the name is reserved for the prior alone (lookgrid.model.names)
        entry = {"name": p.stem, "file": str(p), "size_mib": round(p.stat().st_size / 2**20, 2)}
        card = p.with_suffix(".md")
        entry["card"] = str(card) if card.exists() else None
        try:
            ckpt = importlib.import_module("torch").load(p, map_location="cpu", weights_only=True, mmap=True)
            if isinstance(ckpt, dict):
                entry["format"] = ckpt.get("format")
                entry["version"] = ckpt.get("version")
                entry["data_licence"] = data_licence(ckpt.get("meta"))
                entry["commercial_use"] = commercially_usable(str(entry["data_licence"]))
        except Exception as err:
            entry["error"] = f"{type(err).__name__}: {err}"[:200]
        out.append(entry)
    out.append(
        {
            "name": PRIOR_MODEL,
            "file": None,
            "size_mib": 0.0,
            "card": None,
            "format": None,
            "version": None,
            "data_licence": "none",
            "commercial_use": True,
            "description": "the closed-form colour prior alone (no weights, no learned residual)",
        }
    )
    return out


def collect() -> dict:
    """Everything ``lookgrid info`` reports, as a dict."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {dist: _version(dist, mod) for dist, mod in _PACKAGES},
        "devices": _devices(),
        "colour": _colour(),
        "models_dir": str(models_dir()),
        "models": _models(),
    }


def run(args) -> int:
    data = collect()
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    print(f"LookGrid {data['versions']['lookgrid']}  (Python {data['python']}, {data['platform']})")
    print("\nversions:")
    for k, v in data["versions"].items():
        print(f"  {k:24s} {v}")
    print("\ndevices:")
    for d in data["devices"]:
        rest = ", ".join(f"{k}={v}" for k, v in d.items() if k != "device")
        print(f"  {d['device']:8s} {rest}")
    c = data["colour"]
    print("\ncolour (OpenColorIO):")
    print(f"  $OCIO                 {c['OCIO'] or '(not set)'}")
    print(f"  config used           {c['config_used']}  (from {c['config_from']}; OpenColorIO {c['opencolorio']})")
    print(
        f"  working space         {c['working_space']}"
        + (f"  (ACEScg → working fast path: {'yes' if c.get('ACEScg_to_working_fast_path') else 'no'})")
    )
    if c.get("error"):
        print(f"  ERROR                 {c['error']}")
    print("  built-in configs:")
    for uri in c["builtin_configs"]:
        print(f"    {uri}")
    print(f"\nmodels ({data['models_dir']}):")
    if not data["models"]:
        print("  none found (the model starts as the identity: output == input)")
    for m in data["models"]:
        use = "commercially usable" if m.get("commercial_use") else "not for commercial use"
        if m["file"] is None:
            print(f"  {m['name']:28s} {'(no file)':>12s}  training data: none ({use}): {m['description']}")
            continue
        extra = (
            f"format={m.get('format')} v{m.get('version')}  training data: {m.get('data_licence')} ({use})"
            if "format" in m
            else m.get("error", "")
        )
        print(f"  {m['name']:28s} {m['size_mib']:8.2f} MiB  {extra}" + ("" if m.get("card") else "  (no model card)"))
    return 0

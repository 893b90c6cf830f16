"""Reading Blender and putting results back: the only module here that touches scene data.

Everything is read through ``bpy`` on Blender's main thread (the operator in :mod:`.ui` marshals
calls here with ``HostJob.on_main``): the image files of strips, mattes and their pixels, the
settings' curves sampled at every frame, and the new strip that shows the result. No decisions
are taken here beyond what the scene says; the job itself is built by ``lookgrid_client``.
"""

from __future__ import annotations

import os
import re

import numpy as np

from lookgrid_client import FrameIn, InvalidRequestError
from lookgrid_client.hostrender import RegionLook
from lookgrid_client.output import frame_path


def abspath(path: str) -> str:
    import bpy

    if path.startswith("//") and not bpy.data.filepath:
        raise InvalidRequestError(f"{path!r} is relative to the .blend file, which is not saved yet: save it or "
                                  f"use an absolute folder")
    return os.path.normpath(bpy.path.abspath(path))


def check_online_access(address: str) -> None:
    """Blender's "Allow Online Access" preference: a backend on another machine needs it."""
    import bpy

    from lookgrid_client.launch import is_local_address

    if not is_local_address(address) and not bpy.app.online_access:
        raise InvalidRequestError(f"the LookGrid server {address} is on another machine and Blender's online "
                                  f"access is off: allow it in Preferences > System > Network")


def strips(sed, all_: bool = False):
    """The sequencer's strips (top level, or ``all_`` including those inside meta strips):
    ``strips`` in Blender 4.4+, ``sequences`` before."""
    if all_:
        return sed.strips_all if hasattr(sed, "strips_all") else sed.sequences_all
    return sed.strips if hasattr(sed, "strips") else sed.sequences


def image_strip(scene, name: str | None = None):
    """The active strip (or the strip called ``name``) if it is an image strip; InvalidRequestError otherwise."""
    sed = scene.sequence_editor
    if sed is None:
        raise InvalidRequestError("the scene has no sequencer strips: add an image-sequence strip first")
    strip = sed.active_strip if name is None else strips(sed, True).get(name)
    if strip is None:
        raise InvalidRequestError("no active strip: select an image-sequence strip in the Sequencer"
                                  if name is None else f"there is no strip called {name!r}")
    if strip.type != "IMAGE":
        raise InvalidRequestError(f"strip {strip.name!r} is a {strip.type.lower()} strip, not an image sequence")
    return strip


def strip_files(strip) -> dict[int, str]:
    """Timeline frame -> image file for every frame the strip shows."""
    folder = abspath(strip.directory)
    names = [e.filename for e in strip.elements]
    start = int(strip.frame_start)
    out = {}
    for f in range(int(strip.frame_final_start), int(strip.frame_final_end)):
        i = f - start
        if len(names) == 1:
            i = 0
        if 0 <= i < len(names):
            out[f] = os.path.join(folder, names[i])
    return out


def sequence_pattern(files: dict[int, str]) -> str | None:
    """The ``####`` pattern of files numbered like their timeline frames (``plate.1001.exr`` at 1001),
    or None when their numbers differ (then no storage spec can describe them)."""
    first = min(files)
    m = list(re.finditer(rf"0*{first}(?!.*\d)", os.path.basename(files[first])))
    if not m:
        return None
    span = m[-1]
    width = span.end() - span.start()
    base = os.path.basename(files[first])
    pattern = os.path.join(os.path.dirname(files[first]), base[: span.start()] + "#" * width + base[span.end():])
    try:
        ok = all(frame_path(pattern, f) == p for f, p in files.items())
    except InvalidRequestError:
        return None
    return pattern if ok else None


def bundled_python_modules() -> str:
    """Blender's bundled ``site-packages`` (OpenImageIO, PyOpenColorIO): on ``sys.path`` in Blender
    itself, not when Blender runs as the ``bpy`` pip module."""
    import sys

    import bpy

    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return os.path.join(bpy.utils.resource_path("LOCAL"), "python", "lib", ver, "site-packages")


def ocio_config() -> str:
    """The OpenColorIO config Blender uses: ``$OCIO`` when set, else its bundled config."""
    import bpy

    from lookgrid_client.hostcolor import active_config

    return active_config(os.path.join(bpy.utils.resource_path("LOCAL"), "datafiles", "colormanagement", "config.ocio"))


def _as_data(settings) -> None:
    """Mark an image's colour space as data (raw values): ``is_data`` works with any config (a studio
    config has no "Non-Color")."""
    if hasattr(settings, "is_data"):
        settings.is_data = True
    else:
        settings.name = "Non-Color"


def read_pixels(path: str) -> tuple[np.ndarray, bool]:
    """(H, W, 4) float32 RGBA of an image file, top row first, values exactly as stored (read as
    Non-Color data, alpha channel-packed), and whether the file has an alpha channel."""
    import bpy

    if not os.path.isfile(path):
        raise InvalidRequestError(f"missing frame file {path}")
    img = bpy.data.images.load(path, check_existing=False)
    try:
        _as_data(img.colorspace_settings)
        img.alpha_mode = "CHANNEL_PACKED"
        w, h = img.size
        if w == 0 or h == 0:
            raise InvalidRequestError(f"Blender cannot read the image {path}")
        buf = np.empty(w * h * 4, dtype=np.float32)
        img.pixels.foreach_get(buf)
        has_alpha = img.depth == (128 if img.is_float else 32)
    finally:
        bpy.data.images.remove(img)
    return np.flipud(buf.reshape(h, w, 4)), has_alpha


def read_mask(path: str) -> np.ndarray:
    """(H, W) float32 matte: the file's alpha when it has one, else its first channel (as the
    backend reads mask files)."""
    pixels, has_alpha = read_pixels(path)
    return np.ascontiguousarray(pixels[..., 3] if has_alpha else pixels[..., 0])


def _fcurves(id_data):
    """The F-curves animating ``id_data``: Blender 5.0's channelbag of the assigned action slot,
    or ``Action.fcurves`` on 4.2-4.4."""
    ad = id_data.animation_data
    if ad is None or ad.action is None:
        return None
    slot = getattr(ad, "action_slot", None)
    if slot is not None:
        try:
            from bpy_extras import anim_utils

            bag = anim_utils.action_get_channelbag_for_slot(ad.action, slot)
            return bag.fcurves if bag is not None else None
        except (ImportError, AttributeError):
            pass
    return getattr(ad.action, "fcurves", None)


def sample(id_data, data_path: str, current: float, frames) -> dict[int, float]:
    """The property at ``data_path`` of ``id_data`` at every frame: its F-curve when animated,
    otherwise its current value."""
    fcurves = _fcurves(id_data)
    fc = fcurves.find(data_path) if fcurves is not None else None
    if fc is None:
        return {f: float(current) for f in frames}
    return {f: float(fc.evaluate(f)) for f in frames}


def region_looks(scene, frames) -> list[RegionLook]:
    """The settings' regions as the client's RegionLook values (curves sampled at ``frames``)."""
    looks = []
    for i, r in enumerate(scene.lookgrid.regions):
        base = f"lookgrid.regions[{i}]"
        styles = []
        for j, ref in enumerate(r.references):
            styles.append((abspath(ref.path) if ref.path else "",
                           sample(scene, f"{base}.references[{j}].weight", ref.weight, frames)))
        looks.append(RegionLook(name=r.name, mask="" if r.mask_source == "NONE" else "inline", styles=styles,
                                strength=sample(scene, f"{base}.strength", r.strength, frames)))
    return looks


def mask_files(scene, frames) -> dict[str, dict[int, str]]:
    """Region name -> {frame: mask file} for the regions with a mask; InvalidRequestError naming the
    first frame whose mask file is missing."""
    out = {}
    for r in scene.lookgrid.regions:
        if r.mask_source == "STRIP":
            if not r.mask_strip:
                raise InvalidRequestError(f"region {r.name!r}: choose the strip that holds its mask")
            files = strip_files(image_strip(scene, r.mask_strip))
        elif r.mask_source == "FILES":
            if not r.mask_pattern:
                raise InvalidRequestError(f"region {r.name!r}: give its mask file pattern (e.g. //masks/car.####.exr)")
            pattern = abspath(r.mask_pattern)
            files = {f: frame_path(pattern, f) for f in frames}
        else:
            continue
        for f in frames:
            if f not in files:
                raise InvalidRequestError(f"region {r.name!r}: the mask has no frame {f}")
            if not os.path.isfile(files[f]):
                raise InvalidRequestError(f"region {r.name!r}: mask frame {f} is missing ({files[f]})")
        out[r.name] = files
    return out


def read_frame(plate: dict[int, str], masks: dict[str, dict[int, str]], frame: int) -> FrameIn:
    """The FrameIn of ``frame``: the plate's RGBA pixels and each region's matte."""
    rgba, _ = read_pixels(plate[frame])
    return FrameIn(frame, rgba, ["R", "G", "B", "A"], masks={name: read_mask(files[frame])
                                                             for name, files in masks.items()})


def add_result_strip(scene, source, paths: list[str], first_frame: int):
    """A new image strip showing ``paths`` from ``first_frame``, in the first free channel above
    ``source`` (a previous result strip of the same name is replaced)."""
    sed = scene.sequence_editor
    name = f"{source.name}.lookgrid"
    old = strips(sed, True).get(name)
    if old is not None:
        strips(sed).remove(old)
    last = first_frame + len(paths)
    channel = source.channel + 1
    while any(s.channel == channel and s.frame_final_start < last and s.frame_final_end > first_frame
              for s in strips(sed, True)):
        channel += 1
    strip = strips(sed).new_image(name=name, filepath=paths[0], channel=channel, frame_start=first_frame)
    for p in paths[1:]:
        strip.elements.append(os.path.basename(p))
    strip.colorspace_settings.name = source.colorspace_settings.name
    return strip

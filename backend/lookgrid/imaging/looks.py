"""Writing a region's look as files other tools read, through OpenColorIO's own writers.

A look is a 3-D LUT ``(S, S, S, 3)`` on working-space (:data:`~lookgrid.imaging.color.WORKING_SPACE`,
ACEScct) colours in [0, 1], indexed ``[r, g, b]`` (see :mod:`lookgrid.model.look`). Files:

* :func:`clf_text` — an ACES CLF (``GroupTransform.write``) whose process list carries the shot's
  colour space → ACEScct conversion, the LUT, and ACEScct → the shot's space, so it applies to shot
  pixels as they are (OCIOFileTransform, Resolve's LUT menu, ...); with ``shot_space=None`` the LUT
  alone, in ACEScct (what the OpenColorIO ``Look`` references, see :func:`look_config_text`);
* :func:`cube_text` — a ``.cube`` baked by OpenColorIO's ``Baker`` (``resolve_cube`` or
  ``iridas_cube``), input and output ACEScct, the expected colour space named in its header comment;
* :func:`cdl_text` — an ASC CDL ``.cc`` (``GroupTransform.write`` of a ``CDLTransform``);
* :func:`look_config_text` — the clip's OpenColorIO config plus one ``Look`` per region (process
  space ACEScct, a ``FileTransform`` of the region's ACEScct CLF beside the config), validated.

A LUT3D clamps its input to [0, 1]: in ACEScct that is scene-linear AP1 from about −0.0069 to 222,
so only extreme highlights and clearly negative values are clipped. :func:`write_text` writes
atomically (:func:`lookgrid.fsutil.atomic_write`); mattes are EXR frames written with :func:`lookgrid.imaging.io.write_image` (atomic too).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import PyOpenColorIO as ocio

from lookgrid.errors import ColorSpaceError, ImageWriteError, InvalidInputError, LookGridError, ShapeMismatchError
from lookgrid.fsutil import atomic_write
from lookgrid.imaging.color import WORKING_SPACE, load_config, pinned_config, resolve_colorspace

CLF_FORMAT = "Academy/ASC Common LUT Format"
CDL_FORMAT = "ColorCorrection"
CUBE_FORMATS = ("resolve_cube", "iridas_cube")


def _check_lut(lut) -> np.ndarray:
    arr = np.asarray(lut, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[3] != 3 or not (arr.shape[0] == arr.shape[1] == arr.shape[2] >= 2):
        raise ShapeMismatchError(f"a LUT must have shape (S, S, S, 3) with S >= 2, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInputError("the LUT holds NaN or Inf")
    return np.ascontiguousarray(arr)


def lut3d_transform(lut) -> ocio.Lut3DTransform:
    """An OpenColorIO ``Lut3DTransform`` (tetrahedral interpolation) holding ``lut (S,S,S,3)``."""
    arr = _check_lut(lut)
    t = ocio.Lut3DTransform()
    t.setGridSize(arr.shape[0])
    t.setData(arr.ravel())  # OpenColorIO's order is ours: red slowest, blue fastest
    t.setInterpolation(ocio.INTERP_TETRAHEDRAL)
    return t


def _working(cfg: ocio.Config) -> str:
    return resolve_colorspace(cfg, WORKING_SPACE)


def look_group(lut, *, config=None, shot_space: str | None = None, description: str = "") -> ocio.GroupTransform:
    """shot → ACEScct → LUT → ACEScct → shot as a ``GroupTransform`` (the LUT alone when
    ``shot_space`` is None)."""
    cfg = load_config(config)
    items = [lut3d_transform(lut)]
    if shot_space is not None:
        shot, work = resolve_colorspace(cfg, shot_space), _working(cfg)
        items = [ocio.ColorSpaceTransform(shot, work), *items, ocio.ColorSpaceTransform(work, shot)]
    group = ocio.GroupTransform(items)
    if description:
        group.getFormatMetadata().addChildElement("Description", description)
    return group


def clf_text(lut, *, config=None, shot_space: str | None = None, description: str = "") -> str:
    """The look as CLF text (see the module docstring); written by ``GroupTransform.write``."""
    cfg = load_config(config)
    try:
        return look_group(lut, config=config, shot_space=shot_space, description=description).write(CLF_FORMAT, cfg)
    except LookGridError:
        raise
    except Exception as err:  # OpenColorIO's own exception type
        raise ColorSpaceError(f"OpenColorIO cannot write the look as CLF: {err}") from None


def cube_text(lut, *, fmt: str = "resolve_cube", config=None, description: str = "") -> str:
    """The look baked to a ``.cube`` by OpenColorIO's ``Baker`` (input and output ACEScct, same size
    as the LUT); ``description`` lines go into the header comment."""
    if fmt not in CUBE_FORMATS:
        raise InvalidInputError(f"cube format must be one of {', '.join(CUBE_FORMATS)}, got {fmt!r}")
    arr = _check_lut(lut)
    cfg = _copy(load_config(config))
    work = _working(cfg)
    cfg.addLook(ocio.Look(name="lookgrid-bake", processSpace=work, transform=lut3d_transform(arr)))
    baker = ocio.Baker()
    baker.setConfig(cfg)
    baker.setFormat(fmt)
    baker.setInputSpace(work)
    baker.setTargetSpace(work)
    baker.setLooks("lookgrid-bake")
    baker.setCubeSize(arr.shape[0])
    for line in (description or "").splitlines():
        baker.getFormatMetadata().addChildElement("Description", line)
    try:
        return baker.bake()
    except Exception as err:
        raise ColorSpaceError(f"OpenColorIO cannot bake the look as {fmt}: {err}") from None


def cdl_text(slope, offset, power, sat: float, *, cdl_id: str = "", description: str = "") -> str:
    """An ASC CDL ``.cc`` (one ColorCorrection) written by OpenColorIO."""
    t = ocio.CDLTransform(
        slope=list(map(float, slope)), offset=list(map(float, offset)), power=list(map(float, power)), sat=float(sat)
    )
    if cdl_id:
        t.setID(cdl_id)
    if description:
        t.getFormatMetadata().addChildElement("Description", description)
    try:
        return ocio.GroupTransform([t]).write(CDL_FORMAT, load_config(None))
    except Exception as err:
        raise ColorSpaceError(f"OpenColorIO cannot write the CDL: {err}") from None


def _copy(cfg: ocio.Config) -> ocio.Config:
    """An independent, editable copy of a config (loaded configs are cached and shared)."""
    return ocio.Config.CreateFromStream(cfg.serialize())


def look_config_text(looks: dict[str, tuple[str, str]], *, config=None, folder: str | os.PathLike) -> str:
    """The clip's config plus one ``Look`` per entry ``name -> (ACEScct CLF file name, description)``.

    The CLF names are relative to the config (search path "."); ``folder`` is where the config and
    the CLFs will be, used to validate that every Look resolves. Raises :class:`ColorSpaceError` if
    OpenColorIO rejects the result."""
    cfg = _copy(load_config(config))
    work = _working(cfg)
    existing = {look.getName() for look in cfg.getLooks()}
    for name, (clf_name, description) in looks.items():
        if name in existing:
            raise InvalidInputError(f"the config already has a look named {name!r}")
        cfg.addLook(
            ocio.Look(
                name=name,
                processSpace=work,
                description=description,
                transform=ocio.FileTransform(clf_name, interpolation=ocio.INTERP_TETRAHEDRAL),
            )
        )
    cfg.setSearchPath(".")
    description = cfg.getDescription()
    cfg.setDescription(
        (description + "\n" if description else "")
        + "Looks exported by LookGrid from "
        + f"{pinned_config(config)}: "
        + ", ".join(looks)
    )
    cfg.setWorkingDir(os.fspath(folder))
    try:
        cfg.validate()
        for name in looks:  # resolves the files: a missing CLF fails here, not in the host
            cfg.getProcessor(ocio.LookTransform(work, work, name))
    except Exception as err:
        raise ColorSpaceError(f"the exported OpenColorIO config does not validate: {err}") from None
    return cfg.serialize()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically (:func:`lookgrid.fsutil.atomic_write`)."""
    path = Path(path)
    try:
        with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as err:
        raise ImageWriteError(f"cannot write {path}: {err.strerror or err}") from None
    return path


# --- applying files (fidelity measurements, tests) -------------------------------------------------
def _apply(proc, pixels) -> np.ndarray:
    arr = np.array(pixels, dtype=np.float32, copy=True)
    if arr.shape[-1] != 3:
        raise ShapeMismatchError(f"pixels must be (..., 3), got {arr.shape}")
    flat = np.ascontiguousarray(arr.reshape(-1, 3))
    proc.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS).applyRGB(flat)
    return flat.reshape(arr.shape)


def apply_file(path: str | os.PathLike, pixels, *, config=None) -> np.ndarray:
    """Apply a LUT/CLF/CDL file to ``pixels (..., 3)`` with OpenColorIO (a ``FileTransform``)."""
    cfg = load_config(config)
    try:
        proc = cfg.getProcessor(ocio.FileTransform(os.fspath(path), interpolation=ocio.INTERP_TETRAHEDRAL))
    except Exception as err:
        raise ColorSpaceError(f"OpenColorIO cannot read {path}: {err}") from None
    return _apply(proc, pixels)


def apply_look(config_path: str | os.PathLike, look: str, colorspace: str, pixels) -> np.ndarray:
    """Apply ``look`` by name from the config file at ``config_path`` to ``pixels (..., 3)`` in
    ``colorspace`` (a ``LookTransform`` from and back to that space)."""
    try:
        cfg = ocio.Config.CreateFromFile(os.fspath(config_path))
        cs = resolve_colorspace(cfg, colorspace)
        proc = cfg.getProcessor(ocio.LookTransform(cs, cs, look))
    except LookGridError:
        raise
    except Exception as err:
        raise ColorSpaceError(f"cannot apply look {look!r} of {config_path}: {err}") from None
    return _apply(proc, pixels)

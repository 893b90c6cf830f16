"""Colour: OpenColorIO configs, the model's working space, and the NaN/Inf policy.

Working space: ACEScct
----------------------
The network sees every frame in ``WORKING_SPACE = "ACEScct"`` (ACES AP1 primaries with the ACEScct
log encoding). Why this one:

* **Display-like range.** Scene-linear ACEScg values map to roughly [0, 1]: 0 → 0.073, 0.18 (mid
  grey) → 0.414, 1.0 → 0.555, 16 → 0.783, 100 → 0.934, the half-float maximum 65504 → 1.468. A
  convolutional network trained on photographs expects values of that size and spends its capacity
  evenly over the stops, as a log encoding does; linear light would put most of a frame near 0 and
  highlights far above 1.
* **Exactly invertible, also outside [0, 1].** ACEScct is ``y = a·log2(x) + b`` above a break and a
  straight line below it (the "toe"), which continues through 0 into negative values. Both pieces are
  analytic and invertible, so working → scene-linear round trips to float precision for values far
  above 1 and below 0 (tested: relative error ≤ 1e-5 for 0.18, for 1e-3..100 and -1..-1e-3, and
  for every finite half value). sRGB-style encodings would need an ad-hoc extension past 1 and are
  defined for display-referred values only. The price: the toe is steep (slope 10.5), so negative
  scene values become clearly negative working values (-0.001 → 0.062, -1 → -10.5); real shots only
  hold small negatives (noise, out-of-gamut fringes), and the model must tolerate them.
* **Wide gamut, no clipping.** AP1 holds every colour of the usual shot spaces (ACEScg is AP1, so the
  common ACEScg → ACEScct conversion involves no matrix at all); Rec.709 primaries would turn
  saturated ACEScg colours into negative values.
* **What colourists grade in.** ACEScct is the standard grading space of ACES pipelines, so "a local
  affine colour transform in the working space" is the kind of operation a colourist's tools apply.

Reference photographs (8/16-bit PNG/JPEG, "sRGB - Texture") are converted into the same space, so the
network compares shot and reference in one encoding.

Fast path
---------
OpenColorIO's CPU processor (lossless optimisation, one call) needs 90–120 ms for a 1920×1080
ACEScg → ACEScct frame here. When the transform from the source space to the working space is a chain of
matrices followed by at most one ``LogCameraTransform`` (ACEScg, ACES2065-1, every "Linear ..." space
→ ACEScct, or linear → linear), :class:`ColorPipeline` reads the matrices and the log parameters out
of OpenColorIO's own transform, composes them in float64 (a chain that composes to the identity,
such as ACEScg → AP0 → ACEScg, is dropped), and applies them in float32 — as OpenColorIO does — in
one parallel numba kernel (:mod:`lookgrid.imaging._color_kernels`) that also enforces the NaN/Inf
policy: the same maths, not an approximation (agreement with OpenColorIO ≤ 2e-6). On the 2-core dev
machine a 1920×1080 ACEScg → ACEScct frame took 21–24 ms (median; the inverse ~30 ms) against
~120 ms for OpenColorIO's processor and ~1.5 ms for a plain copy; ``lookgrid bench convert`` measures it. The pipeline
checks the fast path against OpenColorIO on a set of test values when it is built and falls back to
OpenColorIO (split over threads) if they disagree or the transform has another shape.
:meth:`ColorPipeline.to_working_reference` is the plain OpenColorIO path kept beside it for tests.
A caller whose numba thread count is 1 (the render's writer, :mod:`lookgrid.engine.budget`) converts
back through the kernel's serial twin (the same row body, so the same values), which needs no
parallel-kernel lock and so never waits for another stage's kernel.

Half-float input: a table
-------------------------
A half-float value has 65,536 bit patterns, so a conversion that treats each channel on its own
(no matrix mixes them: ACEScg → ACEScct, the usual EXR plates) is a table lookup.
:attr:`ColorPipeline.half_table` holds, per colour channel, the working value of every half, computed
once by OpenColorIO's own processor (:meth:`ColorPipeline.to_working_reference`, NaN/Inf policy
included): :meth:`ColorPipeline.to_working` of float16 pixels then gives OpenColorIO's values bit
for bit (tested on all 65,536 values), in one serial pass that needs no parallel-kernel lock.
A transform with a matrix (or any other that mixes channels) has no table: float16 input is
converted to float32 and takes the paths above. Files are read as float16 for it with
:func:`lookgrid.imaging.io.read_image`'s ``half=True``.

NaN/Inf policy
--------------
Non-finite values never reach the model. :func:`sanitize` (and both directions of
:class:`ColorPipeline`) replace **NaN → 0**, **+Inf → +65504**, **−Inf → −65504** (the largest
finite half float, so an output written as half stays finite) and count how many of each were found
(:class:`SanitizeReport`). :func:`sanitize` leaves finite values alone, however large. The
colour conversion additionally clamps finite *colour* values to [−65504, 65504] (the half-float
range every EXR shot fits in) and counts them, so no intermediate can overflow to Inf — float32
files holding 1e38 still give finite working values; alpha and other channels are never clamped.
Working → scene replaces NaN/Inf the same way (no clamping of its input: ACEScct of −65504 is
−690 000) and clamps its scene-linear result to ±65504. The round trip is exact inside that range.
"""

from __future__ import annotations

import difflib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import PyOpenColorIO as ocio

from lookgrid._numba import PARALLEL_LOCK as _KERNEL_LOCK  # one lock for every parallel kernel
from lookgrid._numba import serial_or_locked
from lookgrid.errors import ColorSpaceError, InvalidInputError, ShapeMismatchError
from lookgrid.imaging import _color_kernels as kernels

log = logging.getLogger(__name__)

WORKING_SPACE = "ACEScct"
#: the default OpenColorIO config: a versioned built-in, never a ``-latest`` alias (whose meaning
#: changes with OpenColorIO releases); $OCIO or an explicit config wins (:func:`config_source`)
DEFAULT_CONFIG = "ocio://studio-config-v5.0.0_aces-v2.1_ocio-v2.6"
#: the OpenColorIO library's version (farm tracks record it: another build may render other pixels)
OCIO_VERSION = ocio.__version__
HALF_MAX = 65504.0
#: colour space assumed for 8/16-bit PNG/JPEG/TIFF files (reference photographs, masks)
SRGB_TEXTURE = "sRGB - Texture"
#: the scene-linear space assumed for a float file that declares none
SCENE_DEFAULT = "ACEScg"


# --------------------------------------------------------------------------------------------
# configs and colour-space names
# --------------------------------------------------------------------------------------------
def builtin_configs() -> list[tuple[str, str]]:
    """OpenColorIO's built-in configs as ``(uri, description)``, e.g. ``("ocio://default", ...)``."""
    reg = ocio.BuiltinConfigRegistry()
    out = [(f"ocio://{name}", ui) for name, ui, _rec, _dep in reg.getBuiltinConfigs()]
    for alias in ("ocio://default", "ocio://studio-config-latest", "ocio://cg-config-latest"):
        try:
            out.append((alias, f"= {ocio.ResolveConfigPath(alias)}"))
        except Exception:  # pragma: no cover - alias unknown to this OCIO version
            pass
    return out


def config_source(config: str | os.PathLike | None = None) -> str:
    """The config a pipeline will use: ``config`` if given, else ``$OCIO``, else the studio config."""
    if config is not None:
        return str(config)
    return os.environ.get("OCIO") or DEFAULT_CONFIG


def pinned_config(config: str | os.PathLike | None = None) -> str:
    """The config a pipeline will use, named so that it cannot change meaning: a built-in URI with
    its version (``ocio://studio-config-latest`` -> ``ocio://studio-config-v5.0.0_aces-v2.1_ocio-v2.6``),
    or a config file's absolute path. What specs, farm tracks and exported looks record.

    Raises :class:`ColorSpaceError` for a built-in this OpenColorIO does not know or a missing file."""
    source = config_source(config)
    if source.startswith("ocio://"):
        try:
            resolved = ocio.ResolveConfigPath(source)
        except Exception as err:  # OCIO raises its own Exception type
            raise ColorSpaceError(f"unknown OpenColorIO built-in config {source!r}: {err}") from None
        known = {f"ocio://{name}" for name, _ui, _rec, _dep in ocio.BuiltinConfigRegistry().getBuiltinConfigs()}
        if resolved not in known:
            raise ColorSpaceError(f"OpenColorIO {ocio.__version__} has no built-in config {source!r}")
        return resolved
    path = os.path.abspath(os.fspath(source))
    if not os.path.isfile(path):
        raise ColorSpaceError(f"OpenColorIO config {source!r} is not a file")
    return path


def check_config(recorded: str | None, config: str | os.PathLike | None = None) -> str:
    """Refuse to work with a different config than ``recorded`` (what a spec, track or look was made
    with; ``None``: nothing recorded). Returns :func:`pinned_config` of ``config``."""
    mine = pinned_config(config)
    if recorded and recorded != mine:
        raise ColorSpaceError(
            f"this job was made with OpenColorIO config {recorded!r} but this machine "
            f"resolves {mine!r}; render with the same config (--config / $OCIO)"
        )
    return mine


@lru_cache(maxsize=16)
def _load_config_cached(source: str) -> ocio.Config:
    try:
        return ocio.Config.CreateFromFile(source)
    except Exception as err:  # OCIO raises its own Exception type
        raise ColorSpaceError(f"cannot load OpenColorIO config {source!r}: {err}") from None


def load_config(config: str | os.PathLike | None = None) -> ocio.Config:
    """Load an OpenColorIO config: a built-in URI (``ocio://default``), a path, or ``None`` → $OCIO
    or :data:`DEFAULT_CONFIG`. Raises :class:`ColorSpaceError` if it cannot be loaded."""
    return _load_config_cached(config_source(config))


def resolve_colorspace(cfg: ocio.Config, name: str) -> str:
    """Canonical name of colour space ``name`` (aliases and roles accepted) in ``cfg``.

    Raises :class:`ColorSpaceError` naming the closest matches when it is unknown."""
    cs = cfg.getColorSpace(name) if name else None
    if cs is None:
        names = []
        for c in cfg.getColorSpaces():
            names.append(c.getName())
            names.extend(c.getAliases())
        close = difflib.get_close_matches(name or "", names, n=4, cutoff=0.4)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ColorSpaceError(f"unknown colour space {name!r} in config {cfg.getName()!r}{hint}")
    return cs.getName()


def declared_colorspace(spec_info, config: str | os.PathLike | None = None) -> str | None:
    """The colour space a file declares (``oiio:ColorSpace``), as a name of ``config``, or None.

    OpenImageIO stores interop names ("lin_ap1_scene", "srgb_rec709_scene", sometimes with an
    "ocio:" prefix); the config's aliases map them to its own names ("ACEScg", ...). ``spec_info``
    is anything with an ``attribute(name)`` method (:class:`lookgrid.imaging.io.SpecInfo`)."""
    value = spec_info.attribute("oiio:ColorSpace") if spec_info is not None else None
    if not isinstance(value, str) or not value.strip():
        return None
    cfg = load_config(config)
    base = value.strip()
    if base.lower().startswith("ocio:"):
        base = base[5:]
    candidates = [value.strip(), base]
    if base.endswith("_scene"):
        candidates.append(base[: -len("_scene")])
    for name in candidates:
        cs = cfg.getColorSpace(name)
        if cs is not None:
            return cs.getName()
    return None


def default_colorspace(spec_info, config: str | os.PathLike | None = None) -> str:
    """The colour space of a file whose user named none: the one rule for frames, references and
    ``lookgrid convert``.

    Integer files (8/16-bit PNG, JPEG, TIFF…) are display pictures: :data:`SRGB_TEXTURE`. Float
    files (EXR…) are scene-linear: the space they declare (:func:`declared_colorspace`), else
    :data:`SCENE_DEFAULT`. ``spec_info`` None (pixels without a file) counts as float.
    """
    if spec_info is not None and not spec_info.is_float:
        return SRGB_TEXTURE
    return declared_colorspace(spec_info, config) or SCENE_DEFAULT


# --------------------------------------------------------------------------------------------
# NaN / Inf policy
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SanitizeReport:
    """How many non-finite values were replaced: NaN → 0, +Inf → +65504, −Inf → −65504; and
    (colour conversion only) how many finite colour values beyond ±65504 were clamped."""

    nan: int = 0
    posinf: int = 0
    neginf: int = 0
    clamped: int = 0

    @property
    def total(self) -> int:
        return self.nan + self.posinf + self.neginf

    def __bool__(self) -> bool:  # true when something was replaced or clamped
        return self.total + self.clamped > 0

    def __add__(self, other: "SanitizeReport") -> "SanitizeReport":
        return SanitizeReport(
            self.nan + other.nan, self.posinf + other.posinf, self.neginf + other.neginf, self.clamped + other.clamped
        )

    def __str__(self) -> str:
        if not self:
            return "no NaN/Inf values"
        text = (
            f"replaced {self.total} non-finite values ({self.nan} NaN → 0, "
            f"{self.posinf} +Inf → {HALF_MAX:g}, {self.neginf} -Inf → {-HALF_MAX:g})"
        )
        if self.clamped:
            text += f", clamped {self.clamped} colour values beyond ±{HALF_MAX:g}"
        return text


def sanitize(pixels: np.ndarray, *, copy: bool = True) -> tuple[np.ndarray, SanitizeReport]:
    """Apply the NaN/Inf policy to any float array (all channels, alpha included).

    Args:
        pixels: float array of any shape (typically (H, W, C)); integer arrays are returned as is.
        copy: if False and replacements are needed, ``pixels`` is modified in place.
    Returns:
        ``(pixels, report)``; ``pixels`` is the input object itself when nothing needed replacing.
    """
    pixels = np.asarray(pixels)
    if not np.issubdtype(pixels.dtype, np.floating):
        return pixels, SanitizeReport()
    finite = np.isfinite(pixels)
    if finite.all():
        return pixels, SanitizeReport()
    nan = np.isnan(pixels)
    pos = np.isposinf(pixels)
    neg = np.isneginf(pixels)
    report = SanitizeReport(int(nan.sum()), int(pos.sum()), int(neg.sum()))
    out = pixels.copy() if copy else pixels
    out[nan] = 0.0
    out[pos] = HALF_MAX
    out[neg] = -HALF_MAX
    return out, report


def _counted(counts: np.ndarray) -> SanitizeReport:
    """The report of a kernel's per-row ``counts`` (H, 4): NaN, +Inf, -Inf, clamped."""
    tot = counts.sum(0)
    return SanitizeReport(int(tot[0]), int(tot[1]), int(tot[2]), int(tot[3]))


# --------------------------------------------------------------------------------------------
# the exact "matrix + log curve" fast path
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _LogCamera:
    """Parameters of an OCIO LogCameraTransform (lin → log), per channel, float64.

    ``y = logSlope·log_base(linSlope·x + linOffset) + logOffset`` for ``x > linBreak``, else the
    straight line ``y = linearSlope·x + linearOffset`` that meets it with equal value and slope."""

    base: float
    log_slope: np.ndarray
    log_offset: np.ndarray
    lin_slope: np.ndarray
    lin_offset: np.ndarray
    lin_break: np.ndarray
    linear_slope: np.ndarray
    linear_offset: np.ndarray
    log_break: np.ndarray

    @staticmethod
    def from_transform(t) -> "_LogCamera":
        base = float(t.getBase())
        ls = np.array(t.getLogSideSlopeValue(), np.float64)
        lo = np.array(t.getLogSideOffsetValue(), np.float64)
        ns = np.array(t.getLinSideSlopeValue(), np.float64)
        no = np.array(t.getLinSideOffsetValue(), np.float64)
        br = np.array(t.getLinSideBreakValue(), np.float64)
        log_break = ls * np.log(ns * br + no) / np.log(base) + lo
        if t.isLinearSlopeValueSet():
            slope = np.array(t.getLinearSlopeValue(), np.float64)
        else:
            slope = ls * ns / ((ns * br + no) * np.log(base))
        offset = log_break - slope * br
        return _LogCamera(base, ls, lo, ns, no, br, slope, offset, log_break)

    def params(self) -> np.ndarray | None:
        """(9,) float32: the slope for log2 (logSlope/log2(base)), logOffset, linSlope, linOffset,
        linBreak, linearSlope, linearOffset, logBreak, log2(base); None when the three channels
        differ (the kernel handles one curve for all channels)."""
        l2b = np.log2(self.base)
        p = np.stack(
            [
                self.log_slope / l2b,
                self.log_offset,
                self.lin_slope,
                self.lin_offset,
                self.lin_break,
                self.linear_slope,
                self.linear_offset,
                self.log_break,
                np.full(3, l2b),
            ]
        )
        if not np.all(p == p[:, :1]):
            return None
        return p[:, 0].astype(np.float32)


_IDENTITY_CURVE = np.ones(9, np.float32)


def _flatten(transform) -> list | None:
    if isinstance(transform, ocio.GroupTransform):
        items = [transform.__getitem__(i) for i in range(len(transform))]
        if transform.getDirection() == ocio.TRANSFORM_DIR_INVERSE:
            return None  # not expected from a processor; no fast path
        out = []
        for t in items:
            sub = _flatten(t)
            if sub is None:
                return None
            out.extend(sub)
        return out
    return [transform]


def _decompose(group) -> tuple[np.ndarray, np.ndarray, _LogCamera | None] | None:
    """Read ``matrices... [LogCamera]`` out of an OCIO transform: (m (3,3), off (3,), log|None)."""
    ts = _flatten(group)
    if ts is None:
        return None
    m4: np.ndarray = np.eye(4)
    curve = None
    for t in ts:
        if curve is not None:
            return None  # something after the log curve
        if isinstance(t, ocio.MatrixTransform):
            a: np.ndarray = np.array(t.getMatrix(), np.float64).reshape(4, 4)
            a[:3, 3] = np.array(t.getOffset(), np.float64)[:3]
            if np.any(a[3, :3] != 0) or a[3, 3] != 1:
                return None  # alpha mixes into colour
            if t.getDirection() == ocio.TRANSFORM_DIR_INVERSE:
                a = np.linalg.inv(a)
            m4 = a @ m4
        elif isinstance(t, ocio.LogCameraTransform):
            if t.getDirection() != ocio.TRANSFORM_DIR_FORWARD:
                return None
            curve = _LogCamera.from_transform(t)
        else:
            return None
    return m4[:3, :3].copy(), m4[:3, 3].copy(), curve


def _probe_values() -> np.ndarray:
    """(K, 3) float32 scene values used to check a fast path against OpenColorIO."""
    levels = np.array(
        [
            -4.0,
            -1.0,
            -0.05,
            -1e-4,
            0.0,
            1e-6,
            1e-4,
            0.002,
            0.0078125,
            0.0078126,
            0.01,
            0.05,
            0.18,
            0.5,
            1.0,
            2.0,
            16.0,
            100.0,
            1000.0,
            65504.0,
        ]
    )
    g = np.stack(np.meshgrid(levels, levels[::3], levels[::5], indexing="ij"), -1).reshape(-1, 3)
    rng = np.random.default_rng(1234)
    r = rng.lognormal(-1.5, 2.0, (512, 3)) * rng.choice([-1, 1], (512, 3), p=[0.05, 0.95])
    return np.concatenate([g, r]).astype(np.float32)


def _close(fast: np.ndarray, ref: np.ndarray) -> bool:
    fast = fast.astype(np.float64)
    ref = ref.astype(np.float64)
    # Both sides do their matrices in float32, so an error relative to the largest channel of the
    # pixel is what float32 guarantees (a channel near 0 beside one at 65504 is only good to ~0.01).
    scale = np.abs(ref).max(axis=-1, keepdims=True)
    return bool(np.all(np.abs(fast - ref) <= 2e-5 * scale + 1e-5))


class ColorPipeline:
    """Converts pixels between a shot's colour space and the model's working space.

    Args:
        config: OpenColorIO config URI or path; ``None`` → ``$OCIO`` or the ACES studio config.
        src: the shot's colour space (any name or alias in the config, e.g. "ACEScg",
            "ACES2065-1", "Linear Rec.709 (sRGB)", "sRGB - Texture").
        working: the target space, :data:`WORKING_SPACE` unless converting between arbitrary
            spaces (``lookgrid convert``).
        fast: allow the exact matrix + log fast path (see module docstring).
        threads: threads for the OpenColorIO fallback (default: CPU count).

    Both directions accept (..., C) float arrays with C ≥ 3: channels 0..2 are converted as RGB,
    the rest (alpha, masks) pass through untouched except for the NaN/Inf policy. The result is a
    new float32 array of the same shape.
    """

    def __init__(
        self,
        config: str | os.PathLike | None = None,
        src: str = "ACEScg",
        working: str = WORKING_SPACE,
        *,
        fast: bool = True,
        threads: int | None = None,
    ):
        self.config_source = config_source(config)
        self.config = load_config(config)
        self.src = resolve_colorspace(self.config, src)
        self.working = resolve_colorspace(self.config, working)
        self.threads = max(1, threads or os.cpu_count() or 1)
        try:
            proc_f = self.config.getProcessor(self.src, self.working)
            proc_i = self.config.getProcessor(self.working, self.src)
        except Exception as err:
            raise ColorSpaceError(f"cannot convert {self.src!r} ↔ {self.working!r}: {err}") from None
        self._cpu_fwd = proc_f.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)
        self._cpu_inv = proc_i.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._fast = None
        if fast:
            self._fast = self._build_fast(proc_f)
        self._tables: tuple[np.ndarray, np.ndarray] | None = None
        self._tables_built = False

    def __repr__(self) -> str:
        return (
            f"ColorPipeline(config={self.config_source!r}, src={self.src!r}, "
            f"working={self.working!r}, fast_path={self.fast_path})"
        )

    @property
    def fast_path(self) -> bool:
        """True when the exact matrix + log kernel is used instead of OpenColorIO."""
        return self._fast is not None

    @property
    def is_identity(self) -> bool:
        return self.src == self.working

    @property
    def per_channel(self) -> bool:
        """True when scene → working treats each colour channel on its own (the identity, or the
        exact fast path without a matrix): what a table of half values can hold exactly."""
        return self.is_identity or (self._fast is not None and not self._fast[3])

    @property
    def half_table(self) -> np.ndarray | None:
        """(3, 65536) float32: the working value of every half-float bit pattern, per colour
        channel, from OpenColorIO's processor with the NaN/Inf policy (built on first use);
        None unless :attr:`per_channel`. See the module docstring."""
        tables = self._half_tables()
        return tables[0] if tables is not None else None

    def _half_tables(self) -> tuple[np.ndarray, np.ndarray] | None:
        with self._pool_lock:
            if not self._tables_built:
                self._tables = self._build_tables() if self.per_channel else None
                self._tables_built = True
        return self._tables

    def _build_tables(self) -> tuple[np.ndarray, np.ndarray]:
        halves = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32)
        table = self.to_working_reference(np.repeat(halves[:, None], 3, axis=1)[None])[0]
        plain, _ = sanitize(halves, copy=True)
        return np.ascontiguousarray(table.T, dtype=np.float32), plain.astype(np.float32)

    # -- fast path -------------------------------------------------------------------------
    def _build_fast(self, proc):
        try:
            parts = _decompose(proc.createGroupTransform())
        except Exception:  # pragma: no cover - unusual transforms
            parts = None
        if parts is None:
            return None
        m, off, curve = parts
        try:
            minv = np.linalg.inv(m)
        except np.linalg.LinAlgError:
            return None
        f32 = np.float32
        params = curve.params() if curve is not None else _IDENTITY_CURVE
        if params is None:
            return None
        # a chain that composes to the identity (ACEScg → AP0 → ACEScg) is the identity exactly
        has_matrix = not (np.abs(m - np.eye(3)).max() < 1e-9 and np.abs(off).max() < 1e-12)
        fast = (m.astype(f32), off.astype(f32), minv.astype(f32), has_matrix, params, curve is not None)
        self._fast = fast
        probe = _probe_values()[None]  # (1, K, 3)
        ok = _close(self.to_working(probe), self.to_working_reference(probe))
        y = self.to_working_reference(probe)
        ok = ok and _close(self.from_working(y), self.from_working_reference(y))
        if not ok:
            log.warning(
                "fast colour path for %s → %s disagrees with OpenColorIO; using OpenColorIO", self.src, self.working
            )
            return None
        return fast

    # -- public API ------------------------------------------------------------------------
    def to_working(self, pixels: np.ndarray, *, return_report: bool = False, out: np.ndarray | None = None):
        """Scene (``src``) → working space. (..., C≥3) float → (..., C) float32 (new array).

        With ``return_report=True`` returns ``(pixels, SanitizeReport)``. ``out``: a float32
        array of the same shape, any strides (e.g. an ``(H, W, 3)`` view of a planar
        ``(3, H, W)`` buffer), written and returned instead of a new array; the fast path reads
        and writes strided arrays in place of a copy, so a layout change costs nothing extra."""
        return self._apply(pixels, forward=True, return_report=return_report, out=out)

    def from_working(
        self, pixels: np.ndarray, *, return_report: bool = False, out: np.ndarray | None = None, half: bool = False
    ):
        """Working space → scene (``src``); exact inverse of :meth:`to_working` (``out`` too).

        ``half``: the result as float16 instead (no ``out``), bit for bit
        ``from_working(pixels).astype(np.float16)`` (nearest half, ties to even), made row by row
        on the fast path so the float32 result is never held whole: what a half-float file
        takes without converting (``lookgrid.imaging.write_image`` writes float16 as it is)."""
        if not half:
            return self._apply(pixels, forward=False, return_report=return_report, out=out)
        if out is not None:
            raise InvalidInputError("from_working(half=True) makes its own float16 array; out= is not taken")
        if self._fast is None:  # OpenColorIO's float32 result, rounded by numpy (the reference)
            result, report = self._apply(pixels, forward=False, return_report=True)
            result = np.asarray(result, np.float32).astype(np.float16)
            return (result, report) if return_report else result
        arr, shape = self._prepare(pixels, strided=True)
        _, off, minv, has_matrix, curve, has_curve = self._fast
        dst = np.empty(arr.shape, np.uint16)
        counts = np.zeros((arr.shape[0], 4), np.int64)
        serial_or_locked(
            kernels.inverse_half_kernel_serial,
            kernels.inverse_half_kernel,
            *(arr, dst, minv, off, has_matrix, curve, has_curve, counts),
        )
        report = _counted(counts)
        result = dst.view(np.float16).reshape(shape)
        return (result, report) if return_report else result

    def to_working_reference(self, pixels: np.ndarray, *, return_report: bool = False, threads: int = 1):
        """Plain OpenColorIO (lossless, one call; with ``threads`` > 1 rows split over the pool,
        the same values) version of :meth:`to_working` (the half table's source: the same values
        bit for bit for float16 pixels with a table)."""
        result, report = self._apply_ocio(*self._prepare(pixels), self._cpu_fwd, threads=threads, forward=True)
        return (result, report) if return_report else result

    def from_working_reference(self, pixels: np.ndarray) -> np.ndarray:
        """Plain OpenColorIO version of :meth:`from_working`."""
        return self._apply_ocio(*self._prepare(pixels), self._cpu_inv, threads=1, forward=False)[0]

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _prepare(pixels, strided: bool = False) -> tuple[np.ndarray, tuple]:
        """``(arr3 (K, W, C) float32, original shape)``: C-contiguous, or with ``strided`` a 3-D
        float32 input as it is (the numba kernels read any non-negative strides)."""
        arr = np.asarray(pixels)
        if arr.ndim < 2 or arr.shape[-1] < 3:
            raise ShapeMismatchError(f"colour conversion needs (..., C>=3) pixels, got shape {tuple(arr.shape)}")
        shape = arr.shape
        if strided and arr.ndim == 3 and arr.dtype == np.float32 and min(arr.strides) >= 0:
            return arr, shape
        arr3 = arr.reshape(-1, shape[-2], shape[-1]) if arr.ndim != 3 else arr
        return np.ascontiguousarray(arr3, dtype=np.float32), shape

    def _apply(self, pixels, *, forward: bool, return_report: bool, out: np.ndarray | None = None):
        if out is not None and (
            not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != np.shape(pixels)
        ):
            raise ShapeMismatchError(
                f"out= must be a float32 array of the pixels' shape {tuple(np.shape(pixels))}, got "
                f"{getattr(out, 'dtype', type(out).__name__)} {tuple(np.shape(out))}"
            )
        tables = self._half_tables() if forward and np.asarray(pixels).dtype == np.float16 else None
        if tables is not None:  # float16 pixels, per-channel transform: the table (exact)
            src = np.asarray(pixels)
            if src.ndim < 2 or src.shape[-1] < 3:
                raise ShapeMismatchError(f"colour conversion needs (..., C>=3) pixels, got shape {src.shape}")
            if src.ndim != 3 or min(src.strides) < 0:
                src = np.ascontiguousarray(src.reshape(-1, src.shape[-2], src.shape[-1]))
            direct = out is not None and out.ndim == 3 and min(out.strides) >= 0
            dst: np.ndarray = out if direct and out is not None else np.empty(src.shape, np.float32)
            counts = np.zeros((src.shape[0], 4), np.int64)
            serial_or_locked(
                kernels.half_table_kernel,
                kernels.half_table_kernel_parallel,
                *(src.view(np.uint16), dst, tables[0], tables[1], counts),
            )
            report = _counted(counts)
            result = dst if direct else dst.reshape(np.shape(pixels))
        elif self._fast is not None:
            arr, shape = self._prepare(pixels, strided=True)
            m, off, minv, has_matrix, curve, has_curve = self._fast
            direct = out is not None and out.ndim == 3 and min(out.strides) >= 0
            dst = out if out is not None and direct else np.empty(arr.shape, np.float32)
            counts = np.zeros((arr.shape[0], 4), np.int64)
            # one parallel kernel at a time: each already uses every core, and numba's fallback
            # "workqueue" threading layer must not be entered from two threads at once
            if forward:
                with _KERNEL_LOCK:
                    kernels.forward_kernel(arr, dst, m, off, has_matrix, curve, has_curve, counts)
            else:  # a caller budgeted to one numba thread takes the serial twin, without the lock
                serial_or_locked(
                    kernels.inverse_kernel_serial,
                    kernels.inverse_kernel,
                    *(arr, dst, minv, off, has_matrix, curve, has_curve, counts),
                )
            report = _counted(counts)
            result = dst if direct else dst.reshape(shape)
        else:
            arr, shape = self._prepare(pixels)
            result, report = self._apply_ocio(
                arr, shape, self._cpu_fwd if forward else self._cpu_inv, threads=self.threads, forward=forward
            )
            result = result.reshape(shape)
        if out is not None and result is not out:
            out[...] = result
            result = out
        return (result, report) if return_report else result

    def _apply_ocio(
        self, arr: np.ndarray, shape: tuple, cpu, *, threads: int, forward: bool
    ) -> tuple[np.ndarray, SanitizeReport]:
        clean, report = sanitize(arr, copy=True)
        out = clean if clean is not arr else arr.copy()
        rgb = np.ascontiguousarray(out[..., :3])
        over = np.abs(rgb) > HALF_MAX
        if forward and over.any():
            report = report + SanitizeReport(clamped=int(over.sum()))
            np.clip(rgb, -HALF_MAX, HALF_MAX, out=rgb)
        if self.is_identity:
            pass
        elif threads <= 1 or rgb.shape[0] < 2 * threads:
            cpu.applyRGB(rgb)
        else:
            chunks = np.array_split(np.arange(rgb.shape[0]), threads)
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ocio")
            list(self._pool.map(lambda idx: cpu.applyRGB(rgb[idx[0] : idx[-1] + 1]), [c for c in chunks if len(c)]))
        rgb = np.nan_to_num(rgb, nan=0.0, posinf=HALF_MAX, neginf=-HALF_MAX)
        if not forward:
            np.clip(rgb, -HALF_MAX, HALF_MAX, out=rgb)  # scene-linear results stay in half range
        out[..., :3] = rgb
        return out.reshape(shape), report


@lru_cache(maxsize=32)
def get_pipeline(config: str | None, src: str, working: str = WORKING_SPACE) -> ColorPipeline:
    """A cached :class:`ColorPipeline` (building one loads the config and checks the fast path)."""
    return ColorPipeline(config, src=src, working=working)

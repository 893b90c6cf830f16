"""Frames in and out through OpenImageIO: EXR (half/float, extra channels, tiled, multi-part),
PNG/JPEG/TIFF/DPX at 8/16 bits.

Reading (:func:`read_image`)
    * Pixels come back as float32 (H, W, C) in the **display window** (EXR ``displayWindow``, OIIO's
      "full" window) with the file's channel order and names. Display-window pixels that the data
      window does not cover are **padded with 0** (transparent black, as compositing packages do);
      data-window pixels outside the display window (overscan) are not in the array — read with
      ``window="data"`` or ``"union"`` to get them. ``Image.spec_info`` records every window, so
      :func:`write_image` writes the output with the input's data and display windows.
    * Integer files (8/16-bit PNG/JPEG/TIFF/DPX) are normalised to [0, 1] by OpenImageIO; half and
      float EXR values are exact (half → float32 is lossless); 32-bit unsigned EXR channels are
      converted to float32 (exact up to 2**24).
    * Multi-part / multi-subimage files: ``part`` picks one by index or by name; the error lists
      the parts. Mip-mapped files give their full-resolution level. Deep images are refused.
    * A file that cannot be read **completely** raises :class:`ImageReadError`: OpenImageIO's error
      state is checked after every read, because a damaged EXR can return an array while the error
      flag says that chunks were missing. Files whose name has no known extension (e.g. ``*_exr``)
      are opened by their magic number through a temporary link with the right extension, so the
      error names the actual problem.
    * ``isolated=True`` decodes in a separate process: a decoder that crashes or hangs on a hostile
      file then costs that process only (``ImageReadError`` "decoder crashed"/"timed out"), never a
      server. It costs a process start (~0.5 s); use it for files from untrusted clients.

Writing (:func:`write_image`)
    * Atomic (:func:`lookgrid.fsutil.atomic_write`): a temporary file in the same folder, then
      ``os.replace``-d into place.
    * Format from the extension. ``like=`` an input :class:`Image` carries its windows (EXR
      outputs only), per-channel formats (half/float/uint), tiling, compression, pixel aspect,
      chromaticities, timecode, colour-space and custom attributes into the output (format-specific
      ones only to the same format); ``dtype`` overrides the pixel format. One part is written per
      file (a multi-part input gives a single-part output of the part that was read). Known gap:
      OpenImageIO's EXR writer drops byte-array attributes such as an ID manifest.
    * Subsampled luminance/chroma EXRs (``RY``/``BY``) are not readable through OpenImageIO
      ("Subsampled channels are not supported") and raise :class:`ImageReadError`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import OpenImageIO as oiio

from lookgrid._numba import serial_or_locked
from lookgrid.errors import ImageReadError, ImageWriteError, InvalidInputError, ResourceLimitError, ShapeMismatchError
from lookgrid.fsutil import atomic_write
from lookgrid.imaging import _color_kernels as kernels

#: refuse to decode images larger than this many bytes as float32 (guards hostile headers)
MAX_DECODED_BYTES = int(os.environ.get("LOOKGRID_MAX_IMAGE_BYTES", 8 << 30))

#: leading bytes of the image formats LookGrid reads, and the extension OpenImageIO wants for each
MAGIC_EXTENSIONS = [
    (b"\x76\x2f\x31\x01", ".exr"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
    (b"SDPX", ".dpx"),
    (b"XPDS", ".dpx"),
]

_EXT_DEFAULT_DTYPE = {
    ".exr": "half",
    ".png": "uint8",
    ".jpg": "uint8",
    ".jpeg": "uint8",
    ".tif": "uint16",
    ".tiff": "uint16",
    ".dpx": "uint16",
}
_FLOAT_FORMATS = {".exr", ".tif", ".tiff"}
_DTYPES = {"half": oiio.HALF, "float": oiio.FLOAT, "uint8": oiio.UINT8, "uint16": oiio.UINT16}

# attributes describing the file's own layout: never copied to an output
_SKIP_ATTRIBUTES = {
    "oiio:subimages",
    "oiio:subimagename",
    "oiio:BitsPerSample",
    "oiio:RowsPerChunk",
    "oiio:UnassociatedAlpha",
    "oiio:Movie",
    "openexr:chunkCount",
    "openexr:version",
    "openexr:levelmode",
    "openexr:roundingmode",
    "tiff:PhotometricInterpretation",
    "tiff:Compression",
    "tiff:RowsPerStrip",
    "tiff:PlanarConfiguration",
    "planarconfig",
    "png:compressionLevel",
    "thumbnail_width",
    "thumbnail_height",
    "thumbnail_nchannels",
    "thumbnail_image",
}


Window = tuple[int, int, int, int]  # (x, y, width, height), y down, as OpenImageIO


@dataclass(frozen=True)
class SpecInfo:
    """What is needed to write a frame back like the one read (plain data, picklable).

    Windows are ``(x, y, width, height)``. ``pixels_window`` is the window that ``Image.pixels``
    covers (the display window unless read with another ``window=``)."""

    path: str
    format_name: str
    data_window: Window
    display_window: Window
    pixels_window: Window
    channel_formats: tuple[str, ...]
    attributes: tuple[tuple[str, str, Any], ...] = ()
    tile: tuple[int, int] | None = None
    part: int = 0
    part_name: str | None = None
    parts: int = 1
    alpha_channel: int = -1

    def attribute(self, name: str, default: Any = None) -> Any:
        for n, _t, v in self.attributes:
            if n.lower() == name.lower():
                return v
        return default

    @property
    def all_half(self) -> bool:
        """True when every channel read is half-float (what ``read_image(half=True)`` keeps as
        float16 and a half-float output takes without converting)."""
        return bool(self.channel_formats) and all(f == "half" for f in self.channel_formats)

    @property
    def is_float(self) -> bool:
        return any(f in ("half", "float", "double") for f in self.channel_formats)


@dataclass
class Image:
    """A frame: ``pixels`` (H, W, C) float32, ``channel_names`` (C,), ``spec_info`` to write back."""

    pixels: np.ndarray
    channel_names: tuple[str, ...]
    spec_info: SpecInfo | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.pixels.shape

    def index(self, name: str) -> int:
        """Index of channel ``name`` (case-sensitive, then case-insensitive)."""
        if name in self.channel_names:
            return self.channel_names.index(name)
        low = [c.lower() for c in self.channel_names]
        if name.lower() in low:
            return low.index(name.lower())
        raise InvalidInputError(f"image has no channel {name!r} (channels: {', '.join(self.channel_names)})")

    def rgb_indices(self) -> tuple[int, int, int]:
        """Indices of the R, G, B channels: names R/G/B or red/green/blue, unlayered ones (``R``)
        before layered ones (``left.R``); an image with fewer than three channels (Y, Y + A) is
        grey: (0, 0, 0); otherwise the first three channels."""
        names = [c.split(".")[-1].lower() for c in self.channel_names]
        for cand in (("r", "g", "b"), ("red", "green", "blue")):
            # prefer the unlayered channels (R over left.R)
            found = []
            for want in cand:
                hits = [i for i, short in enumerate(names) if short == want]
                hits.sort(key=lambda i: ("." in self.channel_names[i], i))
                if not hits:
                    break
                found.append(hits[0])
            if len(found) == 3:
                return tuple(found)  # type: ignore[return-value]
        if len(self.channel_names) < 3:
            return (0, 0, 0)
        return (0, 1, 2)

    def alpha_index(self) -> int | None:
        """Index of the alpha channel (A / alpha), or None."""
        for i, c in enumerate(self.channel_names):
            if c in ("A", "a", "alpha", "Alpha"):
                return i
        return None

    def rgb(self, *, copy: bool = True) -> np.ndarray:
        """(H, W, 3) float32 colour channels: a contiguous copy; with ``copy=False`` a view of
        ``pixels`` when the colour channels are three neighbours in order (``R, G, B[, A…]``; a
        strided view unless the image has only those three), else a copy.

        Copied channel by channel through slices: numpy's gather along the last axis
        (``pixels[..., [0, 1, 2]]``) costs ~8x a plain copy (~75 ms at 3840×2160)."""
        return channels_of(self.pixels, self.rgb_indices(), copy=copy)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def channels_of(pixels: np.ndarray, index: Sequence[int], *, copy: bool = True) -> np.ndarray:
    """``pixels[..., index]`` (any number of leading axes): with ``copy=False`` a view when
    ``index`` is a run of neighbouring channels in order, else (and with ``copy``) a new
    C-contiguous array filled channel by channel — the same values as numpy's gather, ~8x faster."""
    index = [int(i) for i in index]
    k = len(index)
    if k and index == list(range(index[0], index[0] + k)):
        view = pixels[..., index[0] : index[0] + k]
        return np.array(view, order="C") if copy else view
    out = np.empty(pixels.shape[:-1] + (k,), pixels.dtype)
    for j, i in enumerate(index):
        out[..., j] = pixels[..., i]
    return out


def _err_text(obj=None) -> str:
    """OpenImageIO's pending error text; never raises (messages may hold bytes that are not
    UTF-8, which makes ``geterror`` itself raise)."""
    try:
        text = obj.geterror() if obj is not None else oiio.geterror()
    except UnicodeDecodeError as err:
        text = err.object.decode("utf-8", "replace") if isinstance(err.object, bytes) else str(err)
    except Exception as err:  # pragma: no cover
        text = str(err)
    text = " ".join(text.split())
    return text[:400]


def sniff_extension(head: bytes) -> str | None:
    """The extension (".exr", ".png", ...) of the image format whose file starts with ``head``
    (8 bytes are enough), or None for an unknown format."""
    return next((ext for magic, ext in MAGIC_EXTENSIONS if head.startswith(magic)), None)


def _sniff_file(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return sniff_extension(f.read(8))
    except OSError:
        return None


@contextlib.contextmanager
def _opened(path: Path):
    """Yield an open ``oiio.ImageInput`` for ``path`` or raise ImageReadError."""
    if not path.exists():
        raise ImageReadError(f"no such file: {path}")
    if path.is_dir():
        raise ImageReadError(f"is a folder, not an image: {path}")
    tmpdir = None
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        first_error = _err_text()
        ext = _sniff_file(path)
        if ext is not None and path.suffix.lower() != ext:
            # OpenImageIO picks readers by extension; give it one so its error names the problem
            tmpdir = tempfile.mkdtemp(prefix="lookgrid-read-")
            link = Path(tmpdir) / ("frame" + ext)
            try:
                os.symlink(path.resolve(), link)
            except OSError:
                shutil.copyfile(path, link)
            inp = oiio.ImageInput.open(str(link))
            if inp is None:
                first_error = _err_text()
        if inp is None:
            if tmpdir:
                shutil.rmtree(tmpdir, ignore_errors=True)
            raise ImageReadError(f"cannot open {path}: {first_error or 'unknown format'}")
    try:
        yield inp
    finally:
        with contextlib.suppress(Exception):
            inp.close()
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _window(spec, which: str) -> Window:
    if which == "data":
        return (spec.x, spec.y, spec.width, spec.height)
    return (spec.full_x, spec.full_y, spec.full_width, spec.full_height)


def _union(a: Window, b: Window) -> Window:
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def _paste(dst: np.ndarray, dst_win: Window, src: np.ndarray, src_win: Window) -> None:
    """Copy the overlap of ``src`` (covering src_win) into ``dst`` (covering dst_win)."""
    x0, y0 = max(dst_win[0], src_win[0]), max(dst_win[1], src_win[1])
    x1 = min(dst_win[0] + dst_win[2], src_win[0] + src_win[2])
    y1 = min(dst_win[1] + dst_win[3], src_win[1] + src_win[3])
    if x1 <= x0 or y1 <= y0:
        return
    dst[y0 - dst_win[1] : y1 - dst_win[1], x0 - dst_win[0] : x1 - dst_win[0]] = src[
        y0 - src_win[1] : y1 - src_win[1], x0 - src_win[0] : x1 - src_win[0]
    ]


def _part_names(inp) -> list[str | None]:
    names = []
    i = 0
    while inp.seek_subimage(i, 0):
        s = inp.spec()
        names.append(s.getattribute("name") or s.getattribute("oiio:subimagename") or None)
        i += 1
        if i > 4096:  # pragma: no cover - hostile header
            break
    if inp.has_error:
        _err_text(inp)  # the failed seek past the last subimage leaves an error: clear it
    return names


def _attributes(spec) -> tuple[tuple[str, str, Any], ...]:
    out = []
    for p in spec.extra_attribs:
        try:
            value = p.value
        except Exception:  # an attribute type the binding cannot convert
            continue
        if isinstance(value, np.ndarray):  # plain, comparable data (e.g. an EXR ID manifest)
            value = tuple(value.reshape(-1).tolist())
        out.append((p.name, str(p.type), value))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
def read_image(
    path: str | os.PathLike,
    *,
    part: int | str | None = None,
    channels: Sequence[str] | None = None,
    window: str = "display",
    isolated: bool = False,
    timeout: float | None = 120.0,
    max_pixels: int | None = None,
    max_side: int | None = None,
    half: bool = False,
) -> Image:
    """Read one frame completely or raise :class:`ImageReadError`.

    Args:
        path: image file (EXR, PNG, JPEG, TIFF, DPX, anything OpenImageIO reads).
        part: multi-part EXR part (or subimage) by index or name; default the first.
        channels: channel names to keep, in this order (default: all, in file order).
        window: "display" (default), "data" or "union" of the two — the window ``pixels`` cover.
        isolated: decode in a child process (see module docstring); ``timeout`` seconds then apply.
        max_pixels: refuse (:class:`ResourceLimitError`, before any pixel is decoded) a file whose
            header announces a data or display window of more pixels (decompression bombs).
        max_side: shrink the picture (area average) so its longer side is at most this many
            pixels (e.g. a reference photo, which is analysed small; in the child process when
            ``isolated``, so only the small copy comes back).
    Returns:
        :class:`Image` with ``pixels`` (H, W, C) float32.
    """
    if window not in ("display", "data", "union"):
        raise InvalidInputError(f"window must be 'display', 'data' or 'union', not {window!r}")
    if isolated:
        return _read_isolated(
            Path(path),
            dict(part=part, channels=channels, window=window, max_pixels=max_pixels, max_side=max_side),
            timeout,
        )
    path = Path(path)
    with _opened(path) as inp:
        names = _part_names(inp)
        if part is None:
            index = 0
        elif isinstance(part, (int, np.integer)) and not isinstance(part, bool):
            index = int(part)
            if not 0 <= index < len(names):
                raise ImageReadError(f"{path} has {len(names)} part(s); no part {index}")
        else:
            if part not in names:
                listed = ", ".join(f"{i}:{n}" for i, n in enumerate(names))
                raise ImageReadError(f"{path} has no part named {part!r} (parts: {listed})")
            index = names.index(part)
        if not inp.seek_subimage(index, 0):
            raise ImageReadError(f"cannot seek to part {index} of {path}: {_err_text(inp)}")
        spec = inp.spec()
        if spec.deep:
            raise ImageReadError(f"{path} is a deep image; deep data is not supported")
        nch = spec.nchannels
        if nch < 1 or spec.width < 1 or spec.height < 1:
            raise ImageReadError(f"{path} has no pixels ({spec.width}x{spec.height}x{nch})")
        if max_pixels is not None:
            full = max(int(spec.full_width) * int(spec.full_height), 0)
            if max(spec.width * spec.height, full) > max_pixels:
                raise ResourceLimitError(
                    f"{path}: {spec.width}x{spec.height} pixels (display window {spec.full_width}x"
                    f"{spec.full_height}) exceed the limit of {max_pixels} pixels"
                )
        if spec.width * spec.height * nch * 4 > MAX_DECODED_BYTES:
            raise ImageReadError(f"{path} is too large to decode ({spec.width}x{spec.height}x{nch} channels)")
        file_names = tuple(spec.channelnames)
        formats = tuple(str(f) for f in spec.channelformats) if len(spec.channelformats) else (str(spec.format),) * nch
        # channels to keep; only the contiguous range that holds them is decoded and converted
        if channels is not None:
            idx = []
            for c in channels:
                if c not in file_names:
                    raise ImageReadError(f"{path} has no channel {c!r} (channels: {', '.join(file_names)})")
                idx.append(file_names.index(c))
            ch0, ch1 = min(idx), max(idx) + 1
        else:
            idx = list(range(nch))
            ch0, ch1 = 0, nch
        keep_half = half and max_side is None and all(formats[i] == "half" for i in range(ch0, ch1))
        # 8/16-bit files are decoded as they are and converted through a table of OpenImageIO's
        # own float values (_int_to_float): the same pixels, without its slower conversion
        kept = {formats[i] for i in range(ch0, ch1)}
        native = next(iter(kept)) if len(kept) == 1 and kept <= set(_INT_TABLE_SIZES) else None
        try:
            px = inp.read_image(index, 0, ch0, ch1, native or ("half" if keep_half else "float"))
        except Exception as err:
            raise ImageReadError(f"cannot read {path}: {err}") from None
        if px is None or inp.has_error:
            raise ImageReadError(f"cannot read {path} completely: {_err_text(inp) or 'read failed'}")
        if native is not None:
            px = _int_to_float(np.asarray(px).reshape(spec.height, spec.width, ch1 - ch0), native)
        dtype = np.float16 if keep_half else np.float32
        px = np.asarray(px, dtype=dtype).reshape(spec.height, spec.width, ch1 - ch0)
        if idx != list(range(ch0, ch1)):
            px = px[..., [i - ch0 for i in idx]]
        data_win = _window(spec, "data")
        disp_win = _window(spec, "display")
        info = SpecInfo(
            path=str(path),
            format_name=inp.format_name(),
            data_window=data_win,
            display_window=disp_win,
            pixels_window=disp_win,
            channel_formats=tuple(formats[i] for i in idx),
            attributes=_attributes(spec),
            tile=(spec.tile_width, spec.tile_height) if spec.tile_width > 0 else None,
            part=index,
            part_name=names[index],
            parts=len(names),
            alpha_channel=idx.index(spec.alpha_channel) if spec.alpha_channel in idx else -1,
        )
        names_out = tuple(file_names[i] for i in idx)

    target = {"display": disp_win, "data": data_win, "union": _union(disp_win, data_win)}[window]
    if target != data_win:
        out = np.zeros((target[3], target[2], px.shape[2]), px.dtype)
        _paste(out, target, px, data_win)
        px = out
    if max_side is not None and max(px.shape[:2]) > max_side:
        px = shrink_to_side(px, max_side)
    return Image(np.ascontiguousarray(px), names_out, replace(info, pixels_window=target))


#: integer pixel formats read as they are and converted by table (:func:`_int_to_float`)
_INT_TABLE_SIZES = {"uint8": 256, "uint16": 65536}


@functools.lru_cache(maxsize=None)
def _int_table(fmt: str) -> np.ndarray:
    """(n,) float32: OpenImageIO's float value of every code of ``fmt`` ("uint8" or "uint16"),
    converted by OpenImageIO itself (so a table lookup gives its pixels bit for bit)."""
    n = _INT_TABLE_SIZES[fmt]
    codes = np.arange(n, dtype=np.uint8 if n == 256 else np.uint16).reshape(1, n, 1)
    buf = oiio.ImageBuf(oiio.ImageSpec(n, 1, 1, fmt))
    if not buf.set_pixels(oiio.ROI(0, n, 0, 1, 0, 1, 0, 1), codes):
        raise ImageReadError(f"cannot build the {fmt} conversion table: {buf.geterror()}")
    table = np.asarray(buf.get_pixels(oiio.FLOAT), np.float32).reshape(n)
    table.setflags(write=False)
    return table


def _int_to_float(codes: np.ndarray, fmt: str) -> np.ndarray:
    """(H, W, C) uint8/uint16 codes → (H, W, C) float32, as OpenImageIO would convert them
    (:func:`_int_table`); over numba's threads when the caller has more than one."""
    src = np.ascontiguousarray(codes).reshape(-1)
    out = np.empty(src.shape[0], np.float32)
    table = _int_table(fmt)
    if src.shape[0] < (1 << 18):  # a small picture: not worth waking the threads
        kernels.lut_kernel(src, table, out)
    else:
        serial_or_locked(kernels.lut_kernel, kernels.lut_kernel_parallel, src, table, out)
    return out.reshape(codes.shape)


def shrink_to_side(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """(H, W, C) float32 → area-averaged copy whose longer side is ``max_side`` (aspect kept)."""
    h, w = pixels.shape[:2]
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    big = float(np.finfo(np.float16).max)  # the NaN/Inf policy of lookgrid.imaging.color
    out = cv2.resize(np.nan_to_num(pixels, nan=0.0, posinf=big, neginf=-big), size, interpolation=cv2.INTER_AREA)
    return out.reshape(size[1], size[0], pixels.shape[2]).astype(np.float32, copy=False)


def read_header(path: str | os.PathLike) -> tuple[int, int, int]:
    """``(width, height, channels)`` of the display window of a file's first part, reading only its
    header; :class:`ImageReadError` when the file cannot be opened (e.g. to check that a frame
    written earlier is still a readable image without decoding it)."""
    with _opened(Path(path)) as inp:
        spec = inp.spec()
        if inp.has_error:
            raise ImageReadError(f"cannot read the header of {path}: {_err_text(inp)}")
        return int(spec.full_width), int(spec.full_height), int(spec.nchannels)


def io_threads() -> tuple[int, int]:
    """OpenImageIO's thread settings now: ``(threads, exr_threads)`` (process-wide; 0 means
    "as many as the machine has")."""
    return int(oiio.get_int_attribute("threads")), int(oiio.get_int_attribute("exr_threads"))


def set_io_threads(threads: int, exr_threads: int | None = None) -> tuple[int, int]:
    """Set OpenImageIO's thread pool (``threads``: format conversion, parallel decode) and
    OpenEXR's (``exr_threads``: (de)compression of EXR chunks; default the same as ``threads``).
    Both are process-wide: every read and write in the process uses them (OpenImageIO's Python
    binding has no per-file thread count). Returns the previous ``(threads, exr_threads)``, for
    restoring. ``threads`` >= 0 (0: all cores); ``exr_threads`` >= -1 (-1: on the calling thread)."""
    exr = threads if exr_threads is None else exr_threads
    if int(threads) < 0 or int(exr) < -1:
        raise InvalidInputError(f"OpenImageIO threads must be >= 0 (exr_threads >= -1), got {threads}, {exr}")
    old = io_threads()
    oiio.attribute("threads", int(threads))
    oiio.attribute("exr_threads", int(exr))
    return old


def _read_isolated(path: Path, kwargs: dict, timeout: float | None) -> Image:
    """Run :func:`read_image` in ``python -m lookgrid.imaging._isolated_read`` and unpickle the
    result (a plain subprocess, so the caller's ``__main__`` is never re-imported)."""
    request = pickle.dumps((str(path), kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    # its own process group, so a timeout kills whatever the child started as well
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookgrid.imaging._isolated_read"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(request, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ImageReadError(f"reading {path} timed out after {timeout} s") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        raise ImageReadError(f"the decoder crashed ({name}) reading {path}")
    try:
        status, value = pickle.loads(stdout)
    except Exception:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise ImageReadError(f"the reader process for {path} failed ({proc.returncode}): {tail[0]}") from None
    if status == "limit":
        raise ResourceLimitError(value)
    if status == "error":
        raise ImageReadError(value)
    return value


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def _set_attribute(spec, name: str, value: Any) -> None:
    """Set an attribute from a Python value: str, int, float, or a sequence of ints/floats."""
    if isinstance(value, (bool, np.bool_)):
        value = int(value)
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        if isinstance(value, np.integer):
            value = int(value)
        elif isinstance(value, np.floating):
            value = float(value)
        spec.attribute(name, value)
        return
    try:
        arr = np.asarray(value)
    except Exception:
        arr = None
    if arr is None or arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iuf":
        raise InvalidInputError(
            f"attribute {name!r}: cannot store a value of type "
            f"{type(value).__name__} (use str, int, float or a list of numbers)"
        )
    if arr.dtype.kind == "f":
        spec.attribute(name, oiio.TypeDesc(f"float[{arr.size}]"), tuple(float(v) for v in arr))
    else:
        spec.attribute(name, oiio.TypeDesc(f"int[{arr.size}]"), tuple(int(v) for v in arr))


def _default_channel_names(n: int) -> tuple[str, ...]:
    return {1: ("Y",), 2: ("Y", "A"), 3: ("R", "G", "B"), 4: ("R", "G", "B", "A")}.get(
        n, ("R", "G", "B", "A") + tuple(f"channel{i}" for i in range(4, n))
    )


def write_image(
    path: str | os.PathLike,
    pixels: np.ndarray,
    *,
    channel_names: Sequence[str] | None = None,
    like: Image | None = None,
    dtype: str | None = None,
    attributes: dict[str, Any] | None = None,
    colorspace: str | None = None,
) -> Path:
    """Write one frame atomically; the format follows the extension.

    Args:
        path: output file (.exr, .png, .jpg, .tif, .dpx, ...).
        pixels: (H, W, C) or (H, W) array; float values are written as they are (integer file
            formats clamp to [0, 1] and quantise); uint8/uint16 arrays are read as 0..max → 0..1.
            float16 pixels go to OpenImageIO as float16 (a half-float file takes them without
            converting: the same file as from their float32 values, written faster); any other
            float type as float32.
        channel_names: default ``like``'s names if the channel count matches, else R,G,B[,A] / Y.
        like: an :class:`Image` that was read; when ``pixels`` have its shape and the output is
            an EXR, its data/display windows are reproduced (pixels placed at ``like.spec_info.pixels_window``; data-window
            pixels the array does not cover are written as 0), and its per-channel formats, tiling
            and attributes (compression, pixel aspect, chromaticities, custom ones) are carried.
        dtype: "half", "float", "uint8", "uint16" or None (``like``'s formats for a float output
            format, else the extension's default: EXR half, PNG/JPEG 8-bit, TIFF/DPX 16-bit).
        attributes: extra attributes to set (override ``like``'s).
        colorspace: sets ``oiio:ColorSpace`` (the colour space the pixels are in).
    Returns:
        The path written.
    """
    path = Path(path)
    arr = np.asarray(pixels)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ShapeMismatchError(f"write_image needs (H, W, C) pixels, got shape {arr.shape}")
    if arr.dtype in (np.uint8, np.uint16):  # integer pixels: full scale is 1.0
        arr = arr.astype(np.float32) / np.float32(np.iinfo(arr.dtype).max)
    # float16 pixels are handed over as they are (a half-float file then needs no conversion)
    arr = np.ascontiguousarray(arr, dtype=np.float16 if arr.dtype == np.float16 else np.float32)
    h, w, nch = arr.shape
    ext = path.suffix.lower()
    if dtype is not None and dtype not in _DTYPES:
        raise InvalidInputError(f"dtype must be one of {sorted(_DTYPES)}, not {dtype!r}")
    info = like.spec_info if like is not None else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ImageWriteError(f"cannot write {path}: {err}") from None
    out = oiio.ImageOutput.create(str(path))
    if out is None:
        raise ImageWriteError(f"cannot write {path}: {_err_text() or 'no writer for this format'}")
    # "the same format" by OpenImageIO's format name, so a like read from an odd name still counts
    same_format = info is not None and info.format_name == out.format_name()
    names = tuple(channel_names) if channel_names is not None else None
    if names is None:
        names = (
            tuple(like.channel_names)
            if like is not None and len(like.channel_names) == nch
            else _default_channel_names(nch)
        )
    if len(names) != nch:
        raise ShapeMismatchError(f"{len(names)} channel names for {nch} channels")

    # pixel formats
    formats: list[Any]
    if dtype is not None:
        formats = [_DTYPES[dtype]] * nch
    elif info is not None and same_format and ext in _FLOAT_FORMATS and len(info.channel_formats) == nch:
        formats = [oiio.TypeDesc(f) for f in info.channel_formats]
    elif info is not None and ext in _FLOAT_FORMATS and info.is_float:
        formats = [oiio.HALF if ext == ".exr" else oiio.FLOAT] * nch
    else:
        formats = [_DTYPES[_EXT_DEFAULT_DTYPE.get(ext, "uint8")]] * nch
    mixed = len({str(f) for f in formats}) > 1

    # windows (only EXR keeps data/display windows; other formats get the pixels as they are)
    same_shape = info is not None and (info.pixels_window[3], info.pixels_window[2]) == (h, w)
    if info is not None and same_shape and ext == ".exr":
        data_win, disp_win = info.data_window, info.display_window
        if info.pixels_window != data_win:
            buf = np.zeros((data_win[3], data_win[2], nch), arr.dtype)
            _paste(buf, data_win, arr, info.pixels_window)
            arr = buf
    else:
        data_win = disp_win = (0, 0, w, h)

    spec = oiio.ImageSpec(data_win[2], data_win[3], nch, formats[0])
    if mixed:
        spec.channelformats = tuple(formats)
    spec.channelnames = names
    spec.x, spec.y = data_win[0], data_win[1]
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = disp_win
    if "A" in names:
        spec.alpha_channel = names.index("A")
    if info is not None:
        for name, typ, value in info.attributes:
            if name in _SKIP_ATTRIBUTES:
                continue
            if not same_format and name.lower() in ("compression", "quality"):
                continue
            if name.startswith(("openexr:", "tiff:", "png:", "jpeg:", "dpx:")) and not same_format:
                continue
            if isinstance(value, tuple) and typ.startswith(("uint8", "int8", "uint16", "int16")):
                value = np.asarray(value, dtype=typ.split("[")[0])  # the binding wants arrays
            with contextlib.suppress(Exception):
                spec.attribute(name, oiio.TypeDesc(typ), value)
        if info.tile and same_format and ext == ".exr":
            spec.tile_width, spec.tile_height = info.tile
    if colorspace:
        spec.attribute("oiio:ColorSpace", colorspace)
    for name, value in (attributes or {}).items():
        _set_attribute(spec, name, value)

    try:
        with atomic_write(path) as tmp:
            if not out.open(tmp, spec):
                raise ImageWriteError(f"cannot write {path}: {_err_text(out)}")
            ok = out.write_image(arr)
            problem = _err_text(out) if not ok or out.has_error else ""
            closed = out.close()
            if not ok or problem or not closed:
                raise ImageWriteError(f"cannot write {path}: {problem or _err_text(out) or 'write failed'}")
    except ImageWriteError:
        raise
    except OSError as err:  # the folder cannot take the temporary, or the rename failed
        raise ImageWriteError(f"cannot write {path}: {err}") from None
    return path

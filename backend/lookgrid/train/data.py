"""Training data: real clips, clips without masks, and still photos turned into short clips.

Every training example is a *sequence of T consecutive frames* 0..T-1 (``DataConfig.frames``, 2 =
a pair) with N=2 regions (an object and the background, in that order — the engine's convention:
the background mask is the last one and is ``clip(1 - union, 0, 1)``), together with:

* a random photoreal grading per region applied region-wise to every frame (the supervised target);
* each region's reference: the same grading applied to another image — another frame of the same
  clip, another crop of the same photo, or an unrelated photo;
* for each consecutive pair (t-1, t) the backward flow t -> t-1 and the visibility of frame t's
  pixels in frame t-1: exact for stills (we make the motion), OpenCV DIS with a forward–backward
  check for real clips.

Sources (any folder works):

* ``ClipSource``: ``<clip>/frames/*.jpg|png`` and ``<clip>/masks/*.png`` (one object mask per frame,
  the DAVIS layout); frames ``t0, t0+gap, ...`` (gap 1 or 2). A clip without ``masks/`` gets a random
  smooth blob on frame 0 carried along the chain of flows. Clips shorter than T frames are skipped.
* ``PhotoSource``: a folder (searched recursively) of photographs; each becomes a T-frame clip by a
  smooth random flow (pan, zoom, small rotation, local motion) of the background and a different
  motion of a random blob-shaped foreground region, at constant velocity with a little jitter per
  step, with exact flow and occlusion (each frame is sampled once from the photo along its composed
  flow, see :meth:`TrainingData._photo_example`).

With ``frames = 2`` the random stream is the one of the two-frame data (same draws in the same
order), so recipes written before sequences existed reproduce their runs.

Images are read as 8-bit sRGB ("sRGB - Texture"); the gradings, crops and warps happen in that
display space (where "photoreal grading" has its usual meaning) and the finished content, target and
references are converted to the model's working space (``lookgrid.imaging.WORKING_SPACE``, ACEScct)
by :func:`srgb_to_working`, the same conversion reference photos get at inference.
Everything random comes from one ``numpy.random.Generator`` so a seed makes the stream repeatable.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from lookgrid.errors import ImageReadError, InvalidInputError
from lookgrid.imaging.color import get_pipeline
from lookgrid.imaging.io import read_image
from lookgrid.model.colormath import LUMA_WEIGHTS, apply_weights, srgb_encode
from lookgrid.model.grid import check_shape
from lookgrid.train.flow import dis_flow, flow_visibility, random_smooth_flow, warp
from lookgrid.train.grading import Grading, apply_grading, apply_region_gradings, sample_grading

log = logging.getLogger("lookgrid.train")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".exr")
#: an EXR still is scaled so this luminance quantile lands on display white before it is clipped
EXR_WHITE_QUANTILE = 0.99
#: the foreground blob's motion per step in photo sequences (the background: random_smooth_flow's defaults)
PHOTO_FG_MOTION: dict[str, Any] = {"max_shift": 10.0, "max_zoom": 0.05, "max_rotation_deg": 4.0, "local_amplitude": 1.0}
#: photo sequences move at constant velocity: each step after the first adds this small random flow
PHOTO_JITTER: dict[str, Any] = {"max_shift": 1.5, "max_zoom": 0.005, "max_rotation_deg": 0.5, "local_amplitude": 0.5}


def check_frames(frames) -> int:
    """``frames`` (the sequence length T of a training example) if it is an int >= 2, else
    :class:`InvalidInputError`."""
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
        raise InvalidInputError(f"data.frames must be an integer >= 2 (frames per training sequence), got {frames!r}")
    return frames


# ------------------------------------------------------------------------------------------------
# loading
def exr_to_rgb8(linear: np.ndarray) -> np.ndarray:
    """A scene-linear Rec.709 still ``(H,W,C>=1)`` float -> display sRGB ``(H,W,3)`` uint8: first
    three channels (grey expanded), NaN/Inf to 0, exposure set so the ``EXR_WHITE_QUANTILE``
    luminance is white, clipped to [0, 1], sRGB-encoded (:func:`lookgrid.model.colormath.srgb_encode`)."""
    x = np.nan_to_num(np.asarray(linear, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    x = np.repeat(x[..., :1], 3, axis=2) if x.shape[2] < 3 else x[..., :3]
    white = float(np.quantile(apply_weights(np.clip(x, 0.0, None), LUMA_WEIGHTS), EXR_WHITE_QUANTILE))
    x = np.clip(x / max(white, 1e-6), 0.0, 1.0)
    return np.round(srgb_encode(x) * 255.0).astype(np.uint8)


def load_rgb8(path: str | Path) -> np.ndarray:
    """Read an 8-bit RGB photo as ``(H,W,3)`` uint8 (grayscale is expanded, alpha dropped); an
    ``.exr`` still (scene-linear Rec.709, e.g. the OpenEXR sample photographs) through
    :func:`lookgrid.imaging.io.read_image` and :func:`exr_to_rgb8`."""
    if Path(path).suffix.lower() == ".exr":
        try:
            return exr_to_rgb8(read_image(path).pixels)
        except ImageReadError as err:
            raise InvalidInputError(f"cannot read training image {path}: {err}") from None
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InvalidInputError(f"cannot read training image {path}")
    return np.ascontiguousarray(img[..., ::-1])


def load_mask8(path: str | Path) -> np.ndarray:
    """Read a mask as ``(H,W)`` uint8 (any channel layout; >127 is inside)."""

    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise InvalidInputError(f"cannot read training mask {path}")
    return m


def srgb_to_working(t: torch.Tensor) -> torch.Tensor:
    """Display sRGB ``(..., 3, H, W)`` in [0,1] -> working space, same shape (via lookgrid.imaging)."""

    pipe = get_pipeline(None, "sRGB - Texture")
    arr = t.detach().movedim(-3, -1).contiguous().numpy()
    return torch.from_numpy(np.ascontiguousarray(pipe.to_working(arr))).movedim(-1, -3).contiguous()


def _resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    interp = cv2.INTER_AREA if height < img.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(img, (width, height), interpolation=interp)


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


@dataclass
class TrainingClip:
    """Frames ``list[(H,W,3) uint8]`` and masks ``list[(H,W) uint8] | None`` of one training clip
    (not the engine's :class:`lookgrid.engine.clip.Clip`)."""

    name: str
    frames: list[np.ndarray]
    masks: list[np.ndarray] | None


def load_clip(folder: Path, max_side: int = 640) -> TrainingClip:
    """Load ``folder/frames`` (or images directly in ``folder``) and ``folder/masks`` if present,
    downscaled so the longer side is at most ``max_side``."""
    frames_dir = folder / "frames" if (folder / "frames").is_dir() else folder
    paths = _list_images(frames_dir)
    if len(paths) < 2:
        raise InvalidInputError(f"clip {folder} has fewer than 2 frames")
    mask_dir = folder / "masks"
    mask_paths = _list_images(mask_dir) if mask_dir.is_dir() else None
    if mask_paths is not None and len(mask_paths) != len(paths):
        raise InvalidInputError(f"clip {folder}: {len(paths)} frames but {len(mask_paths)} masks")
    frames: list[np.ndarray] = []
    masks: list[np.ndarray] | None = [] if mask_paths else None
    for i, p in enumerate(paths):
        f = load_rgb8(p)
        h, w = f.shape[:2]
        s = min(1.0, max_side / max(h, w))
        nh, nw = round(h * s), round(w * s)
        frames.append(_resize(f, nh, nw) if s < 1 else f)
        if masks is not None and mask_paths is not None:
            m = load_mask8(mask_paths[i])
            masks.append(_resize(m, nh, nw) if m.shape != (nh, nw) else m)
    return TrainingClip(folder.name, frames, masks)


def find_clips(root: Path) -> list[Path]:
    """Folders under ``root`` (or ``root`` itself) that hold a clip (``frames/`` or >= 2 images)."""
    root = Path(root)
    cands = [root] + sorted(p for p in root.rglob("*") if p.is_dir())
    out = []
    for d in cands:
        if d.name in ("frames", "masks"):
            continue
        if (d / "frames").is_dir() or len(_list_images(d)) >= 2 and d.name not in ("masks",):
            out.append(d)
    return out


def find_photos(root: Path) -> list[Path]:
    """Every image file below ``root`` (recursively), excluding segmentation / mask folders."""
    skip = ("segment", "mask")
    return sorted(
        p
        for p in Path(root).rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and not any(s in part.lower() for part in p.parts for s in skip)
    )


# ------------------------------------------------------------------------------------------------
# random pieces
def random_blob_mask(
    rng: np.random.Generator, height: int, width: int, area: tuple[float, float] = (0.2, 0.55)
) -> np.ndarray:
    """A smooth random blob ``(H,W)`` float32 in [0,1] covering a random share ``area`` of the frame."""
    cells = int(rng.integers(3, 7))
    coarse = torch.from_numpy(rng.normal(0, 1, (1, 1, cells, cells)).astype(np.float32))
    field = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)[0, 0]
    cy, cx = rng.uniform(0.3, 0.7, 2)
    ys = torch.linspace(0, 1, height)[:, None]
    xs = torch.linspace(0, 1, width)[None, :]
    field = field - 2.5 * ((ys - cy) ** 2 + (xs - cx) ** 2)
    share = rng.uniform(*area)
    thresh = torch.quantile(field.flatten(), 1 - share)
    soft = torch.sigmoid((field - thresh) * 40.0)
    return soft.numpy().astype(np.float32)


def random_crop_box(rng: np.random.Generator, h: int, w: int, size: int) -> tuple[int, int]:
    return int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    """``(H,W,3) uint8|float`` -> ``(3,H,W)`` float32 in [0,1]."""
    t = torch.from_numpy(np.ascontiguousarray(img))
    if t.dtype == torch.uint8:
        t = t.float() / 255.0
    return t.permute(2, 0, 1).contiguous().float()


def colour_jitter(rng: np.random.Generator, strength: float = 1.0) -> Grading:
    """A mild colour jitter of the content (a weak grading: exposure, contrast, saturation, cast)."""
    return sample_grading(rng, strength=0.25 * strength)


# ------------------------------------------------------------------------------------------------
@dataclass
class Batch:
    """One training batch (B examples of T frames, N regions, crop size S).

    ``content (B,T,3,S,S)`` frames 0..T-1; ``masks (B,T,N,S,S)`` partitions of unity (object(s),
    background last); ``target (B,T,3,S,S)``; ``references (B,N,3,S,S)``; ``flow (B,T-1,2,S,S)``:
    entry t-1 is the backward flow from frame t to frame t-1 (:mod:`lookgrid.train.flow`);
    ``visibility (B,T-1,1,S,S)`` of frame t's pixels in frame t-1; ``supervised (B,)`` 1 where
    ``target`` is a valid target.
    """

    content: torch.Tensor
    masks: torch.Tensor
    target: torch.Tensor
    references: torch.Tensor
    flow: torch.Tensor
    visibility: torch.Tensor
    supervised: torch.Tensor
    kinds: list[str] = field(default_factory=list)


@dataclass
class DataConfig:
    clips: list[str] = field(default_factory=list)  # folders of clips
    photos: list[str] = field(default_factory=list)  # folders of photos (content + references)
    references: list[str] = field(default_factory=list)  # folders of real reference photos (unpaired)
    holdout: list[str] = field(default_factory=list)  # clip or photo names kept out of training
    # clip or photo names (file name or stem) never used at all, neither in training nor held out:
    # e.g. a file inside a listed folder whose licence does not fit ``licence``
    exclude: list[str] = field(default_factory=list)
    crop: int = 256
    frames: int = 2  # T, frames per training sequence (2: pairs); see check_frames
    clip_weight: float = 0.45
    photo_weight: float = 0.55
    same_source_reference: float = 0.5  # reference from another frame / crop of the same source
    unpaired: float = 0.1  # share of examples with a real, ungraded reference photo and no target
    grading_strength: tuple[float, float] = (0.5, 1.25)
    jitter: float = 1.0
    max_side: int = 640
    # licence class of the sources above (lookgrid.model.licence.DATA_LICENCES), written into the
    # checkpoint's meta: the person who lists the sources declares it
    licence: str = "unknown"


class TrainingData:
    """Builds :class:`Batch` es from clip and photo folders; deterministic for a given generator."""

    def __init__(self, cfg: DataConfig, *, holdout_only: bool = False):
        self.cfg = cfg
        check_frames(cfg.frames)
        hold, excluded = set(cfg.holdout), set(cfg.exclude)

        def keep(*names: str) -> bool:
            return not any(n in excluded for n in names) and any(n in hold for n in names) == holdout_only

        self.clips: list[TrainingClip] = []
        for root in cfg.clips:
            for d in find_clips(Path(root)):
                if keep(d.name):
                    self.clips.append(load_clip(d, cfg.max_side))
        self.photos: list[np.ndarray] = []
        for root in cfg.photos:
            for p in find_photos(Path(root)):
                if keep(p.name, p.stem):
                    self.photos.append(self._fit_photo(load_rgb8(p)))
        self.references: list[np.ndarray] = []
        for root in cfg.references:
            for p in find_photos(Path(root)):
                if keep(p.name, p.stem):
                    self.references.append(self._fit_photo(load_rgb8(p)))
        # only clips long enough for a T-frame sequence (every clip has >= 2 frames)
        short = [c.name for c in self.clips if len(c.frames) < cfg.frames]
        if short:
            log.warning("clips shorter than data.frames = %d are skipped: %s", cfg.frames, ", ".join(short))
            self.clips = [c for c in self.clips if len(c.frames) >= cfg.frames]
        if not self.clips and not self.photos:
            raise InvalidInputError(
                "no training data: no clips found in "
                + ", ".join(cfg.clips or ["(none)"])
                + " and no photos in "
                + ", ".join(cfg.photos or ["(none)"])
            )

    def _fit_photo(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        s = min(1.0, self.cfg.max_side / max(h, w))
        if min(h, w) * s < self.cfg.crop:
            s = self.cfg.crop / min(h, w)
        return _resize(img, math.ceil(h * s), math.ceil(w * s)) if s != 1.0 else img

    # -- crops --------------------------------------------------------------------------------
    def _scale_for(self, rng: np.random.Generator, h: int, w: int) -> tuple[int, int]:
        s = self.cfg.crop / min(h, w) * rng.uniform(1.0, 1.6)
        return max(self.cfg.crop, round(h * s)), max(self.cfg.crop, round(w * s))

    def _random_view(self, rng: np.random.Generator, img: np.ndarray) -> torch.Tensor:
        """A random scaled crop ``(3,S,S)`` of a photo or frame."""
        nh, nw = self._scale_for(rng, *img.shape[:2])
        r = _resize(img, nh, nw)
        y, x = random_crop_box(rng, nh, nw, self.cfg.crop)
        t = _to_tensor(r[y : y + self.cfg.crop, x : x + self.cfg.crop])
        return t.flip(-1) if rng.random() < 0.5 else t

    def _any_image(self, rng: np.random.Generator) -> np.ndarray:
        n_c = sum(len(c.frames) for c in self.clips)
        if self.photos and (not self.clips or rng.random() < 0.6):
            return self.photos[int(rng.integers(len(self.photos)))]
        c = self.clips[int(rng.integers(len(self.clips)))]
        return c.frames[int(rng.integers(len(c.frames)))] if n_c else self.photos[0]

    # -- examples -----------------------------------------------------------------------------
    def _clip_example(self, rng: np.random.Generator):
        """T = ``cfg.frames`` frames ``t0, t0+gap, ...`` of a random clip: frames ``(T,3,S,S)``,
        object masks ``(T,S,S)``, DIS flows ``(T-1,2,S,S)`` (entry t-1: frame t -> t-1) with their
        forward–backward visibility ``(T-1,1,S,S)``, the reference's other image and the kind."""
        clip = self.clips[int(rng.integers(len(self.clips)))]
        n, steps = len(clip.frames), self.cfg.frames - 1
        gap = int(rng.integers(1, 3)) if n > 2 * steps else 1
        last = int(rng.integers(gap * steps, n))
        h, w = clip.frames[last].shape[:2]
        nh, nw = self._scale_for(rng, h, w)
        y, x = random_crop_box(rng, nh, nw, self.cfg.crop)
        flip = rng.random() < 0.5
        S = self.cfg.crop

        def crop(a: np.ndarray) -> np.ndarray:
            c = _resize(a, nh, nw)[y : y + S, x : x + S]
            return np.ascontiguousarray(c[:, ::-1]) if flip else c

        idx = [last - gap * (steps - j) for j in range(steps + 1)]
        frames = [crop(clip.frames[i]) for i in idx]
        flows, vis = [], []
        for prev, cur in zip(frames[:-1], frames[1:]):
            fprev = prev.astype(np.float32) / 255.0
            fcur = cur.astype(np.float32) / 255.0
            fwd = dis_flow(fcur, fprev)
            flows.append(torch.from_numpy(fwd))
            vis.append(torch.from_numpy(flow_visibility(fwd, dis_flow(fprev, fcur)))[None])
        if clip.masks is not None:
            masks = [torch.from_numpy(crop(clip.masks[i]).astype(np.float32) / 255.0) for i in idx]
        else:  # a random blob carried along the chain of flows
            masks = [torch.from_numpy(random_blob_mask(rng, S, S))]
            for f in flows:
                masks.append(warp(masks[-1][None, None], f[None])[0][0, 0])
        # the reference's "other image": a distant frame of the same clip
        far = int(rng.integers(n))
        return (
            torch.stack([_to_tensor(f) for f in frames]),
            torch.stack(masks),
            torch.stack(flows),
            torch.stack(vis),
            clip.frames[far],
            "clip" if clip.masks is not None else "clip-blob",
        )

    def _photo_example(self, rng: np.random.Generator):
        """A photo turned into a T-frame clip (module doc): frames ``(T,3,S,S)``, object masks
        ``(T,S,S)``, exact flows ``(T-1,2,S,S)`` (entry t-1: frame t -> t-1), visibility
        ``(T-1,1,S,S)``, the photo and the kind.

        Motion: constant velocity with a little jitter. The background and the foreground blob each
        get one random smooth flow (pair 1, the draws of a two-frame example); every later step
        repeats it plus a small random smooth flow (:data:`PHOTO_JITTER`). Each layer keeps its
        composed flow from frame t to frame 0, ``C_t(x) = f_t(x) + C_{t-1}(x + f_t(x))``, and frame t
        samples the photo view once at ``x + C_t(x)`` (no blur accumulates along the sequence)."""
        photo = self.photos[int(rng.integers(len(self.photos)))]
        S = self.cfg.crop
        img = self._random_view(rng, photo)[None]  # (1,3,S,S) = frame 0
        m0 = torch.from_numpy(random_blob_mask(rng, S, S))[None, None]
        f_bg = torch.from_numpy(random_smooth_flow(rng, S, S))[None]
        f_fg = torch.from_numpy(random_smooth_flow(rng, S, S, **PHOTO_FG_MOTION))[None]
        steps = [(f_bg, f_fg)]
        for _ in range(self.cfg.frames - 2):
            j_bg = torch.from_numpy(random_smooth_flow(rng, S, S, **PHOTO_JITTER))[None]
            j_fg = torch.from_numpy(random_smooth_flow(rng, S, S, **PHOTO_JITTER))[None]
            steps.append((f_bg + j_bg, f_fg + j_fg))
        frames, masks, flows, vis = [img[0]], [m0[0, 0]], [], []
        c_bg = c_fg = torch.zeros_like(f_bg)  # composed flows frame t -> frame 0
        m_prev = m0
        for f_bg, f_fg in steps:
            back_bg, in_bg = warp(c_bg, f_bg)
            back_fg, in_fg = warp(c_fg, f_fg)
            c_bg, c_fg = f_bg + back_bg, f_fg + back_fg
            m_cur, _ = warp(m0, c_fg)
            bg, _ = warp(img, c_bg)
            fg, _ = warp(img, c_fg)
            cur = m_cur * fg + (1 - m_cur) * bg
            flow = m_cur * f_fg + (1 - m_cur) * f_bg
            # a pixel of frame t is visible in t-1 if its source is in the frame and belongs to the
            # same region there (otherwise it was covered / uncovered by the moving object)
            m_src, _ = warp(m_prev, flow)
            inside = m_cur * in_fg + (1 - m_cur) * in_bg
            frames.append(cur[0])
            masks.append(m_cur[0, 0])
            flows.append(flow[0])
            vis.append(((inside > 0.5) & ((m_src - m_cur).abs() < 0.5)).float()[0])
            m_prev = m_cur
        return (torch.stack(frames), torch.stack(masks), torch.stack(flows), torch.stack(vis), photo, "photo")

    def example(self, rng: np.random.Generator) -> dict:
        """One example as a dict of tensors (see :class:`Batch` for shapes, without the batch axis)."""
        cfg = self.cfg
        use_clip = self.clips and (
            not self.photos or rng.random() < cfg.clip_weight / (cfg.clip_weight + cfg.photo_weight)
        )
        content, obj, flow, vis, source, kind = self._clip_example(rng) if use_clip else self._photo_example(rng)
        if cfg.jitter > 0:  # content (T,3,S,S)
            content = apply_grading(content, colour_jitter(rng, cfg.jitter))
        obj = obj.clamp(0, 1)  # (T,S,S)
        masks = torch.stack((obj, 1 - obj), dim=1)  # (T,N=2,S,S)
        n = masks.shape[1]
        lo, hi = cfg.grading_strength
        gradings = [sample_grading(rng, float(rng.uniform(lo, hi))) for _ in range(n)]
        target = apply_region_gradings(content, masks, [gradings] * content.shape[0])
        refs = []
        supervised = 1.0
        if self.references and rng.random() < cfg.unpaired:
            supervised = 0.0
            for _ in range(n):
                refs.append(self._random_view(rng, self.references[int(rng.integers(len(self.references)))]))
        else:
            for k in range(n):
                other = source if rng.random() < cfg.same_source_reference else self._any_image(rng)
                view = self._random_view(rng, other)
                refs.append(apply_grading(view[None], gradings[k])[0])
        return {
            "content": srgb_to_working(content),
            "masks": masks,
            "target": srgb_to_working(target),
            "references": srgb_to_working(torch.stack(refs)),
            "flow": flow,
            "visibility": vis,
            "supervised": torch.tensor(supervised),
            "kind": kind,
        }

    def mask_batch(self, rng: np.random.Generator, size: int) -> torch.Tensor:
        """Clean object masks ``(size, 1, S, S)`` for pre-training the mask enhancement: random
        crops of the clips' masks (scaled, flipped) and random blobs."""
        S = self.cfg.crop
        masked = [c for c in self.clips if c.masks is not None]
        out = []
        for _ in range(size):
            if masked and rng.random() < 0.7:
                c = masked[int(rng.integers(len(masked)))]
                clip_masks = c.masks
                assert clip_masks is not None  # one of the masked clips
                m = clip_masks[int(rng.integers(len(clip_masks)))]
                nh, nw = self._scale_for(rng, *m.shape)
                y, x = random_crop_box(rng, nh, nw, S)
                t = torch.from_numpy(_resize(m, nh, nw)[y : y + S, x : x + S].astype(np.float32) / 255.0)
                t = t.flip(-1) if rng.random() < 0.5 else t
            else:
                t = torch.from_numpy(random_blob_mask(rng, S, S))
            out.append(t)
        return torch.stack(out)[:, None]

    def batch(self, rng: np.random.Generator, size: int) -> Batch:
        """``size`` examples stacked into a :class:`Batch`."""
        ex = [self.example(rng) for _ in range(size)]

        def st(key: str) -> torch.Tensor:
            return torch.stack([e[key] for e in ex])

        return Batch(
            content=st("content"),
            masks=st("masks"),
            target=st("target"),
            references=st("references"),
            flow=st("flow"),
            visibility=st("visibility"),
            supervised=st("supervised"),
            kinds=[e["kind"] for e in ex],
        )


# ------------------------------------------------------------------------------------------------
# masks degraded for pre-training the mask enhancement
def degrade_masks(masks: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Randomly erode or dilate, blur, and punch holes / add specks into ``masks (B,1,H,W)`` in [0,1].

    Returns ``(B,1,H,W)`` in [0,1]: what a rough roto or a segmentation network gives.
    """
    check_shape("masks", masks, "(B,1,H,W)")
    b, _, h, w = masks.shape
    out = []
    for i in range(b):
        m = masks[i : i + 1]
        r = int(torch.randint(0, 5, (1,), generator=generator))
        if r > 0:
            k = 2 * r + 1
            if torch.rand((), generator=generator) < 0.5:
                m = F.max_pool2d(m, k, stride=1, padding=r)  # dilate
            else:
                m = -F.max_pool2d(-m, k, stride=1, padding=r)  # erode
        if torch.rand((), generator=generator) < 0.7:
            k = int(torch.randint(1, 4, (1,), generator=generator)) * 2 + 1
            m = F.avg_pool2d(m, k, stride=1, padding=k // 2, count_include_pad=False)
        # holes and specks: low-res random field thresholded
        cells = int(torch.randint(8, 24, (1,), generator=generator))
        noise = torch.rand((1, 1, cells, cells), generator=generator)
        noise = F.interpolate(noise, size=(h, w), mode="bilinear", align_corners=False)
        share = float(torch.rand((), generator=generator)) * 0.08
        holes = (noise < share).float()
        specks = (noise > 1 - share * 0.5).float()
        m = m * (1 - holes) + (1 - m) * specks * (torch.rand((), generator=generator) < 0.5)
        out.append(m.clamp(0, 1))
    return torch.cat(out)

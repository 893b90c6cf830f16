"""Reports of an evaluation: the printed table, the JSON file, contact sheets and warping plots.

Files are written atomically (a temporary file in the same folder, then ``os.replace``).

* **Table** (:func:`format_table`): one line per clip and row (the untouched input, then each
  method): warping error ×1e3, its ratio to the input's, style distances per region (Lab moments /
  sliced Wasserstein, lower = closer to the region's reference), the low-pass warping ratio
  (``lp rat``), structure term (1 = input structure
  kept), halo measure (1 = none) and ms per frame.
* **Contact sheet** (:func:`contact_sheet`): a header row with the references (one per region,
  labelled), then one row per chosen frame: the input, the input with the regions tinted and
  outlined, and every method's output, each labelled. Images are shown as their display encoding
  (sRGB), clipped.
* **Warping plot** (:func:`warping_plot`): per-frame warping error of the input and every method.
"""

from __future__ import annotations

import io
import json
import os
from typing import Sequence

import cv2
import numpy as np

from lookgrid.errors import ImageWriteError
from lookgrid.fsutil import atomic_write
from lookgrid.model.colormath import working_to_display

# Region tints for the mask panel (BGR order is handled at write time; these are RGB in [0, 1]).
_TINTS = [(1.0, 0.35, 0.2), (0.2, 0.55, 1.0), (0.3, 0.9, 0.3), (0.9, 0.8, 0.2), (0.8, 0.3, 0.9)]


def _atomic_write_bytes(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_json(path: str, data: dict) -> None:
    """Write ``data`` as indented JSON, atomically."""
    _atomic_write_bytes(path, (json.dumps(data, indent=2, allow_nan=False) + "\n").encode())


def write_png(path: str, rgb_u8: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` uint8 RGB image as PNG, atomically."""

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb_u8[..., ::-1]))
    if not ok:
        raise ImageWriteError(f"could not encode {path} as PNG")
    _atomic_write_bytes(path, buf.tobytes())


# ------------------------------------------------------------------------------------------------
# table
# ------------------------------------------------------------------------------------------------
def _fmt(v, spec: str, width: int, missing: str = "-") -> str:
    return f"{missing:>{width}}" if v is None else f"{v:{width}{spec}}"


def format_table(results: Sequence[dict]) -> str:
    """Text table of clip results (``ClipResult.to_dict()`` dicts). Style columns are per region in
    the clip's region order: ``lab/swd`` for each (e.g. fg then background); ``pump``: grade pumping
    (Lab, mean over regions); ``swd<2%``: the SWD of the regions under 2 % of the frame ("–": none)."""
    lines = []
    head = (
        f"{'clip':<12} {'method':<12} {'warp e-3':>9} {'ratio':>6} {'lp rat':>6}  {'style lab/swd per region':<34}"
        f" {'swd<2%':>6} {'pump':>6} {'struct':>6} {'halo':>6} {'ms/fr':>7}"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for res in results:
        for row, m in res["methods"].items():
            style = "  ".join(
                f"{name[:4]} {_fmt(s['lab_moments'], '.1f', 5)}/{_fmt(s['swd'], '.1f', 4)}"
                for name, s in m["style"].items()
            )
            lines.append(
                f"{res['clip'][:12]:<12} {row:<12} {_fmt(m['warping_error'] * 1e3, '.3f', 9)} "
                f"{_fmt(m['warping_ratio'], '.2f', 6)} {_fmt(m.get('lowpass_ratio'), '.3f', 6)}  {style:<34} "
                f"{_fmt(m.get('swd_small'), '.2f', 6, '–')} {_fmt(m.get('pumping'), '.3f', 6)} "
                f"{_fmt(m['structure'], '.3f', 6)} {_fmt(m['halo'], '.3f', 6)} {_fmt(m['ms_per_frame'], '.0f', 7)}"
            )
    return "\n".join(lines)


def format_summary(summary: dict) -> str:
    """Text table of :func:`lookgrid.eval.harness.summarize` (means over clips). ``swd/R``: the mean
    over clips of the SWD over Reinhard's; ``max/R``: the worst clip (small regions apart)."""
    head = (
        f"{'mean over clips':<16} {'warp e-3':>9} {'ratio':>6} {'lp rat':>6} {'lab':>6} {'swd':>6} {'swd/R':>6}"
        f" {'max/R':>6} {'swd<2%':>6} {'pump':>6} {'struct':>6} {'halo':>6} {'ms/fr':>7} {'cut fr':>6}"
    )
    lines = [head, "-" * len(head)]
    for row, m in summary.items():
        lines.append(
            f"{row:<16} {_fmt(None if m['warping_error'] is None else m['warping_error'] * 1e3, '.3f', 9)} "
            f"{_fmt(m['warping_ratio'], '.2f', 6)} {_fmt(m.get('lowpass_ratio'), '.3f', 6)} "
            f"{_fmt(m['style_lab_moments'], '.1f', 6)} "
            f"{_fmt(m['style_swd'], '.2f', 6)} {_fmt(m.get('swd_vs_baseline'), '.3f', 6)} "
            f"{_fmt(m.get('swd_vs_baseline_max'), '.2f', 6)} {_fmt(m.get('swd_small'), '.2f', 6, '–')} "
            f"{_fmt(m.get('pumping'), '.3f', 6)} {_fmt(m['structure'], '.3f', 6)} {_fmt(m['halo'], '.3f', 6)} "
            f"{_fmt(m['ms_per_frame'], '.0f', 7)} {_fmt(m.get('cut_frames_carried'), '.1f', 6)}"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# contact sheet
# ------------------------------------------------------------------------------------------------
def to_display_u8(image: np.ndarray) -> np.ndarray:
    """Working-space ``(H, W, 3)`` -> display sRGB ``(H, W, 3)`` uint8 (clipped)."""
    disp = working_to_display(np.nan_to_num(np.asarray(image, np.float32)))
    return np.clip(np.round(disp * 255.0), 0, 255).astype(np.uint8)


def _fit(img_u8: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to fit inside ``width x height`` and centre on a dark tile."""

    h, w = img_u8.shape[:2]
    s = min(width / w, height / h)
    nw, nh = max(1, int(round(w * s))), max(1, int(round(h * s)))
    small = cv2.resize(img_u8, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    tile = np.full((height, width, 3), 24, np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    tile[y0 : y0 + nh, x0 : x0 + nw] = small
    return tile


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    out = tile.copy()
    cv2.rectangle(out, (0, 0), (min(out.shape[1], 8 + 8 * len(text)), 20), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def mask_panel(image: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Display ``(H, W, 3)`` uint8 of the input with each masked region tinted and outlined.

    ``masks (N, H, W)``: the last one (background) is left untinted.
    """

    base = to_display_u8(image).astype(np.float32)
    for k, m in enumerate(masks[:-1] if len(masks) > 1 else masks):
        tint = np.array(_TINTS[k % len(_TINTS)]) * 255.0
        a = 0.45 * np.clip(m, 0, 1)[..., None]
        base = base * (1 - a) + tint * a
    out = np.clip(base, 0, 255).astype(np.uint8)
    for k, m in enumerate(masks[:-1] if len(masks) > 1 else masks):
        contours, _ = cv2.findContours((m >= 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        color = tuple(int(c * 255) for c in _TINTS[k % len(_TINTS)])
        cv2.drawContours(out, contours, -1, color, 2)
    return out


def pick_frames(count: int, n: int = 3) -> list[int]:
    """``n`` frame indices spread over ``count`` frames (first, middle, last, ...)."""
    if count <= n:
        return list(range(count))
    return sorted({int(round(i * (count - 1) / (n - 1))) for i in range(n)})


def contact_sheet(result, *, frames: Sequence[int] | None = None, tile_width: int = 320) -> np.ndarray:
    """``(H, W, 3)`` uint8 sheet for a :class:`lookgrid.eval.harness.ClipResult` (see module doc)."""
    clip = result.clip
    h0, w0 = clip.frames[0].shape[:2]
    tile_h = max(1, int(round(tile_width * h0 / w0)))
    idx = list(frames) if frames is not None else pick_frames(len(clip.frames))
    columns = 2 + len(result.runs)
    header = [_label(_fit(to_display_u8(clip.styles[n]), tile_width, tile_h), f"ref: {n}") for n in clip.region_names]
    header += [np.full((tile_h, tile_width, 3), 24, np.uint8)] * max(0, columns - len(header))
    rows = [np.hstack(header[: max(columns, len(header))])]
    width = rows[0].shape[1]
    for t in idx:
        tiles = [
            _label(_fit(to_display_u8(clip.frames[t]), tile_width, tile_h), f"input f{clip.frame_numbers[t]}"),
            _label(_fit(mask_panel(clip.frames[t], clip.all_masks(t)), tile_width, tile_h), "regions"),
        ]
        tiles += [
            _label(_fit(to_display_u8(run.outputs[t]), tile_width, tile_h), name) for name, run in result.runs.items()
        ]
        row = np.hstack(tiles)
        if row.shape[1] < width:
            row = np.hstack([row, np.full((tile_h, width - row.shape[1], 3), 24, np.uint8)])
        rows.append(row)
    return np.vstack(rows)


# ------------------------------------------------------------------------------------------------
# warping plot
# ------------------------------------------------------------------------------------------------
def warping_plot(path: str, results: Sequence[dict]) -> None:
    """PNG of per-frame warping error per method (one panel per clip), written atomically."""
    # matplotlib costs ~0.7 s to import and only this plot needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use("Agg")
    from matplotlib.ticker import MaxNLocator  # with pyplot

    n = len(results)
    fig, axes = plt.subplots(n, 1, figsize=(8, 2.6 * n), squeeze=False)
    for ax, res in zip(axes[:, 0], results):
        frames = res["frames"][:-1]
        for row, m in res["methods"].items():
            style = {"color": "black", "linestyle": "--"} if row == "input" else {}
            ax.plot(frames, np.asarray(m["warping_error_per_frame"]) * 1e3, label=row, linewidth=1.2, **style)
        ax.set_title(f"{res['clip']}: warping error per frame (output t+1 warped to t)", fontsize=9)
        ax.set_ylabel("error x 1e-3")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=5)
    for ax in axes[:, 0]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1, 0].set_xlabel("frame t")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    _atomic_write_bytes(path, buf.getvalue())

#!/usr/bin/env python3
"""The recipe of ``lookgrid demo``'s matte: the astronaut herself in scikit-image's ``astronaut`` photo.

The photo (NASA, public domain; shipped inside scikit-image) is cut out once with OpenCV's GrabCut,
no learned weights: a generous polygon around the person and the helmet she holds is "probably
foreground", everything outside it background; a few hand-placed strokes mark sure foreground
(face, hair, suit, collar ring, straps, helmet) and sure background (flag, wall, shuttle). Holes the
background cannot reach from the top or sides are filled, the largest piece is kept, and the hard
cut is softened along the photo's own edges by a guided filter (He et al. 2010; radius 3,
eps 1e-3, grey guide), which gives hair and rim edges a matte's soft falloff without a halo.

The result is committed as ``backend/lookgrid/commands/astronaut_matte.png`` (512×512, 8 bit,
~15 KB), so the demo computes nothing at run time::

    .venv/bin/python tools/demo_matte.py            # rewrite the PNG
    .venv/bin/python tools/demo_matte.py --check    # exit 1 if the PNG is not what the recipe makes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "backend" / "lookgrid" / "commands" / "astronaut_matte.png"

#: probably foreground: the person and her helmet, generously (x, y in the 512² photo)
POLYGON = [(140, 0), (320, 0), (330, 120), (300, 140), (340, 230), (370, 330), (470, 335), (512, 370),
           (512, 512), (0, 512), (0, 470), (20, 300), (60, 230), (120, 190), (140, 130)]
#: sure foreground discs (x, y, radius): face, hair, suit, helmet, collar ring, patches
FOREGROUND = [(225, 120, 30), (200, 60, 15), (250, 45, 15), (200, 320, 60), (120, 400, 40), (300, 420, 25),
              (390, 430, 50), (440, 470, 30), (230, 200, 30)]
COLLAR = [(135, 190, 8), (150, 205, 8), (170, 225, 8), (195, 245, 8), (230, 262, 8), (265, 268, 8),
          (300, 352, 8), (165, 395, 8), (300, 230, 8)]
#: sure foreground lines (x0, y0, x1, y1, width): the two suit straps
STRAPS = [(263, 300, 263, 511, 9), (240, 300, 245, 480, 7)]
#: sure background discs: flag, wall, shuttle, the table's edge
BACKGROUND = [(40, 80, 30), (60, 180, 25), (100, 40, 20), (330, 40, 20), (400, 120, 40), (470, 200, 30),
              (350, 290, 10), (20, 350, 15)]


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter: ``src`` (H, W) smoothed along the edges of ``guide`` (H, W), float32."""
    def box(x):
        return cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1))

    mean_i, mean_p = box(guide), box(src)
    a = (box(guide * src) - mean_i * mean_p) / (box(guide * guide) - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def make_matte() -> np.ndarray:
    """The matte, (512, 512) float32 in [0, 1]."""
    from skimage import data

    rgb = data.astronaut()
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    mask = np.full(rgb.shape[:2], cv2.GC_BGD, np.uint8)
    cv2.fillPoly(mask, [np.array(POLYGON, np.int32)], cv2.GC_PR_FGD)
    for x, y, r in FOREGROUND:
        cv2.circle(mask, (x, y), r, cv2.GC_FGD, -1)
    for x, y, r in BACKGROUND:
        cv2.circle(mask, (x, y), r, cv2.GC_BGD, -1)
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)
    cv2.grabCut(bgr, mask, None, bgd, fgd, 8, cv2.GC_INIT_WITH_MASK)
    for x, y, r in COLLAR:
        cv2.circle(mask, (x, y), r, cv2.GC_FGD, -1)
    for x0, y0, x1, y1, w in STRAPS:
        cv2.line(mask, (x0, y0), (x1, y1), cv2.GC_FGD, w)
    cv2.grabCut(bgr, mask, None, bgd, fgd, 5, cv2.GC_EVAL)
    hard = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    # background is what reaches the top, left or right border through background: fill the rest
    _, lab = cv2.connectedComponents(1 - hard, connectivity=4)
    outside = set(np.unique(np.concatenate([lab[0], lab[:, 0], lab[:, -1]]))) - {0}
    hard = (~np.isin(lab, list(outside))).astype(np.uint8)
    _, lab, stats, _ = cv2.connectedComponentsWithStats(hard, connectivity=8)
    hard = (lab == 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])).astype(np.float32)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    return np.clip(guided_filter(grey, hard, 3, 1e-3), 0.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed PNG instead of writing")
    args = parser.parse_args(argv)
    matte = np.round(make_matte() * 255.0).astype(np.uint8)
    if args.check:
        have = cv2.imread(str(OUT), cv2.IMREAD_UNCHANGED)
        off = None if have is None else int(np.abs(have.astype(int) - matte).max())
        print(f"{OUT}: " + ("missing" if off is None else f"largest difference {off}/255"))
        return 0 if off is not None and off <= 1 else 1
    cv2.imwrite(str(OUT), matte, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

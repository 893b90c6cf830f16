"""``lookgrid bench render``: guide + soft masks + blend + slice + apply at several resolutions.

Prints, per size, medians of: the plain reference (``render_frame(reference=True)``), the fast path
(``render_frame()``: everything the engine calls per frame), the fused kernel alone
(guide + slice + apply: the kernel ``render_frame`` uses for the net's blend mode —
``guide_slice_blend_apply_cpu`` for "pixel", ``guide_slice_apply_cpu`` for "grid"; ``--blend``
overrides the model's ``config["blend"]`` so both can be compared), and two yardsticks measured in
the same run on the same float32 frame:
``copy`` = ``numpy.copy`` (allocates a new frame, as a render does; one thread) and ``copyto`` =
copy into an existing buffer. The ratios are fast / copy and kernel / copy (the issue's target:
fast path within 5x a plain copy at 3840x2160). numpy rather than torch for the yardstick: on a
busy 2-core machine torch's parallel copy waits on thread-pool barriers and its time swings 10x.
"""

from __future__ import annotations

import numpy as np
import skimage.data
import torch
import torch.nn.functional as F

import lookgrid._numba  # noqa: F401  (numba's threading layer, before any kernel runs)
from lookgrid.commands.bench.timing import time_call
from lookgrid.commands.options import add_device_option, add_model_option, add_threads_option
from lookgrid.errors import InvalidInputError
from lookgrid.model import _cpu_kernels as k
from lookgrid.model.device import configure_threads, resolve_device
from lookgrid.model.grid import identity_grid
from lookgrid.model.guide import region_codes
from lookgrid.model.load import load_model
from lookgrid.model.render import apply_strength_np, blend_mode, blended_grid, render_frame

SIZES = {
    "512": (512, 512),
    "1024": (1024, 1024),
    "2000": (2000, 2000),
    "3000x4000": (3000, 4000),
    "3840x2160": (2160, 3840),
}  # name: (H, W)


def add_arguments(parser) -> None:
    parser.add_argument(
        "--sizes", nargs="+", default=list(SIZES), choices=list(SIZES), help="frame sizes (WxH names; default: all)"
    )
    parser.add_argument("--regions", type=int, default=2, help="number of regions (masks), default 2")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per figure (median)")
    parser.add_argument("--reference-repeat", type=int, default=3, help="timed runs of the slow reference")
    parser.add_argument("--no-reference", action="store_true", help="skip the plain reference")
    parser.add_argument(
        "--image",
        choices=["photo", "noise"],
        default="photo",
        help="photo: scikit-image's astronaut (CC0) resized, a natural image; noise: uniform "
        "random pixels, the worst case for the kernel (every depth bin in every span)",
    )
    add_threads_option(parser)
    add_device_option(parser)
    add_model_option(parser)
    parser.add_argument(
        "--blend",
        choices=["pixel", "grid"],
        default=None,
        help="override the model's config['blend'] (default: the model's own; pixel = slice "
        "every region and blend per pixel, grid = eq. 7 grid-space blend, one slice)",
    )


def _frame(kind: str, h: int, w: int, gen):
    """A (1,3,h,w) float32 test frame in [0, 1]."""

    if kind == "noise":
        return torch.rand(1, 3, h, w, generator=gen)

    photo = torch.from_numpy(skimage.data.astronaut()).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(photo, size=(h, w), mode="bilinear", align_corners=False).contiguous()


def run(args) -> int:
    if args.regions < 1:
        raise InvalidInputError(f"--regions must be >= 1, got {args.regions}")
    dev = resolve_device(args.device)
    configure_threads(args.threads)
    net = load_model(args.model, dev)
    if args.blend is not None:
        net.config["blend"] = args.blend
    mode = blend_mode(net)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    n = args.regions

    grids = identity_grid(n, net.grid_depth, 16, 16) + 0.05 * torch.randn(n, 12, net.grid_depth, 16, 16, generator=gen)
    grids = grids.to(dev)
    print(
        f"lookgrid bench render: device={dev}, threads={torch.get_num_threads()}, regions={n}, image={args.image}, "
        f"blend={mode}"
    )
    head = (
        f"{'size':>10} {'reference':>10} {'fast':>8} {'kernel':>8} {'copy':>7} {'copyto':>7} "
        f"{'fast/copy':>9} {'kernel/copy':>11} {'fast/copyto':>11} {'kernel cpu':>10} {'copy cpu':>8}"
    )
    print(head)
    print("-" * len(head))
    for name in args.sizes:
        h, w = SIZES[name]
        img = _frame(args.image, h, w, gen)
        # soft vertical band masks so every region covers part of the frame
        xs = torch.linspace(0, 1, w).view(1, 1, 1, w).expand(1, 1, h, w)
        masks = torch.cat([((xs * n - k).clamp(0, 1) - (xs * n - k - 1).clamp(0, 1)) for k in range(n)], dim=1)
        img, masks = img.to(dev), masks.contiguous().to(dev)
        ref = float("nan")
        if not args.no_reference:
            ref = time_call(
                lambda: render_frame(net, img, masks, grids, reference=True), args.reference_repeat, sync
            ).median_ms
        fast = time_call(lambda: render_frame(net, img, masks, grids), args.repeat, sync).median_ms
        kern = kern_cpu = copy_cpu = float("nan")
        if dev.type == "cpu":
            if mode == "pixel":
                kernel, cells = k.guide_slice_blend_apply_cpu, k.grids_to_cells(apply_strength_np(grids, None))
            else:
                grid, _ = blended_grid(net, img, masks, grids, reference=False)
                kernel, cells = k.guide_slice_apply_cpu, k.grid_to_cells(grid)
            wts = net.guide_net.kernel_weights()
            im, ms, codes = img[0].numpy(), masks[0].numpy(), region_codes(n).numpy()
            out = np.empty_like(im)
            t = time_call(lambda: k.locked(kernel, cells, im, ms, codes, *wts, out), args.repeat, sync)
            kern, kern_cpu = t.median_ms, t.cpu_ms
        if dev.type == "cpu":
            src = img.numpy()
            t = time_call(lambda: src.copy(), args.repeat, sync)
            copy, copy_cpu = t.median_ms, t.cpu_ms
            dst = np.empty_like(src)
            copyto = time_call(lambda: np.copyto(dst, src), args.repeat, sync).median_ms
        else:
            copy = time_call(lambda: img.clone(), args.repeat, sync).median_ms
            dst = torch.empty_like(img)
            copyto = time_call(lambda: dst.copy_(img), args.repeat, sync).median_ms
        print(
            f"{w}x{h:<5} {ref:>10.1f} {fast:>8.1f} {kern:>8.1f} {copy:>7.1f} {copyto:>7.1f} "
            f"{fast / copy:>9.2f} {kern / copy:>11.2f} {fast / copyto:>11.2f} "
            f"{kern_cpu:>10.1f} {copy_cpu:>8.1f}",
            flush=True,
        )
        img = masks = torch.empty(0)  # free this size's frame before the next one is made
    print(
        "times in ms, medians; reference = plain torch render_frame(reference=True); fast = render_frame()"
        " incl. strength (and, for blend=grid, soft masks and eq. 7); kernel = fused guide+slice+apply only"
        " (per region + pixel blend for blend=pixel); copy = numpy copy (new array);"
        " '... cpu' = process CPU ms summed over threads (robust to other load on the machine)"
    )
    return 0

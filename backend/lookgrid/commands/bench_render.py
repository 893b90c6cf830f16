"""``lookgrid bench render``: guide + soft masks + blend + slice + apply at several resolutions.

Prints, per size, medians of: the plain reference (``render_frame(fast=False)``), the fast path
(``render_frame(fast=True)``: everything the engine calls per frame), the fused kernel alone
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

SIZES = {"512": (512, 512), "1024": (1024, 1024), "2000": (2000, 2000),
         "3000x4000": (3000, 4000), "3840x2160": (2160, 3840)}  # name: (H, W)


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES),
                        help="frame sizes (WxH names; default: all)")
    parser.add_argument("--regions", type=int, default=2, help="number of regions (masks), default 2")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per figure (median)")
    parser.add_argument("--reference-repeat", type=int, default=3, help="timed runs of the slow reference")
    parser.add_argument("--no-reference", action="store_true", help="skip the plain reference")
    parser.add_argument("--image", choices=["photo", "noise"], default="photo",
                        help="photo: scikit-image's astronaut (CC0) resized, a natural image; noise: uniform "
                             "random pixels, the worst case for the kernel (every depth bin in every span)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch (and numba) threads; default: torch's default. On a busy machine 1 can be "
                             "much faster for torch ops: waiting on descheduled pool threads dominates")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--model", default=None, help="checkpoint (default: shipped or identity model)")
    parser.add_argument("--blend", choices=["pixel", "grid"], default=None,
                        help="override the model's config['blend'] (default: the model's own; pixel = slice "
                             "every region and blend per pixel, grid = eq. 7 grid-space blend, one slice)")


_CPU: dict = {}


def _median_ms(fn, repeat, sync, key=None):
    """Median wall ms; with ``key``, also keep the median process CPU ms (all threads) in _CPU."""
    import statistics
    import time

    fn()  # warm-up (compiles kernels, touches memory)
    sync()
    times, cpu = [], []
    for _ in range(max(1, repeat)):
        c = time.process_time()
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    if key:
        _CPU[key] = statistics.median(cpu)
    return statistics.median(times)


def _frame(kind: str, h: int, w: int, gen):
    """A (1,3,h,w) float32 test frame in [0, 1]."""
    import torch

    if kind == "noise":
        return torch.rand(1, 3, h, w, generator=gen)
    import skimage.data
    import torch.nn.functional as F

    photo = torch.from_numpy(skimage.data.astronaut()).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(photo, size=(h, w), mode="bilinear", align_corners=False).contiguous()


def configure_threads(threads: int | None, device: str) -> None:
    """Apply ``--threads`` to torch and, on the CPU, to numba (after its threading layer is chosen)."""
    import torch

    from lookgrid.errors import InvalidInputError

    if threads is None:
        return
    if threads < 1:
        raise InvalidInputError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    if str(device) == "cpu" or (str(device) == "auto" and not torch.cuda.is_available()):
        import numba

        import lookgrid._numba  # noqa: F401  (picks numba's threading layer first)

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def run(args) -> int:
    import numpy as np
    import torch

    from lookgrid.errors import InvalidInputError
    from lookgrid.model.load import load_model, resolve_device
    from lookgrid.model.render import _strength_np, blend_mode, blended_grid, render_frame

    if args.regions < 1:
        raise InvalidInputError(f"--regions must be >= 1, got {args.regions}")
    configure_threads(args.threads, args.device)
    dev = resolve_device(args.device)
    net = load_model(args.model, dev)
    if args.blend is not None:
        net.config["blend"] = args.blend
    mode = blend_mode(net)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    n = args.regions
    from lookgrid.model.grid import identity_grid

    grids = identity_grid(n, net.grid_depth, 16, 16) + 0.05 * torch.randn(n, 12, net.grid_depth, 16, 16, generator=gen)
    grids = grids.to(dev)
    print(f"lookgrid bench render: device={dev}, threads={torch.get_num_threads()}, regions={n}, image={args.image}, "
          f"blend={mode}")
    head = (f"{'size':>10} {'reference':>10} {'fast':>8} {'kernel':>8} {'copy':>7} {'copyto':>7} "
            f"{'fast/copy':>9} {'kernel/copy':>11} {'fast/copyto':>11} {'kernel cpu':>10} {'copy cpu':>8}")
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
            ref = _median_ms(lambda: render_frame(net, img, masks, grids, fast=False), args.reference_repeat, sync)
        fast = _median_ms(lambda: render_frame(net, img, masks, grids, fast=True), args.repeat, sync)
        kern = float("nan")
        if dev.type == "cpu":
            from lookgrid.model import _cpu_kernels as k
            from lookgrid.model.guide import region_codes

            if mode == "pixel":
                kernel, cells = k.guide_slice_blend_apply_cpu, k.grids_to_cells(_strength_np(grids, None))
            else:
                grid, _ = blended_grid(net, img, masks, grids, fast=True)
                kernel, cells = k.guide_slice_apply_cpu, k.grid_to_cells(grid)
            wts = net.guide_net.kernel_weights()
            im, ms, codes = img[0].numpy(), masks[0].numpy(), region_codes(n).numpy()
            out = np.empty_like(im)
            kern = _median_ms(lambda: k.locked(kernel, cells, im, ms, codes, *wts, out), args.repeat, sync, "kernel")
        if dev.type == "cpu":
            src = img.numpy()
            copy = _median_ms(lambda: src.copy(), args.repeat, sync, "copy")
            dst = np.empty_like(src)
            copyto = _median_ms(lambda: np.copyto(dst, src), args.repeat, sync)
        else:
            copy = _median_ms(lambda: img.clone(), args.repeat, sync)
            dst = torch.empty_like(img)
            copyto = _median_ms(lambda: dst.copy_(img), args.repeat, sync)
        print(f"{w}x{h:<5} {ref:>10.1f} {fast:>8.1f} {kern:>8.1f} {copy:>7.1f} {copyto:>7.1f} "
              f"{fast / copy:>9.2f} {kern / copy:>11.2f} {fast / copyto:>11.2f} "
              f"{_CPU.get('kernel', float('nan')):>10.1f} {_CPU.get('copy', float('nan')):>8.1f}", flush=True)
        _CPU.clear()
        del img, masks
    print("times in ms, medians; reference = plain torch render_frame(fast=False); fast = render_frame(fast=True)"
          " incl. strength (and, for blend=grid, soft masks and eq. 7); kernel = fused guide+slice+apply only"
          " (per region + pixel blend for blend=pixel); copy = numpy copy (new array);"
          " '... cpu' = process CPU ms summed over threads (robust to other load on the machine)")
    return 0

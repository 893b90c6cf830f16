"""``lookgrid bench analyze``: the low-resolution grid path per frame for 1, 2 and 4 regions.

Per region count: ms per frame of ``predict_grids`` (content + masks + cached style statistics,
with temporal state carried), ``encode_style`` per style image (done once per style and cached), and
``enhance_masks``. Medians, plus the process CPU time of ``predict_grids``.
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--regions", type=int, nargs="+", default=[1, 2, 4], help="region counts (default 1 2 4)")
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per figure (median)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch (and numba) threads; default: torch's default. On a busy machine 1 can be "
                             "much faster for torch ops: waiting on descheduled pool threads dominates")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--model", default=None, help="checkpoint (default: shipped or identity model)")


def run(args) -> int:
    import statistics
    import time

    import torch

    from lookgrid.errors import InvalidInputError
    from lookgrid.commands.bench_render import configure_threads
    from lookgrid.model.load import load_model, resolve_device

    if any(r < 1 for r in args.regions):
        raise InvalidInputError(f"--regions must all be >= 1, got {args.regions}")
    configure_threads(args.threads, args.device)
    dev = resolve_device(args.device)
    net = load_model(args.model, dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    r = net.LOW_RES
    gen = torch.Generator().manual_seed(0)

    cpu = {}

    def median_ms(fn, key=None):
        fn()
        sync()
        ts, cs = [], []
        for _ in range(max(1, args.repeat)):
            c = time.process_time()
            t = time.perf_counter()
            fn()
            sync()
            ts.append((time.perf_counter() - t) * 1000)
            cs.append((time.process_time() - c) * 1000)
        if key:
            cpu[key] = statistics.median(cs)
        return statistics.median(ts)

    print(f"lookgrid bench analyze: device={dev}, threads={torch.get_num_threads()}, low-res {r}x{r}")
    print(f"{'regions':>7} {'predict_grids ms':>17} {'per region':>11} {'encode_style ms/style':>22} "
          f"{'enhance_masks ms':>17} {'predict cpu ms':>15}")
    with torch.no_grad():
        for n in args.regions:
            content = torch.rand(1, 3, r, r, generator=gen).to(dev)
            raw = torch.rand(1, n, r, r, generator=gen)
            masks = (raw / raw.sum(1, keepdim=True)).to(dev)
            style_imgs = torch.rand(n, 3, r, r, generator=gen).to(dev)
            styles = net.encode_style(style_imgs)
            _, state = net.predict_grids(content, masks, styles, None)
            pred = median_ms(lambda: net.predict_grids(content, masks, styles, state), "pred")
            enc = median_ms(lambda: net.encode_style(style_imgs)) / n
            enh = median_ms(lambda: net.enhance_masks(masks))
            print(f"{n:>7} {pred:>17.1f} {pred / n:>11.1f} {enc:>22.1f} {enh:>17.1f} {cpu['pred']:>15.1f}", flush=True)
    print("medians; 'cpu ms' = process CPU time summed over threads (robust to other load on the machine)")
    return 0

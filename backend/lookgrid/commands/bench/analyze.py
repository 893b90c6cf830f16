"""``lookgrid bench analyze``: the low-resolution grid path per frame for 1, 2 and 4 regions.

Per region count: ms per frame of ``predict_grids`` (content + masks + cached style statistics,
with temporal state carried), ``encode_style`` per style image (done once per style and cached),
``enhance_masks``, and the extra step of ``temporal = "flow"`` (DIS flow both ways at analysis
resolution, the visibility test and :func:`lookgrid.model.propagate.propagate_grids`; its content
is the frame moved by 3 px). Medians, plus the process CPU time of ``predict_grids`` and the flow step.
"""

from __future__ import annotations

import torch

from lookgrid.commands.bench.timing import time_call
from lookgrid.commands.options import add_device_option, add_model_option, add_threads_option
from lookgrid.errors import InvalidInputError
from lookgrid.imaging.flow import flow_to_previous
from lookgrid.model.colormath import display_luma_u8
from lookgrid.model.device import configure_threads, resolve_device
from lookgrid.model.load import load_model
from lookgrid.model.propagate import propagate_grids


def add_arguments(parser) -> None:
    parser.add_argument("--regions", type=int, nargs="+", default=[1, 2, 4], help="region counts (default 1 2 4)")
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per figure (median)")
    add_threads_option(parser)
    add_device_option(parser)
    add_model_option(parser)


def run(args) -> int:
    if any(r < 1 for r in args.regions):
        raise InvalidInputError(f"--regions must all be >= 1, got {args.regions}")
    dev = resolve_device(args.device)
    configure_threads(args.threads)
    net = load_model(args.model, dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    r = net.LOW_RES
    gen = torch.Generator().manual_seed(0)

    print(f"lookgrid bench analyze: device={dev}, threads={torch.get_num_threads()}, low-res {r}x{r}")
    print(
        f"{'regions':>7} {'predict_grids ms':>17} {'per region':>11} {'encode_style ms/style':>22} "
        f"{'enhance_masks ms':>17} {'predict cpu ms':>15} {'flow step ms':>13} {'flow cpu ms':>12}"
    )
    with torch.no_grad():
        for n in args.regions:
            content = torch.rand(1, 3, r, r, generator=gen).to(dev)
            raw = torch.rand(1, n, r, r, generator=gen)
            masks = (raw / raw.sum(1, keepdim=True)).to(dev)
            style_imgs = torch.rand(n, 3, r, r, generator=gen).to(dev)
            styles = net.encode_style(style_imgs)
            _, state = net.predict_grids(content, masks, styles, None)
            pred = time_call(lambda: net.predict_grids(content, masks, styles, state), args.repeat, sync)
            enc = time_call(lambda: net.encode_style(style_imgs), args.repeat, sync).median_ms / n
            enh = time_call(lambda: net.enhance_masks(masks), args.repeat, sync).median_ms
            grids, _ = net.predict_grids(content, masks, styles, None)
            luma = display_luma_u8(content[0].permute(1, 2, 0).cpu().numpy())
            moved = display_luma_u8(torch.roll(content, 3, dims=3)[0].permute(1, 2, 0).cpu().numpy())

            def flow_step():
                fl, vis = flow_to_previous(moved, luma)
                return propagate_grids(grids, grids, torch.from_numpy(fl).to(dev), torch.from_numpy(vis).to(dev), 0.5)

            flow = time_call(flow_step, args.repeat, sync)
            print(
                f"{n:>7} {pred.median_ms:>17.1f} {pred.median_ms / n:>11.1f} {enc:>22.1f} {enh:>17.1f} "
                f"{pred.cpu_ms:>15.1f} {flow.median_ms:>13.1f} {flow.cpu_ms:>12.1f}",
                flush=True,
            )
    print("medians; 'cpu ms' = process CPU time summed over threads (robust to other load on the machine)")
    return 0

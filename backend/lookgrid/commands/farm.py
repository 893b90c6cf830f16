"""``lookgrid farm``: render a clip on many workers with the same pixels as one ``lookgrid render``.

    lookgrid farm render --spec clip.json [--chunk N] [--workers K] [--address auto|ray://host:port]
                         [--gpus-per-worker G] [--order forward|reverse|shuffled] [--no-progress]
    lookgrid farm export --spec clip.json --out job/ [--chunk N] [--name NAME]
    lookgrid farm task analyze-part --spec clip.json --frames A-B
    lookgrid farm task fold --spec clip.json
    lookgrid farm task analyze --spec clip.json
    lookgrid farm task render --spec clip.json --frames A-B

``render`` runs the job on Ray (:mod:`lookgrid.farm.ray_runner`): a local Ray started for the job,
or an existing cluster by ``--address``. ``export`` writes an Open Job Description bundle
(:mod:`lookgrid.farm.openjd`) whose tasks call ``farm task``: ``analyze-part`` of one chunk (the
per-frame and per-pair analysis of its analysed frames, :mod:`lookgrid.farm.parts`), ``fold`` (the
short in-order step that turns the parts into the analysis; in temporal mode ``tc`` the whole
analysis in order) — both skipped when the grid analysis beside the output is current — and
``render`` of one chunk (refused when the analysis does not fit the spec). ``analyze`` analyses the
whole clip in order in one task. The state lives in ``<output dir>/.lookgrid/`` (:mod:`lookgrid.farm.analysis`).
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from lookgrid.farm import job as jobs
from lookgrid.farm.chunks import frames_in_range
from lookgrid.farm.openjd import write_bundle
from lookgrid.farm.ray_runner import run_job
from lookgrid.imaging.outputs import check_output


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="farm", metavar="WHAT", required=True)
    render = sub.add_parser("render", help="render a clip on Ray", description="render a clip on Ray")
    _spec(render)
    render.add_argument(
        "--chunk", type=int, default=10, metavar="N", help="frames per task (default 10; 0: one task for everything)"
    )
    render.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="K",
        help="chunks rendered at once (default 2; a local Ray gets K CPUs)",
    )
    render.add_argument(
        "--address",
        metavar="ADDR",
        help="join a running Ray cluster: auto, ray://host:port or host:port (default: start a local Ray for the job)",
    )
    render.add_argument(
        "--gpus-per-worker",
        type=float,
        default=0.0,
        metavar="G",
        help="GPUs each task asks Ray for (e.g. 1 or 0.5 on a GPU cluster; default 0)",
    )
    render.add_argument(
        "--order",
        choices=("forward", "reverse", "shuffled"),
        default="forward",
        help="order in which chunks are handed out (the pixels do not depend on it)",
    )
    render.add_argument("--no-progress", action="store_true", help="no progress bar")
    export = sub.add_parser(
        "export",
        help="write an Open Job Description job bundle",
        description="write an Open Job Description job bundle",
    )
    _spec(export)
    export.add_argument("--out", required=True, metavar="DIR", help="bundle folder to write")
    export.add_argument("--chunk", type=int, default=10, metavar="N", help="frames per render task")
    export.add_argument("--name", help="job name (default from the output pattern and frames)")
    task = sub.add_parser(
        "task",
        help="one task of an exported job (run by the farm)",
        description="one task of an exported job (run by the farm)",
    )
    tsub = task.add_subparsers(dest="task", metavar="KIND", required=True)
    tp = tsub.add_parser("analyze-part", help="analyse the analysed frames of one chunk (a part of the analysis)")
    _spec(tp)
    tp.add_argument("--frames", required=True, metavar="A-B", help="the chunk, e.g. 1001-1010")
    _spec(tsub.add_parser("fold", help="fold the analysis parts into the clip's analysis (the in-order step)"))
    _spec(tsub.add_parser("analyze", help="analyse the whole clip in order, unless its analysis is current"))
    tr = tsub.add_parser("render", help="render one chunk of frames from the analysis")
    _spec(tr)
    tr.add_argument("--frames", required=True, metavar="A-B", help="the chunk, e.g. 1001-1010")


def _spec(p) -> None:
    p.add_argument("--spec", required=True, metavar="JSON", help="the job (ClipSpec JSON)")


def run(args) -> int:
    spec = jobs.load_spec(args.spec)
    if args.farm == "export":
        path = write_bundle(spec, jobs.Job(spec).frames, args.out, chunk=args.chunk, name=args.name)
        print(f"wrote {path.parent} (template.yaml, clip.json, parameter_values.yaml)")
        return 0
    if args.farm == "task":
        return _task(args, spec)
    return _render(args, spec)


def _render(args, spec) -> int:
    check_output(spec.output, jobs.Job(spec).frames)  # before Ray starts and the analysis runs
    bar = None

    def progress(done, total):
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            bar = tqdm(total=total, unit="frame", desc="farm", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()

    try:
        summary = run_job(
            spec,
            chunk=args.chunk or None,
            workers=args.workers,
            address=args.address,
            order=args.order,
            progress=progress,
            gpus=args.gpus_per_worker,
        )
    finally:
        if bar is not None:
            bar.close()
    if summary.reanalysed_because:
        print(f"analysed: {summary.reanalysed_because}")
    if summary.in_order_because:
        print(f"analysed in order: {summary.in_order_because}")
    print(summary.line())
    return 0


def _task(args, spec) -> int:
    if args.task == "analyze":
        result = jobs.analyze_task(spec)
        if result["reused"]:
            print("analyze: the analysis beside the output is current; nothing to do")
        else:
            print(f"analyze: {result['analysed']} frames in {result['seconds']:.1f} s ({result['reason']})")
        return 0

    if args.task == "fold":
        result = jobs.fold_task(spec)
        if result["reused"]:
            print("fold: the analysis beside the output is current; nothing to do")
        elif result["in_order"]:
            print(
                f"fold: analysed {result['analysed']} frames in order in {result['seconds']:.1f} s ({result['in_order']})"
            )
        else:
            print(
                f"fold: {result['analysed']} analysed frames from {result['parts']} parts in {result['seconds']:.1f} s"
            )
        return 0
    job = jobs.Job(spec)
    frames = frames_in_range(args.frames, job.frames)
    if args.task == "analyze-part":
        part = jobs.analyze_part_task(spec, frames)
        if part["skipped"]:
            print(f"analyze-part: frames {args.frames}: nothing to do: {part['skipped']}")
        else:
            print(f"analyze-part: frames {args.frames}: {part['analysed']} analysed frames in {part['seconds']:.1f} s")
        return 0

    def progress(done, total, frame, path, seconds):
        # Open Job Description's progress line (Deadline Cloud shows it per task)
        print(f"openjd_progress: {100.0 * done / total:.1f}", flush=True)

    result = jobs.render_task(spec, frames, progress=progress)
    print(f"render: frames {args.frames} ({len(frames)}) in {result['seconds']:.1f} s")
    return 0

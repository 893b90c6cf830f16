"""``lookgrid bench WHAT``: benchmarks are commands, not timed tests.

Each benchmark lives in its own module of this package with ``add_arguments(parser)`` and
``run(args)``; :mod:`.timing` times every call the same way. Figures are medians of several runs,
printed beside a reference measured in the same run (a plain copy of the same frame, or in-process
throughput), because absolute times on shared machines mean little.
"""

from __future__ import annotations

import importlib

BENCHES: list[tuple[str, str, str]] = [
    ("render", "lookgrid.commands.bench.render", "guide + slice + apply at several resolutions"),
    ("analyze", "lookgrid.commands.bench.analyze", "low-resolution grid path per frame, 1/2/4 regions"),
    ("convert", "lookgrid.commands.bench.convert", "colour conversion of a 1920x1080 frame"),
    ("serve", "lookgrid.commands.bench.serve", "frames/s through gRPC vs in process"),
    ("soak", "lookgrid.commands.bench.soak", "concurrent clients and injected faults: memory, latency"),
    ("farm", "lookgrid.commands.bench.farm", "farm throughput: I/O floor, 1 vs 2 workers, N-worker model"),
]


def add_arguments(parser, argv: list[str] | None = None) -> None:
    """Every benchmark is listed; only the one named first in ``argv`` (the words after ``bench``)
    is imported and given its arguments, so a benchmark imports only what it runs (``bench render``
    needs no Ray, ``bench farm`` does)."""
    chosen = next((a for a in argv or [] if not a.startswith("-")), None)
    sub = parser.add_subparsers(dest="bench", metavar="WHAT", required=True)
    for name, module, help_text in BENCHES:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_bench_module=module)
        if name == chosen:
            importlib.import_module(module).add_arguments(p)


def run(args) -> int:
    return int(importlib.import_module(args._bench_module).run(args) or 0)

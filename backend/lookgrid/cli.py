"""One command line for LookGrid: ``lookgrid <command> ...``.

Each command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only when their command runs, so ``lookgrid --help`` and light commands start
fast (no torch import). A command with subcommands of its own (``bench``) takes
``add_arguments(parser, argv)``, the words after its name, and imports only the subcommand named
there: a command imports only what it runs (``bench render`` runs where Ray is not installed). A :class:`lookgrid.errors.LookGridError` prints one line and exits 2; other
exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import signal
import sys
import threading

from lookgrid import __version__
from lookgrid.errors import LookGridError

# (name, module, one-line help). Order is the order shown in --help.
COMMANDS: list[tuple[str, str, str]] = [
    ("info", "lookgrid.commands.info", "versions, devices, OpenColorIO configs, models"),
    ("convert", "lookgrid.commands.convert", "convert a frame sequence between colour spaces"),
    ("render", "lookgrid.commands.render", "render a clip with per-region looks"),
    ("look", "lookgrid.commands.look", "export per-region looks as LUT/CLF/CDL/OCIO files, with mattes"),
    ("eval", "lookgrid.commands.eval", "measure quality of methods on clips"),
    ("bench", "lookgrid.commands.bench", "benchmarks: render, analyze, convert, serve, soak, farm"),
    ("farm", "lookgrid.commands.farm", "render on a farm: Ray, or an Open Job Description bundle"),
    ("serve", "lookgrid.commands.serve", "run the gRPC backend"),
    ("demo", "lookgrid.commands.demo", "render the built-in demo clip through the service"),
    ("train", "lookgrid.commands.train", "train the model"),
]


def build_parser(only: str | None = None, argv: list[str] | None = None) -> argparse.ArgumentParser:
    """Build the parser; with ``only`` set, import and fill in just that command's arguments
    (``argv``: the command line, whose words after ``only`` go to a command that takes them)."""

    parser = argparse.ArgumentParser(
        prog="lookgrid",
        description="LookGrid: give each rotoscoped region of a shot the look of a reference photo.",
    )
    parser.add_argument("--version", action="version", version=f"lookgrid {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == only:
            mod = importlib.import_module(module)
            if "argv" in inspect.signature(mod.add_arguments).parameters:
                words = list(argv or [])
                mod.add_arguments(p, argv=words[words.index(name) + 1 :] if name in words else [])
            else:
                mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def _sigterm_interrupts() -> None:
    """SIGTERM ends a command like Ctrl-C does (KeyboardInterrupt), so what it was writing is
    cleaned up on the way out instead of left behind (``serve`` installs its own handler)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = {c[0] for c in COMMANDS}
    only = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only if only in names else None, argv)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0 if not argv else 2
    _sigterm_interrupts()
    try:
        return int(args._run(args) or 0)
    except LookGridError as err:
        print(f"lookgrid {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lookgrid {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``lookgrid serve``: run the gRPC backend (one shared model, per-clip state).

Listens on 127.0.0.1:50051 by default. Another address needs ``--tls-cert``, ``--tls-key`` and a
token (``--token-file`` or $LOOKGRID_TOKEN), or ``--insecure``, which means: anyone who can reach
the port may use the GPU and read and write under the ``--root`` folders.
"""

from __future__ import annotations

import logging
import os
import sys

from lookgrid.commands.options import add_device_option, add_model_option
from lookgrid.engine import Engine
from lookgrid.errors import InvalidInputError
from lookgrid.service.server import create_server, serve


def add_arguments(parser) -> None:
    parser.add_argument(
        "--address",
        default="127.0.0.1:50051",
        help="HOST:PORT to listen on (default 127.0.0.1:50051; port 0 picks a free one)",
    )
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR",
        help="folder that render-by-path and path styles may use (repeatable; none: "
        "inline frames and uploaded styles only)",
    )
    add_model_option(parser)
    add_device_option(parser)
    parser.add_argument(
        "--token-file", default=None, help="file holding the token clients must send ($LOOKGRID_TOKEN also works)"
    )
    parser.add_argument("--tls-cert", default=None, help="PEM certificate chain for TLS")
    parser.add_argument("--tls-key", default=None, help="PEM private key for TLS")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback address without TLS and token (anyone reaching the port can use this server)",
    )
    parser.add_argument("--ttl", type=float, default=900.0, help="evict clips idle this many seconds (900)")
    parser.add_argument(
        "--max-state-mb", type=float, default=2048.0, help="memory bound over all clips' caches in MiB (2048)"
    )
    parser.add_argument(
        "--max-held-mb",
        type=float,
        default=4096.0,
        help="memory budget for what all calls hold of what clients sent, in MiB (4096)",
    )
    parser.add_argument("--workers", type=int, default=16, help="concurrent calls (16)")
    parser.add_argument(
        "--ready-file", default=None, help="write the bound port to this file once serving (for scripts)"
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (INFO)")
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        metavar="PID",
        help="stop when process PID has ended (hosts that launch a server pass their own)",
    )
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds without a call (health checks do not count)",
    )


def _read(path: str | None) -> bytes | None:
    if path is None:
        return None

    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise InvalidInputError(f"cannot read {path}: {err.strerror}") from None


def run(args) -> int:
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    token = os.environ.get("LOOKGRID_TOKEN") or None
    if args.token_file:
        token = (_read(args.token_file) or b"").decode().strip() or None
        if token is None:  # never let a mistake turn authentication off
            raise InvalidInputError(
                f"--token-file {args.token_file}: the file is empty; put the token in "
                "it, or drop --token-file to run without one (loopback only)"
            )
    engine = Engine(
        device=args.device, model_path=args.model, ttl_s=args.ttl, max_cache_bytes=int(args.max_state_mb * 1024 * 1024)
    )
    _ = engine.model  # load now: a broken checkpoint fails at start, not on the first call
    server, port = create_server(
        args.address,
        engine,
        roots=args.root,
        token=token,
        tls_cert=_read(args.tls_cert),
        tls_key=_read(args.tls_key),
        insecure=args.insecure,
        max_workers=args.workers,
        max_held_bytes=int(args.max_held_mb * 1024 * 1024),
    )
    host = args.address.rpartition(":")[0]
    print(
        f"lookgrid serve: listening on {host}:{port} (device {engine.device}, "
        f"{'roots ' + ', '.join(args.root) if args.root else 'no storage roots'}); Ctrl-C stops",
        flush=True,
    )
    why = serve(server, ready_file=args.ready_file, port=port, parent_pid=args.parent_pid, idle_exit=args.idle_exit)
    if why != "signal":
        print(f"lookgrid serve: stopped: {why}", flush=True)
    # The server has stopped gracefully and the engine is shut down; nothing is left to flush. Leave
    # now rather than through interpreter teardown, where native thread pools (gRPC core, torch,
    # numba) are destroyed in no fixed order: about one exit in ten aborted there with "terminate
    # called without an active exception" (SIGABRT, exit -6) although every request had completed.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

"""Server bootstrap: ``create_server(address, engine, ...) -> (server, port)``, ``serve(server)``.

Security
--------
* The default address is ``127.0.0.1:50051`` (loopback only).
* Any other host (``0.0.0.0``, a LAN address, a name) needs TLS (``tls_cert``/``tls_key``) and a
  token, which clients send as ``authorization: Bearer <token>`` call metadata; the health service is
  the only one answered without it. ``insecure=True`` (``lookgrid serve --insecure``) lifts that
  requirement on purpose: anyone who can reach the port can then read and write under the roots and
  use the GPU.
* When a token is configured it is required on every call, loopback included.
* Paths in specs are confined to ``roots`` (see :mod:`lookgrid.service.paths`).

Besides :class:`~lookgrid.service.servicer.LookGridServicer` the server runs standard health
checking (``grpc.health.v1``; service names ``""`` and ``lookgrid.v1.LookGrid``) and server
reflection.
"""

from __future__ import annotations

import hmac
import logging
import os
import signal
import threading
import time
from concurrent import futures
from contextlib import contextmanager
from typing import Iterator

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from lookgrid.engine import Engine
from lookgrid.errors import InvalidInputError
from lookgrid.fsutil import atomic_write
from lookgrid.service.servicer import LookGridServicer
from lookgrid_client.launch import is_loopback_host
from lookgrid_client.proto import lookgrid_pb2 as pb
from lookgrid_client.proto import lookgrid_pb2_grpc as pb_grpc

log = logging.getLogger("lookgrid.service")

DEFAULT_ADDRESS = "127.0.0.1:50051"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["LookGrid"].full_name
#: gRPC message limit of the server (both ways). Frames travel in 2 MiB chunks, so the default is
#: modest: 8 MiB leaves room for one chunk plus headers and for clients with slightly larger chunks.
DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def split_address(address: str) -> tuple[str, int]:
    """``"host:port"`` / ``"[::1]:port"`` -> (host, port); InvalidInputError naming the problem."""
    host, sep, port = address.rpartition(":")
    if not sep or not host:
        raise InvalidInputError(f"address {address!r} must be HOST:PORT, e.g. 127.0.0.1:50051")
    try:
        port_n = int(port)
    except ValueError:
        raise InvalidInputError(f"address {address!r}: port {port!r} is not a number") from None
    if not 0 <= port_n <= 65535:
        raise InvalidInputError(f"address {address!r}: port {port_n} is out of range")
    return host.strip("[]"), port_n


is_loopback = is_loopback_host  # one rule for server and clients (lookgrid_client.launch)


class TokenInterceptor(grpc.ServerInterceptor):
    """Rejects calls without ``authorization: Bearer <token>`` (UNAUTHENTICATED); health is exempt."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method or ""
        if method.startswith("/grpc.health.v1.Health/"):
            return continuation(handler_call_details)
        got = ""
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                got = value
        if hmac.compare_digest(got.encode(), self._expected):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        reason = "missing" if not got else "wrong"
        detail = f"{reason} token: send call metadata 'authorization: Bearer <token>'"

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, detail)

        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(deny)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny)
        return grpc.unary_unary_rpc_method_handler(deny)


class ActivityInterceptor(grpc.ServerInterceptor):
    """Counts calls in progress and when the last one ended (health checks do not count), so a
    server can stop after an idle time (:func:`serve`'s ``idle_exit``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active = 0
        self.last = time.monotonic()

    def _enter(self) -> None:
        with self._lock:
            self.active += 1
            self.last = time.monotonic()

    def _exit(self) -> None:
        with self._lock:
            self.active -= 1
            self.last = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last call ended; 0 while any is in progress."""
        with self._lock:
            return 0.0 if self.active else time.monotonic() - self.last

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or (handler_call_details.method or "").startswith("/grpc.health.v1.Health/"):
            return handler

        def unary(fn):
            def run(request, context):
                self._enter()
                try:
                    return fn(request, context)
                finally:
                    self._exit()

            return run

        def streaming(fn):
            def run(request, context):
                self._enter()
                try:
                    yield from fn(request, context)
                finally:
                    self._exit()

            return run

        kinds = {
            "unary_unary": (unary, grpc.unary_unary_rpc_method_handler),
            "unary_stream": (streaming, grpc.unary_stream_rpc_method_handler),
            "stream_unary": (unary, grpc.stream_unary_rpc_method_handler),
            "stream_stream": (streaming, grpc.stream_stream_rpc_method_handler),
        }
        for attr, (wrap, make) in kinds.items():
            fn = getattr(handler, attr)
            if fn is not None:
                return make(
                    wrap(fn),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler


def create_server(
    address: str = DEFAULT_ADDRESS,
    engine=None,
    *,
    roots=(),
    token: str | None = None,
    tls_cert: bytes | None = None,
    tls_key: bytes | None = None,
    insecure: bool = False,
    max_workers: int = 16,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    servicer=None,
    **servicer_options,
):
    """Build and start a LookGrid gRPC server.

    Args:
        address: ``HOST:PORT``; port 0 picks a free port.
        engine: a :class:`lookgrid.engine.Engine` (one shared model); ``None`` builds the default
            engine (shipped weights, device "auto").
        roots: folders RenderByPath / Analyze / path styles may read and write under.
        token: required as ``authorization: Bearer <token>`` metadata when set.
        tls_cert, tls_key: PEM bytes; both or neither.
        insecure: allow a non-loopback address without TLS/token.
        servicer_options: passed to :class:`LookGridServicer` (``clip_ttl``, ``max_state_bytes``, ...).

    Returns:
        ``(server, port)``: the started ``grpc.Server`` and the bound port. ``server.servicer`` is
        the servicer (for tests and shutdown).
    """
    host, _ = split_address(address)
    if (tls_cert is None) != (tls_key is None):
        raise InvalidInputError("TLS needs both a certificate and a private key (--tls-cert and --tls-key)")
    use_tls = tls_cert is not None
    if not is_loopback(host) and not insecure and not (use_tls and token):
        raise InvalidInputError(
            f"refusing to listen on {address} without TLS and a token: other machines could reach it. "
            "Give --tls-cert, --tls-key and --token, or --insecure to accept that anyone who can reach "
            "the port may use this server"
        )
    if servicer is None:
        if engine is None:
            engine = Engine()
        servicer = LookGridServicer(engine, roots=roots, max_message_bytes=max_message_bytes, **servicer_options)
    activity = ActivityInterceptor()
    interceptors = [activity] + ([TokenInterceptor(token)] if token else [])
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
        # Detect vanished clients so their streams are cancelled and their state freed.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.keepalive_permit_without_calls", 1),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lookgrid-rpc"),
        interceptors=interceptors,
        options=options,
    )
    pb_grpc.add_LookGridServicer_to_server(servicer, server)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )

    if use_tls:
        creds = grpc.ssl_server_credentials([(tls_key, tls_cert)])
        port = server.add_secure_port(address, creds)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise InvalidInputError(f"cannot listen on {address} (in use, or not an address of this machine)")
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    server.servicer = servicer
    server.health = health_servicer
    server.activity = activity
    servicer.start_background()
    log.info("LookGrid listening on %s (port %d, %s)", address, port, "TLS" if use_tls else "plaintext")
    return server, port


@contextmanager
def start_in_process(
    engine=None, address: str = "127.0.0.1:0", *, grace: float = 1.0, **options
) -> Iterator[tuple[grpc.Server, str]]:
    """A server in this process for the length of a ``with`` block: yields ``(server, "host:port")``
    (port 0 picks a free one; ``server.address`` is the same string) and stops it on the way out
    (:func:`stop_server` with ``grace``). ``options`` as for :func:`create_server`."""
    server, port = create_server(address, engine, **options)
    server.address = f"{split_address(address)[0]}:{port}"
    try:
        yield server, server.address
    finally:
        stop_server(server, grace=grace)


def stop_server(server, grace: float = 2.0) -> None:
    """Mark the server NOT_SERVING, stop it (``grace`` seconds for calls to finish), free all clips."""
    for name in ("", SERVICE_NAME):
        try:
            server.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        except Exception:  # pragma: no cover - health already gone
            pass
    server.stop(grace).wait()
    server.servicer.shutdown()


def _parent_gone(parent_pid: int) -> bool:
    """True once the process ``parent_pid`` that started this one has ended (this process was
    re-parented, or the pid no longer exists)."""
    if os.getppid() != parent_pid:
        return True
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


def serve(
    server,
    *,
    ready_file: str | None = None,
    port: int | None = None,
    parent_pid: int | None = None,
    idle_exit: float | None = None,
) -> str:
    """Block until SIGINT/SIGTERM, then stop the server gracefully; returns why it stopped.

    ``ready_file``: written atomically with the bound port once serving (for scripts and tests that
    start the server as a subprocess on port 0). ``parent_pid``: stop when that process is gone (a
    server a host launched must not outlive a crashed host). ``idle_exit``: stop after that many
    seconds without a call (health checks do not count).
    """
    done = threading.Event()

    def on_signal(signum, frame):
        done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if ready_file:
            with atomic_write(ready_file) as tmp, open(tmp, "w") as f:
                f.write(f"{port}\n")
        why = "signal"
        while not done.wait(0.5):
            if parent_pid and _parent_gone(parent_pid):
                why = f"the process that started it ({parent_pid}) has ended"
                break
            if idle_exit and server.activity.idle_for() >= idle_exit:
                why = f"no call for {idle_exit:g} s"
                break
        if why != "signal":
            log.warning("LookGrid server stopping: %s", why)
        return why
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        stop_server(server)

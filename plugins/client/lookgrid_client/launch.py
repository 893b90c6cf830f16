"""Connect to a LookGrid server, or launch one: :func:`connect`.

A host plugin is configured with an address and, optionally, a backend command (the path of a
``lookgrid`` executable, or an argv list). :func:`connect` uses the server at the address; when none
answers and a command is configured, it starts ``<command> serve --address 127.0.0.1:<free port>``,
waits until the standard gRPC health service says SERVING, and ties the process to the returned
client: closing the client (or the interpreter exiting) stops it. Either way the server's
``api_version`` is checked against :data:`API_VERSION`.

The health check speaks ``grpc.health.v1`` with message classes built here from a two-message
descriptor in a private descriptor pool, so the client needs no grpcio-health-checking package and
never clashes with it when both are loaded.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import secrets
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from typing import TYPE_CHECKING

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from lookgrid_client.api import API_VERSION, DEFAULT_ADDRESS, check_api_version
from lookgrid_client.errors import ServerUnavailableError

if TYPE_CHECKING:  # annotations only
    from lookgrid_client.client import LookGridClient

LAUNCH_IDLE_EXIT = 1800.0
"""Seconds without a call after which a server :func:`connect` launched stops by itself."""
PROBE_TIMEOUT = 5.0
"""Seconds the configured server has to answer before a configured launch starts a local one (a
server across a network, TLS handshake included, may need more than a second)."""
SERVING = 1  # grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING


def _health_messages():
    """(HealthCheckRequest, HealthCheckResponse) classes of ``grpc.health.v1``."""
    f = descriptor_pb2.FileDescriptorProto(
        name="lookgrid_client/health.proto", package="grpc.health.v1", syntax="proto3"
    )
    req = f.message_type.add(name="HealthCheckRequest")
    req.field.add(
        name="service",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    resp = f.message_type.add(name="HealthCheckResponse")
    resp.field.add(
        name="status",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return tuple(
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"grpc.health.v1.{n}"))
        for n in ("HealthCheckRequest", "HealthCheckResponse")
    )


_HealthCheckRequest, _HealthCheckResponse = _health_messages()


def health_status(channel: grpc.Channel, service: str = "", timeout: float = 2.0) -> int:
    """The server's health status for ``service`` (1 = SERVING); raises grpc.RpcError when it
    cannot be asked."""
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=_HealthCheckRequest.SerializeToString,
        response_deserializer=_HealthCheckResponse.FromString,
    )
    return int(check(_HealthCheckRequest(service=service), timeout=timeout).status)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (the server's rule for needing no TLS)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_address(address: str) -> bool:
    """True when ``host:port`` (or ``[v6]:port``) names this machine; hosts that must ask before
    going online (Blender's "Allow Online Access") use it."""
    return is_loopback_host(address.rsplit(":", 1)[0].strip("[]") if ":" in address else address)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


_live: "weakref.WeakSet[ServerProcess]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for proc in list(_live):
        proc.stop()


class ServerProcess:
    """A ``lookgrid serve`` child process started by :func:`connect`; :meth:`stop` ends it.

    Its output goes to a private log file (removed by :meth:`stop`) whose last line explains an
    early exit.
    """

    def __init__(
        self,
        command: str | list[str],
        host: str = "127.0.0.1",
        port: int | None = None,
        token: str | None = None,
        roots=(),
        idle_exit: float | None = LAUNCH_IDLE_EXIT,
    ) -> None:
        argv = [command] if isinstance(command, (str, os.PathLike)) else list(command)
        if not argv:
            raise ServerUnavailableError("the backend command to launch is empty")
        self.port = port or free_port(host)
        self.address = f"{host}:{self.port}"
        self.argv = [str(a) for a in argv] + ["serve", "--address", self.address]
        for root in roots:  # the folders a by-path render reads and writes (none: inline frames only)
            self.argv += ["--root", os.fspath(root)]
        # it must not outlive this process (a crashed host), nor sit idle for ever
        self.argv += ["--parent-pid", str(os.getpid())]
        if idle_exit:
            self.argv += ["--idle-exit", f"{idle_exit:g}"]
        self.roots = [os.fspath(r) for r in roots]
        fd, self.log_path = tempfile.mkstemp(prefix="lookgrid-serve-", suffix=".log")
        env = dict(os.environ)
        env.pop("LOOKGRID_TOKEN", None)  # the server takes exactly the token its client sends
        if token:
            env["LOOKGRID_TOKEN"] = token
        try:
            with os.fdopen(fd, "wb") as log:
                self.process = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
        except OSError as err:
            os.unlink(self.log_path)
            raise ServerUnavailableError(
                f"cannot start the LookGrid backend {self.argv[0]!r}: {err.strerror or err}"
            ) from None
        self._lock = threading.Lock()
        _live.add(self)

    def last_output_line(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def wait_serving(self, timeout: float) -> None:
        """Block until the health service answers SERVING; ServerUnavailableError when the process
        exits first or ``timeout`` seconds pass (the process is stopped then)."""
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.address) as channel:
            while True:
                code = self.process.poll()
                if code is not None:
                    why = self.last_output_line()
                    self.stop()
                    raise ServerUnavailableError(
                        f"the LookGrid backend exited with status {code} before serving{': ' + why if why else ''}"
                    )
                try:
                    if health_status(channel, timeout=min(1.0, max(deadline - time.monotonic(), 0.05))) == SERVING:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise ServerUnavailableError(
                        f"the LookGrid backend did not start serving on {self.address} within {timeout:g} s"
                    )
                time.sleep(0.1)

    def stop(self, grace: float = 10.0) -> None:
        """Ask the server to stop (SIGTERM), kill it after ``grace`` seconds; idempotent."""
        with self._lock:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(grace)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if os.path.exists(self.log_path):
                os.unlink(self.log_path)
            _live.discard(self)


def connect(
    address: str | None = None,
    *,
    launch: str | list[str] | None = None,
    timeout: float = 10.0,
    token: str | None = None,
    launch_timeout: float = 120.0,
    probe_timeout: float = PROBE_TIMEOUT,
    roots=(),
    idle_exit: float | None = LAUNCH_IDLE_EXIT,
    **options,
):
    """A :class:`~lookgrid_client.client.LookGridClient` connected to a compatible server.

    Uses the server at ``address`` (default :data:`DEFAULT_ADDRESS`). When none answers within
    ``timeout`` seconds (``probe_timeout`` when a launch is configured) and ``launch`` is given (the
    path of a ``lookgrid`` executable, or an argv list), starts ``<launch> serve --address
    127.0.0.1:<free port>``, waits up to ``launch_timeout`` seconds for health SERVING and returns a
    client that stops that process when closed (and at interpreter exit). ``timeout`` is also the
    deadline of the client's unary calls; ``options`` go to LookGridClient.

    ``token``: default ``$LOOKGRID_TOKEN``. A launched server gets the same token as the client (a
    fresh random one when there is none), so the two always agree and no other local user can use
    it. ``roots``: the launched server's ``--root`` folders (those a by-path render reads and writes).
    A launched server stops by itself when this process ends (``--parent-pid``, so a crashed host
    leaves no server behind) or after ``idle_exit`` seconds without a call.
    :func:`describe_server` says which server a client talks to, for a host's status line.

    Raises ServerUnavailableError (nothing answers, the launch failed) or IncompatibleServerError
    (the server's api_version is not :data:`API_VERSION`).
    """
    from lookgrid_client.client import LookGridClient

    address = address or DEFAULT_ADDRESS
    if token is None:
        token = os.environ.get("LOOKGRID_TOKEN") or None
    client = LookGridClient(address, token=token, timeout=timeout, **options)
    try:
        client.wait_ready(probe_timeout if launch else timeout)
    except ServerUnavailableError:
        client.close()
        if not launch:
            raise
        launch_token = token or secrets.token_urlsafe(24)
        proc = ServerProcess(launch, token=launch_token, roots=roots, idle_exit=idle_exit)
        proc.wait_serving(launch_timeout)
        client = LookGridClient(
            proc.address,
            token=launch_token,
            timeout=timeout,
            **{k: v for k, v in options.items() if k not in ("tls", "root_certificates")},
        )
        client.owned_process = proc
        client.asked_address = address
    try:
        client.check_version()
    except BaseException:
        client.close()
        raise
    return client


_session: dict[tuple, "LookGridClient"] = {}
_session_lock = threading.Lock()


def session_client(
    address: str | None = None,
    *,
    launch: str | list[str] | None = None,
    timeout: float = 10.0,
    token: str | None = None,
    **options,
):
    """The client :func:`connect` gave for these settings earlier in this process, while its server
    still answers; otherwise a new one (launching a server if so configured). A host keeps one
    backend for its whole session this way instead of starting one per job; a launched server is
    stopped at interpreter exit (or by :func:`close_session_clients`)."""
    key = (
        address or DEFAULT_ADDRESS,
        tuple(launch) if isinstance(launch, list) else launch,
        token,
        tuple(os.fspath(r) for r in options.get("roots", ())),
    )
    with _session_lock:
        client = _session.get(key)
        if client is not None:
            try:
                if health_status(client._channel, timeout=min(timeout, 2.0)) == SERVING:
                    return client
            except grpc.RpcError:
                pass
            client.close()
            del _session[key]
        client = connect(address, launch=launch, timeout=timeout, token=token, **options)
        _session[key] = client
        return client


def close_session_clients() -> None:
    """Close every client :func:`session_client` keeps (stopping the servers they launched)."""
    with _session_lock:
        for client in _session.values():
            client.close()
        _session.clear()


def describe_server(client) -> str:
    """Which server ``client`` renders on, for a host's status line: its address, and whether
    LookGrid started it here because nothing answered at the configured one."""
    proc = getattr(client, "owned_process", None)
    if proc is None:
        return f"the LookGrid server at {client.address}"
    asked = getattr(client, "asked_address", "")
    why = f", nothing answered at {asked}" if asked else ""
    return f"a LookGrid server started on this machine ({client.address}{why})"


__all__ = [
    "API_VERSION",
    "DEFAULT_ADDRESS",
    "LAUNCH_IDLE_EXIT",
    "PROBE_TIMEOUT",
    "ServerProcess",
    "check_api_version",
    "close_session_clients",
    "connect",
    "describe_server",
    "free_port",
    "health_status",
    "is_local_address",
    "is_loopback_host",
    "session_client",
]

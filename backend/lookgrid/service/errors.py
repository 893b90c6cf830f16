"""One table from LookGrid's errors to gRPC status codes, and the handler wrappers that apply it.

The servicer never lets an exception reach gRPC by itself (gRPC would send it as UNKNOWN): every
handler is wrapped by :func:`unary` or :func:`streaming`, which abort the call with
:func:`status_for` — the code from :data:`STATUS_TABLE`, found by walking the exception's class
hierarchy (most specific first); anything not in the table is a bug reported as INTERNAL with the
exception's class name (and logged with its traceback).
"""

from __future__ import annotations

import functools
import logging

import grpc

from lookgrid import errors as E
from lookgrid_client.wire import WireError

log = logging.getLogger("lookgrid.service")

#: Exception class -> status code. Looked up along ``type(err).__mro__``, so subclasses inherit
#: their parent's code unless listed themselves.
STATUS_TABLE: dict[type[BaseException], grpc.StatusCode] = {
    E.InvalidInputError: grpc.StatusCode.INVALID_ARGUMENT,
    E.ShapeMismatchError: grpc.StatusCode.INVALID_ARGUMENT,
    E.NonFiniteInputError: grpc.StatusCode.INVALID_ARGUMENT,
    E.ColorSpaceError: grpc.StatusCode.INVALID_ARGUMENT,
    E.ImageReadError: grpc.StatusCode.INVALID_ARGUMENT,
    WireError: grpc.StatusCode.INVALID_ARGUMENT,
    E.MissingFramesError: grpc.StatusCode.NOT_FOUND,
    E.UnknownClipError: grpc.StatusCode.NOT_FOUND,
    E.UnknownStyleError: grpc.StatusCode.NOT_FOUND,
    E.PathOutsideRootsError: grpc.StatusCode.PERMISSION_DENIED,
    E.ModelNotAvailableError: grpc.StatusCode.FAILED_PRECONDITION,
    E.ImageWriteError: grpc.StatusCode.FAILED_PRECONDITION,
    E.ClipStateError: grpc.StatusCode.FAILED_PRECONDITION,
    E.UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
    E.ResourceLimitError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    MemoryError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    E.DeadlineError: grpc.StatusCode.DEADLINE_EXCEEDED,
    E.CancelledError: grpc.StatusCode.CANCELLED,
    # A LookGridError subclass nobody listed yet: a deliberate refusal, not a bug.
    E.LookGridError: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_for(err: BaseException) -> tuple[grpc.StatusCode, str]:
    """(status code, message) for an exception; never ``UNKNOWN``."""
    for cls in type(err).__mro__:
        code = STATUS_TABLE.get(cls)
        if code is not None:
            message = str(err) or cls.__name__
            if isinstance(err, WireError) and err.field and err.field not in message:
                message = f"{err.field}: {message}"
            return code, message
    return grpc.StatusCode.INTERNAL, f"internal error ({type(err).__name__}): {err}"


def abort_with(context: grpc.ServicerContext, err: BaseException):
    """Abort the RPC with the status for ``err`` (raises, as ``context.abort`` does)."""
    code, message = status_for(err)
    context.abort(code, message)


def _fail(context, err: BaseException):
    if context.code() is not None and context.code() != grpc.StatusCode.OK:
        raise err  # already aborted by us: let gRPC finish it
    if not context.is_active():
        log.info("call ended by the client: %s", err)
        context.abort(grpc.StatusCode.CANCELLED, "the client cancelled the call")
    if not isinstance(err, (E.LookGridError, WireError, MemoryError)):
        log.exception("unexpected error")
    abort_with(context, err)


def unary(method):
    """Run a unary handler; any exception leaves as a mapped status (never UNKNOWN)."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except Exception as err:  # noqa: BLE001 - mapped, never swallowed
            _fail(context, err)

    return wrapper


def streaming(method):
    """Like :func:`unary` for handlers that are generators (server streaming)."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            yield from method(self, request, context)
        except Exception as err:  # noqa: BLE001
            _fail(context, err)

    return wrapper


def cancel_check(context):
    """``cancel()`` for engine loops: true when the client went away; raises
    :class:`DeadlineError` once the call's deadline has passed."""

    def cancel() -> bool:
        if not context.is_active():
            return True
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise E.DeadlineError("the call's deadline passed before the work finished")
        return False

    return cancel

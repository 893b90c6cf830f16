"""One table from LookGrid's errors to gRPC status codes.

The servicer never lets an exception reach gRPC by itself (gRPC would send it as UNKNOWN):
:func:`status_for` picks the code from :data:`STATUS_TABLE` by walking the exception's class
hierarchy (most specific first), and anything not in the table is a bug reported as INTERNAL with
the exception's class name.
"""

from __future__ import annotations

import grpc

from lookgrid import errors as E
from lookgrid_client.wire import WireError

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

"""Every error LookGrid raises on purpose, in one place.

Names read as sentences. ``LookGridError`` is the root; the command line prints ``str(err)`` on one
line and exits non-zero; the gRPC servicer maps each class to a status code through one table
(``lookgrid.service.errors``). Add new classes here, never ad hoc elsewhere.
"""

from __future__ import annotations


class LookGridError(Exception):
    """Base class: a user-facing problem with a clear one-line message."""


# --- input --------------------------------------------------------------------------------------
class InvalidInputError(LookGridError, ValueError):
    """An argument, shape, size or value is not acceptable (maps to INVALID_ARGUMENT)."""


class ShapeMismatchError(InvalidInputError):
    """A tensor or image has the wrong shape; the message states the shape received."""


class NonFiniteInputError(InvalidInputError):
    """NaN or Inf were found where the policy forbids them."""


# --- files --------------------------------------------------------------------------------------
class ImageReadError(LookGridError, OSError):
    """A file could not be read completely (missing, corrupt, truncated, unsupported)."""


class ImageWriteError(LookGridError, OSError):
    """A file could not be written."""


class MissingFramesError(LookGridError, FileNotFoundError):
    """Frames of a sequence are missing; the message names the gaps."""


class ColorSpaceError(LookGridError, ValueError):
    """An OpenColorIO config or colour space could not be found or used."""


class PathOutsideRootsError(LookGridError, PermissionError):
    """A path escapes the configured roots (.., symlinks) (maps to PERMISSION_DENIED)."""


# --- state --------------------------------------------------------------------------------------
class UnknownClipError(LookGridError, KeyError):
    """No clip with this id is open (never opened, closed, or evicted) (maps to NOT_FOUND)."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else "unknown clip"


class UnknownStyleError(LookGridError, KeyError):
    """A style referenced by hash was never uploaded (maps to NOT_FOUND)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown style"


class ModelNotAvailableError(LookGridError, RuntimeError):
    """Model weights are missing or incompatible (maps to FAILED_PRECONDITION)."""


class ResourceLimitError(LookGridError, RuntimeError):
    """A memory, size or count limit would be exceeded (maps to RESOURCE_EXHAUSTED)."""


class CancelledError(LookGridError, RuntimeError):
    """The operation was cancelled by the caller (maps to CANCELLED)."""


class DeadlineError(LookGridError, TimeoutError):
    """The operation ran past its deadline (maps to DEADLINE_EXCEEDED)."""


class FarmTaskError(LookGridError, RuntimeError):
    """A farm task failed for good (after its retries); the message names the chunk and the cause."""


class TrainingDivergedError(LookGridError, RuntimeError):
    """Training stopped because it went wrong: a loss became non-finite, or the grids stopped
    depending on the input (the grid path is dead)."""


class ClipStateError(LookGridError, RuntimeError):
    """A call does not fit the clip's state, e.g. analysing frames that were never sent (maps to
    FAILED_PRECONDITION)."""


class UnauthenticatedError(LookGridError, PermissionError):
    """A token is required and was missing or wrong (maps to UNAUTHENTICATED)."""

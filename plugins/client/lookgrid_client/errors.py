"""Every error the client raises, one family: :class:`LookGridError` and its subclasses.

``str(err)`` is always one readable line (no traceback text, no embedded newlines), so a host can put
it straight into a status bar or a report: ``except LookGridError as err: host.report(str(err))``.
"""

from __future__ import annotations


def one_line(text: str, limit: int = 500) -> str:
    """``text`` with runs of whitespace (newlines included) collapsed to single spaces, at most
    ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class LookGridError(Exception):
    """Base of every client error. ``str(err)`` is one readable line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class InvalidRequestError(LookGridError, ValueError):
    """The caller's input is wrong before anything is sent (a spec, a frame list, a curve, a file)."""


class ServerUnavailableError(LookGridError):
    """Nothing answers at the address (and no launch was configured, or the launch failed)."""


class IncompatibleServerError(LookGridError):
    """The server speaks another API version than this client."""


class RenderCancelledError(LookGridError):
    """The caller cancelled a render; the clip was closed and nothing more was written."""


class ServerError(LookGridError):
    """A call failed on the server or on the way. ``code`` is the grpc.StatusCode, ``details`` its
    text, ``method`` the RPC's name."""

    def __init__(self, code, details: str, method: str = "") -> None:
        self.code = code
        self.details = one_line(details)
        self.method = method
        name = getattr(code, "name", str(code))
        super().__init__(f"{method + ': ' if method else ''}{name}: {self.details}")


__all__ = [
    "IncompatibleServerError",
    "InvalidRequestError",
    "LookGridError",
    "RenderCancelledError",
    "ServerError",
    "ServerUnavailableError",
    "one_line",
]

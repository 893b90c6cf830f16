"""Host-independent LookGrid client: talks to ``lookgrid serve`` over gRPC.

Imports only grpc, protobuf and numpy (never torch, never the ``lookgrid`` backend), so it runs in
Nuke's, Blender's or Resolve's Python; it is also its own distribution, ``lookgrid-client``
(``plugins/client/pyproject.toml``). ``pb`` is the generated message module
(``protos/lookgrid/v1/lookgrid.proto``); :mod:`lookgrid_client.wire` is the chunked frame format
shared with the server; :func:`connect` finds or launches a server; :class:`LookGridClient` is the
API, with :meth:`~LookGridClient.render_sequence` for a host's frame sequence;
:mod:`lookgrid_client.api` says which API it speaks; :mod:`lookgrid_client.frames` holds the frame
types; :func:`track_from_samples` turns a sampled host curve into a Track; :mod:`lookgrid_client.errors`
holds every error (all :class:`LookGridError`, one line each); :mod:`lookgrid_client.hostjob` runs
work off a host's UI thread; :mod:`lookgrid_client.output` writes result sequences atomically.
"""

from lookgrid_client.api import API_VERSION, DEFAULT_ADDRESS
from lookgrid_client.client import LookGridClient, spec_dict, spec_message
from lookgrid_client.errors import (
    IncompatibleServerError,
    InvalidRequestError,
    LookGridError,
    RenderCancelledError,
    ServerError,
    ServerUnavailableError,
)
from lookgrid_client.frames import FrameIn, FrameOut
from lookgrid_client.launch import connect
from lookgrid_client.proto import lookgrid_pb2 as pb
from lookgrid_client.sequence import RenderResult, frames_text, storage_spec
from lookgrid_client.tracks import track_from_samples
from lookgrid_client.wire import style_hash

__all__ = [
    "API_VERSION",
    "DEFAULT_ADDRESS",
    "FrameIn",
    "FrameOut",
    "IncompatibleServerError",
    "InvalidRequestError",
    "LookGridClient",
    "LookGridError",
    "RenderCancelledError",
    "RenderResult",
    "ServerError",
    "ServerUnavailableError",
    "connect",
    "frames_text",
    "pb",
    "spec_dict",
    "spec_message",
    "storage_spec",
    "style_hash",
    "track_from_samples",
]

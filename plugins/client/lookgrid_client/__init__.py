"""Host-independent LookGrid client: talks to ``lookgrid serve`` over gRPC.

Imports only grpc, protobuf and numpy (never torch, never the ``lookgrid`` backend), so it runs in
Nuke's, Blender's or Resolve's Python. ``pb`` is the generated message module
(``protos/lookgrid/v1/lookgrid.proto``); :mod:`lookgrid_client.wire` is the chunked frame format
shared with the server; :class:`LookGridClient` is the API.
"""

from lookgrid_client.proto import lookgrid_pb2 as pb
from lookgrid_client.wire import style_hash
from lookgrid_client.client import (
    DEFAULT_ADDRESS,
    FrameIn,
    FrameOut,
    LookGridClient,
    ServerError,
    spec_dict,
    spec_message,
)

__all__ = ["pb", "style_hash", "DEFAULT_ADDRESS", "FrameIn", "FrameOut", "LookGridClient", "ServerError",
           "spec_dict", "spec_message"]

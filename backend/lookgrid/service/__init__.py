"""The gRPC backend: ``lookgrid.v1.LookGrid`` (protos/lookgrid/v1/lookgrid.proto) over one Engine.

* :mod:`.server` — ``create_server(address, engine, ...) -> (server, port)``, ``serve``,
  ``stop_server``; health checking, reflection, TLS + token, loopback by default.
* :mod:`.servicer` — ``LookGridServicer``: validate, translate, call the engine.
* :mod:`.errors` — the one table from LookGrid errors to status codes.
* :mod:`.paths` — confinement of client-named paths to the configured roots.
* :mod:`.frames` — inline frames (raw arrays / EXR bytes) <-> engine inputs.

The wire format of frames (chunks, raw arrays, style hashes) is shared with the client:
:mod:`lookgrid_client.wire`.
"""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("create_server", "serve", "stop_server", "DEFAULT_ADDRESS"):
        from lookgrid.service import server

        return getattr(server, name)
    if name == "LookGridServicer":
        from lookgrid.service.servicer import LookGridServicer

        return LookGridServicer
    raise AttributeError(f"module 'lookgrid.service' has no attribute {name!r}")


__all__ = ["create_server", "serve", "stop_server", "DEFAULT_ADDRESS", "LookGridServicer"]

"""The gRPC backend: ``lookgrid.v1.LookGrid`` (protos/lookgrid/v1/lookgrid.proto) over one Engine.

* :mod:`.server` — ``create_server(address, engine, ...) -> (server, port)``, ``serve``,
  ``stop_server``, ``start_in_process`` (a ``with`` block); health checking, reflection, TLS +
  token, loopback by default.
* :mod:`.servicer` — ``LookGridServicer``: each handler validates, calls the engine.
* :mod:`.checks` — request checks: limits, raw payload sizes, the spec.
* :mod:`.errors` — the one table from LookGrid errors to status codes, and the handler wrappers.
* :mod:`.streams` — thread ↔ stream bridges.
* :mod:`.paths` — confinement of client-named paths to the configured roots.
* :mod:`.frames` — inline frames (raw arrays / EXR bytes) <-> engine inputs.

The wire format of frames (chunks, raw arrays, style hashes) is shared with the client:
:mod:`lookgrid_client.wire`.
"""

from __future__ import annotations

from lookgrid.service.server import DEFAULT_ADDRESS, create_server, serve, start_in_process, stop_server
from lookgrid.service.servicer import LookGridServicer

__all__ = ["DEFAULT_ADDRESS", "LookGridServicer", "create_server", "serve", "start_in_process", "stop_server"]

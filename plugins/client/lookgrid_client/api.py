"""What this client asks of a server: the API version it speaks and the address it tries first.

Below :mod:`lookgrid_client.client` (which checks a server's version) and
:mod:`lookgrid_client.launch` (which connects or launches one), so neither imports the other to
learn them.
"""

from __future__ import annotations

from lookgrid_client.errors import IncompatibleServerError

API_VERSION = "lookgrid.v1"
DEFAULT_ADDRESS = "127.0.0.1:50051"


def check_api_version(server_version: str, address: str) -> None:
    """IncompatibleServerError unless ``server_version`` is this client's :data:`API_VERSION`."""
    if server_version != API_VERSION:
        raise IncompatibleServerError(
            f"the LookGrid server at {address} speaks API {server_version or '(none)'!r}, this client "
            f"needs {API_VERSION!r}: install matching versions of the backend and the plugin"
        )

"""Child side of ``read_image(..., isolated=True)``: reads a pickled ``(path, kwargs)`` request from
stdin, writes a pickled ``("ok", Image)``, ``("limit", message)`` (a size limit refused it) or
``("error", message)`` to stdout. If the decoder
crashes, this process dies alone and the parent reports it."""

from __future__ import annotations

import pickle
import sys

from lookgrid.errors import ImageReadError, ResourceLimitError
from lookgrid.imaging.io import read_image


def main() -> int:
    path, kwargs = pickle.loads(sys.stdin.buffer.read())
    try:
        result: tuple[str, object] = ("ok", read_image(path, **kwargs))
    except ResourceLimitError as err:
        result = ("limit", str(err))
    except ImageReadError as err:
        result = ("error", str(err))
    except Exception as err:  # noqa: BLE001 - anything else is still a failed read
        result = ("error", f"cannot read {path}: {type(err).__name__}: {err}")
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ways of transferring a look that the engine offers (the spec's ``method``)."""

from __future__ import annotations

METHOD_NAMES: tuple[str, ...] = ("lookgrid", "per-frame", "pixel-blend", "reinhard")

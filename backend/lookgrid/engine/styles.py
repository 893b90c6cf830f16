"""The style store: reference images by key, and what the engine derives from them, cached.

A key is a content hash ``sha256:<hex>`` (an upload, :meth:`StyleStore.register`) or a path read
from disk on first use. Per key the store keeps the working-space pixels ``(H,W,3)``, the
network-resolution copy ``(1,3,L,L)``, the encoded features (at most :data:`MAX_FEATURES`, least
recently used dropped first) and the Reinhard colour statistics.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

import numpy as np
import torch

from lookgrid.engine.clip import resize_planes, to_image_tensor
from lookgrid.errors import ShapeMismatchError, UnknownStyleError
from lookgrid.imaging import read_style_image
from lookgrid.model.reinhard import style_stats

#: encoded styles kept (each a few MB of features)
MAX_FEATURES = 256


class StyleStore:
    """Thread-safe store of styles. ``model()`` returns the network (loaded lazily by the engine);
    its ``LOW_RES`` and ``encode_style`` give the network-resolution copy and the features."""

    def __init__(self, device: torch.device, model: Callable[[], object]) -> None:
        self.device = device
        self._model = model
        self._lock = threading.RLock()
        self._images: dict[str, np.ndarray] = {}
        self._low: dict[str, torch.Tensor] = {}
        self._features: OrderedDict[str, object] = OrderedDict()
        self._stats: dict[str, object] = {}

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._images

    def __len__(self) -> int:
        with self._lock:
            return len(self._images)

    def register(self, key: str, pixels_working: np.ndarray) -> str:
        """Keep a style image ``(H,W,3)`` (working space) under ``key``; drops what was derived
        from an earlier image of that key."""
        arr = np.asarray(pixels_working, dtype=np.float32)
        if arr.ndim != 3 or arr.shape[2] < 3:
            raise ShapeMismatchError(f"style image must be (H, W, 3), got {arr.shape}")
        with self._lock:
            self._images[key] = np.ascontiguousarray(arr[..., :3])
            self._low.pop(key, None)
            self._stats.pop(key, None)
            self._features.pop(key, None)
        return key

    def image(self, key: str) -> np.ndarray:
        """``(H,W,3)`` working-space pixels: a registered key, or a path read from disk."""
        with self._lock:
            img = self._images.get(key)
        if img is not None:
            return img
        if key.startswith("sha256:"):
            raise UnknownStyleError(f"style {key} was never uploaded")
        img = np.asarray(read_style_image(key), dtype=np.float32)
        with self._lock:
            self._images[key] = img
        return img

    def lowres(self, key: str) -> torch.Tensor:
        """``(1,3,L,L)`` network-resolution copy (non-finite values replaced)."""
        with self._lock:
            low = self._low.get(key)
        if low is None:
            img = self.image(key)
            size = int(getattr(self._model(), "LOW_RES", 256))
            t = to_image_tensor(np.nan_to_num(img, nan=0.0, posinf=1.0, neginf=0.0), self.device)
            low = resize_planes(t, size, size).contiguous()
            with self._lock:
                self._low[key] = low
        return low

    def features(self, keys: tuple[str, ...]):
        """Encoded styles for one network call: each style is encoded once and cached, then the
        per-region rows are stacked (``StyleFeatures.stack``)."""
        items = []
        for key in keys:
            with self._lock:
                feats = self._features.get(key)
                if feats is not None:
                    self._features.move_to_end(key)
            if feats is None:
                low = self.lowres(key)
                with torch.inference_mode():
                    feats = self._model().encode_style(low)
                with self._lock:
                    self._features[key] = feats
                    while len(self._features) > MAX_FEATURES:
                        self._features.popitem(last=False)
            items.append(feats)
        if len(items) == 1:
            return items[0]
        return type(items[0]).stack(items)

    def forget_features(self, key: str | None = None) -> None:
        """Drop the encoded features of ``key`` (all keys: ``None``), e.g. after a model change."""
        with self._lock:
            if key is None:
                self._features.clear()
            else:
                self._features.pop(key, None)

    def stats(self, key: str):
        """Colour statistics for the Reinhard method."""
        with self._lock:
            st = self._stats.get(key)
        if st is None:
            st = style_stats(self.image(key))
            with self._lock:
                self._stats[key] = st
        return st

"""The style store: reference images by key, and what the engine derives from them, cached.

A key is a content hash ``sha256:<hex>`` (an upload, :meth:`StyleStore.register`) or a path read
from disk on first use. Per key the store keeps the working-space pixels ``(H,W,3)``, the
network-resolution copy ``(1,3,L,L)``, the encoded features (at most :data:`MAX_FEATURES`, least
recently used dropped first) and the Reinhard colour statistics.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
import torch

from lookgrid.engine.tensors import resize_planes, to_image_tensor
from lookgrid.errors import ShapeMismatchError, UnknownStyleError
from lookgrid.imaging import read_style_image
from lookgrid.model.reinhard import style_stats

#: encoded styles kept (each a few MB of features)
MAX_FEATURES = 256
#: styles are kept with their longer side at most this long (the network analyses them at
#: ``LOW_RES``, the Reinhard statistics need no more)
MAX_STYLE_SIDE = 1024
#: default bound of the store's pictures, in bytes (least recently used dropped first)
MAX_STORE_BYTES = 1 << 30
#: evicted keys remembered (to say "evicted" rather than "never uploaded")
REMEMBER_EVICTED = 10_000


def fit_style(pixels: np.ndarray, max_side: int = MAX_STYLE_SIDE) -> np.ndarray:
    """``(H, W, 3)`` float32, shrunk (antialiased) so the longer side is at most ``max_side``."""
    h, w = pixels.shape[:2]
    if max(h, w) <= max_side:
        return pixels
    scale = max_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    t = torch.from_numpy(np.nan_to_num(pixels, nan=0.0, posinf=65504.0, neginf=-65504.0))
    out = resize_planes(t.permute(2, 0, 1)[None], *size)[0].permute(1, 2, 0)
    return np.ascontiguousarray(out.numpy(), dtype=np.float32)


class StyleStore:
    """Thread-safe store of styles. ``model()`` returns the network (loaded lazily by the engine);
    its ``LOW_RES`` and ``encode_style`` give the network-resolution copy and the features.

    Pictures are kept at most :data:`MAX_STYLE_SIDE` long and, all together, within ``max_bytes``:
    beyond it the least recently used style is dropped with what was derived from it; asking for an
    evicted upload raises :class:`UnknownStyleError` saying so (clients upload it again), a path
    is read again."""

    def __init__(self, device: torch.device, model: Callable[[], Any], *, max_bytes: int = MAX_STORE_BYTES) -> None:
        self.device = device
        self._model = model
        self.max_bytes = int(max_bytes)
        self._lock = threading.RLock()
        self._images: OrderedDict[str, np.ndarray] = OrderedDict()
        self._evicted: OrderedDict[str, None] = OrderedDict()
        self._low: dict[str, torch.Tensor] = {}
        self._features: OrderedDict[str, Any] = OrderedDict()
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
        self._keep(key, fit_style(np.ascontiguousarray(arr[..., :3])))
        return key

    def _keep(self, key: str, img: np.ndarray) -> None:
        with self._lock:
            self._drop(key)
            self._images[key] = img
            self._evicted.pop(key, None)
            while len(self._images) > 1 and self.nbytes() > self.max_bytes:
                old, _ = next(iter(self._images.items()))
                self._drop(old)
                self._evicted[old] = None
                while len(self._evicted) > REMEMBER_EVICTED:
                    self._evicted.popitem(last=False)

    def _drop(self, key: str) -> None:
        self._images.pop(key, None)
        self._low.pop(key, None)
        self._stats.pop(key, None)
        self._features.pop(key, None)

    def nbytes(self) -> int:
        """Bytes of the pictures kept."""
        with self._lock:
            return sum(img.nbytes for img in self._images.values())

    def image(self, key: str) -> np.ndarray:
        """``(H,W,3)`` working-space pixels: a registered key, or a path read from disk."""
        with self._lock:
            img = self._images.get(key)
            if img is not None:
                self._images.move_to_end(key)
                return img
            evicted = key in self._evicted
        if key.startswith("sha256:"):
            if evicted:
                raise UnknownStyleError(
                    f"style {key} was evicted from the server's style store "
                    f"(least recently used, {self.max_bytes} bytes in all); "
                    "upload it again"
                )
            raise UnknownStyleError(f"style {key} was never uploaded")
        img = fit_style(np.asarray(read_style_image(key), dtype=np.float32))
        self._keep(key, img)
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
        items: list[Any] = []
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

"""Helpers of the hostile-input suite (a module with its own name, not ``conftest``)."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np

from lookgrid.commands.bench.soak import mutate, png_bomb, rss_bytes  # noqa: F401 - one place for faults
from lookgrid_client.proto import lookgrid_pb2 as pb


def style_image(seed: int, tint) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    base = np.stack([x, y, 0.5 * (x + y)], axis=-1) * 0.4
    return np.clip(base + np.asarray(tint) + 0.05 * rng.standard_normal((48, 64, 3)), 0, 1).astype(np.float32)


def two_region_spec(key_fg: str, key_bg: str, **extra) -> dict:
    spec = {"regions": [{"name": "fg", "mask": "inline", "styles": [{"style": key_fg}]},
                        {"name": "background", "styles": [{"style": key_bg}]}]}
    spec.update(extra)
    return spec


def status_of(call) -> grpc.StatusCode:
    """Drain a response stream (or resolve a unary call); the final status code."""
    try:
        if hasattr(call, "__iter__"):
            for _ in call:
                pass
        else:
            call.result() if hasattr(call, "result") else None
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


class HeldStream:
    """A RenderFrames request stream that sends ``messages`` and then stays open (sends nothing)
    until :meth:`release`; the call runs in a thread and its final status is kept."""

    def __init__(self, stub, messages, timeout: float = 60.0) -> None:
        self._release = threading.Event()
        self.code = None
        self.sent = threading.Event()

        def requests():
            for m in messages:
                yield m
            self.sent.set()
            self._release.wait(timeout)

        self.call = stub.RenderFrames(requests(), timeout=timeout)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.code = status_of(self.call)

    def release(self, cancel: bool = True):
        if cancel:
            self.call.cancel()
        self._release.set()
        self.thread.join(30)


def header(clip_id: str, frame: int, w: int, h: int, channels, encoding=pb.RAW_HALF, payload_bytes=None):
    item = 2 if encoding == pb.RAW_HALF else 4
    size = w * h * len(channels) * item if payload_bytes is None else payload_bytes
    return pb.RenderFramesRequest(header=pb.FrameHeader(clip_id=clip_id, frame=frame, encoding=encoding,
                                                        width=w, height=h, channels=list(channels),
                                                        payload_bytes=size))


def wait_until(pred, timeout: float = 10.0, step: float = 0.05) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()

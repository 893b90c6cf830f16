"""Encoders giving features at four scales of a 256×256 input: 256, 128, 64 and 32.

* :class:`LookGridEncoder` — ours, small, trained by this project (no ImageNet weights can be
  downloaded here). Channels default to (16, 32, 64, 128).
* :class:`VGG19Encoder` — optional: VGG-19 up to relu4_1 (relu1_1, relu2_1, relu3_1, relu4_1 as the
  paper uses), architecture defined here, weights loaded from a torchvision-format state dict the
  user gives (``features.N.weight`` keys). Never downloaded; frozen.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from lookgrid.errors import ModelNotAvailableError


def conv(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, padding_mode="replicate")


class LookGridEncoder(nn.Module):
    """image ``(B,3,256,256)`` → 4 features ``(B,C_i,256/2^i,256/2^i)``, i = 0..3."""

    def __init__(self, channels=(16, 32, 64, 128)):
        super().__init__()
        c0, c1, c2, c3 = channels
        self.channels = tuple(channels)
        self.s0 = nn.Sequential(conv(3, c0), nn.ReLU())
        self.s1 = nn.Sequential(conv(c0, c1, 2), nn.ReLU(), conv(c1, c1), nn.ReLU())
        self.s2 = nn.Sequential(conv(c1, c2, 2), nn.ReLU(), conv(c2, c2), nn.ReLU())
        self.s3 = nn.Sequential(conv(c2, c3, 2), nn.ReLU())

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f0 = self.s0(x - 0.5)
        f1 = self.s1(f0)
        f2 = self.s2(f1)
        return [f0, f1, f2, self.s3(f2)]


# torchvision's vgg19().features up to conv4_1: (index, in, out) of each conv; "M" = max-pool.
_VGG_LAYOUT = [
    (0, 3, 64),
    (2, 64, 64),
    "M",
    (5, 64, 128),
    (7, 128, 128),
    "M",
    (10, 128, 256),
    (12, 256, 256),
    (14, 256, 256),
    (16, 256, 256),
    "M",
    (19, 256, 512),
]
_VGG_TAPS = (0, 5, 10, 19)  # relu after these convs: relu1_1, relu2_1, relu3_1, relu4_1


class VGG19Encoder(nn.Module):
    """Frozen VGG-19 features (ImageNet normalisation inside); channels (64, 128, 256, 512)."""

    channels = (64, 128, 256, 512)

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleDict()
        for item in _VGG_LAYOUT:
            if item != "M":
                idx, cin, cout = item
                self.convs[str(idx)] = nn.Conv2d(cin, cout, 3, padding=1)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def load_torchvision(self, path: str | Path) -> None:
        """Load ``features.N.{weight,bias}`` from a torchvision VGG-19 state dict at ``path``."""
        try:
            sd = torch.load(Path(path), map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any failure means the file is unusable
            raise ModelNotAvailableError(f"cannot read VGG-19 weights from {path}: {err}") from err
        if isinstance(sd, dict) and "state_dict" in sd:
            sd = sd["state_dict"]
        mine = {}
        for idx in self.convs:
            for p in ("weight", "bias"):
                key = f"features.{idx}.{p}"
                if key not in sd:
                    raise ModelNotAvailableError(f"{path} is not a torchvision VGG-19 state dict: no {key}")
                mine[f"{idx}.{p}"] = sd[key]
        try:
            self.convs.load_state_dict(mine)
        except RuntimeError as err:
            raise ModelNotAvailableError(f"{path}: VGG-19 weights have the wrong shapes: {err}") from err

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean) / self.std
        feats = []
        for item in _VGG_LAYOUT:
            if item == "M":
                h = torch.max_pool2d(h, 2)
                continue
            h = torch.relu(self.convs[str(item[0])](h))
            if item[0] in _VGG_TAPS:
                feats.append(h)
        return feats

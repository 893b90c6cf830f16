"""The mask-aware guide: a per-pixel network giving the depth coordinate z ∈ (0, 1) for slicing.

Paper (Table 4, G¹/G²): two convs, input RGB + mask, sigmoid output. Ours:

* **How N masks enter.** The guide sees one extra channel, the *region code map*
  ``c = Σ_k m_k·code_k / max(Σ_k m_k, 1e-6)`` with ``code_k = 1 − k/(N−1)`` (``code_0 = 1`` for
  N = 1). Why: the guide is one map shared by all regions, so its input must have a fixed size for
  any N; a code that differs between regions lets it push neighbouring regions to different depth
  bins (which is what separates them in grid space), and for N = 2 with the background last the
  code equals the foreground mask — exactly the paper's input. Region order matters: the caller
  keeps it fixed for a clip (the engine passes the background last).
* **1×1 convs** (4 → K=16, ReLU, → 1, sigmoid) instead of 3×3: the guide runs at full resolution
  and its cost counts in the render budget; a pointwise guide is fused into the slice kernel
  (:mod:`._cpu_kernels`) and costs no extra pass over memory. Spatial context comes from the grid.
* Initialised so ``z = sigmoid(4·(luma − 0.5))`` (monotone in luminance, the paper's guide-loss
  target) with small random weights on the other hidden units.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lookgrid.model.colormath import LUMA_WEIGHTS
from lookgrid.model.grid import check_shape


def region_codes(n: int, *, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """``(N,)`` codes ``1 − k/(N−1)`` (1 for a single region)."""
    if n == 1:
        return torch.ones(1, dtype=dtype, device=device)
    return 1.0 - torch.arange(n, dtype=dtype, device=device) / (n - 1)


def region_code_map(masks: torch.Tensor) -> torch.Tensor:
    """masks ``(B, N, H, W)`` in [0, 1] → code map ``(B, 1, H, W)`` (0 where no mask covers)."""
    check_shape("masks", masks, "(B,N,H,W)")
    codes = region_codes(masks.shape[1], dtype=masks.dtype, device=masks.device).view(1, -1, 1, 1)
    total = masks.sum(dim=1, keepdim=True)
    return (masks * codes).sum(dim=1, keepdim=True) / total.clamp_min(1e-6)


def pointwise_guide(image, code_map, w1, b1, w2, b2) -> torch.Tensor:
    """z = sigmoid(w2 · relu(w1 · [r, g, b, c] + b1) + b2) per pixel.

    image ``(B,3,H,W)``, code_map ``(B,1,H,W)``, w1 ``(K,4)``, b1 ``(K,)``, w2 ``(K,)``, b2 ``()``.
    Returns ``(B, H, W)`` in (0, 1).
    """
    x = torch.cat([image, code_map], dim=1)
    h = torch.relu(F.conv2d(x, w1[:, :, None, None], b1))
    return torch.sigmoid(F.conv2d(h, w2[None, :, None, None], b2.reshape(1)))[:, 0]


class GuideNet(nn.Module):
    """Holds the guide's weights; :meth:`forward` is :func:`pointwise_guide` on (image, masks)."""

    def __init__(self, hidden: int = 16):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(hidden, 4) * 0.05)
        self.b1 = nn.Parameter(torch.zeros(hidden))
        self.w2 = nn.Parameter(torch.randn(hidden) * 0.05)
        self.b2 = nn.Parameter(torch.tensor(-2.0))
        with torch.no_grad():
            self.w1[0] = torch.tensor([*LUMA_WEIGHTS, 0.0])
            self.w2[0] = 4.0

    def forward(self, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """image ``(B,3,H,W)``, masks ``(B,N,H,W)`` → guide ``(B,H,W)``."""
        check_shape("image", image, "(B,3,H,W)")
        check_shape("masks", masks, "(B,N,H,W)", B=image.shape[0], H=image.shape[2], W=image.shape[3])
        return pointwise_guide(image, region_code_map(masks.to(image.dtype)), self.w1, self.b1, self.w2, self.b2)

    def kernel_weights(self):
        """float32 numpy ``(w1 (K,4), b1 (K,), w2 (K,), b2 float)`` for the fused CPU kernel."""
        f = lambda t: t.detach().to("cpu", torch.float32).contiguous().numpy()  # noqa: E731
        return f(self.w1), f(self.b1), f(self.w2), np.float32(self.b2.detach().cpu().item())

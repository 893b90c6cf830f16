"""The measurement behind DEFAULT_SOFT_MASK_METHOD, kept as a test on real DAVIS frames.

Mask loss of eq. 12: the foreground soft grid mask sliced with the guide vs the true mask.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from lookgrid.model.render import subsample
from lookgrid.model.slicing import slice_grid_reference
from lookgrid.model.softmask import DEFAULT_SOFT_MASK_METHOD, soft_grid_masks

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def shared_data():
    env = os.environ.get("LOOKGRID_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not (root / "davis").is_dir():
        pytest.skip(f"shared data not found at {root}")
    return root


def _frames(root):
    cv2 = pytest.importorskip("cv2")
    for seq in ("dog", "libby", "car-shadow"):
        img = cv2.cvtColor(cv2.imread(str(root / "davis" / seq / "frames" / "00010.jpg")), cv2.COLOR_BGR2RGB)
        gt = cv2.imread(str(root / "davis" / seq / "masks" / "00010.png"), cv2.IMREAD_GRAYSCALE) > 127
        yield (torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255,
               torch.from_numpy(gt.astype(np.float32)))


def test_default_soft_mask_method_has_the_lowest_mask_loss(shared_data, identity_net):
    losses = {"splat": [], "algorithm1": []}
    with torch.no_grad():
        for img, gt in _frames(shared_data):
            masks = torch.stack([gt, 1 - gt])[None]
            z = identity_net.guide(img, masks)
            si, sm = subsample(img, masks)
            zs = identity_net.guide(si, sm)
            for method in losses:
                soft = soft_grid_masks(zs, sm, 8, 16, 16, method)
                sliced = slice_grid_reference(soft[:, :1], z)[0, 0]
                losses[method].append((sliced - gt).pow(2).mean().item())
    mean = {k: float(np.mean(v)) for k, v in losses.items()}
    assert DEFAULT_SOFT_MASK_METHOD == min(mean, key=mean.get), mean
    assert mean["splat"] < 0.7 * mean["algorithm1"], mean  # measured: 0.0091 vs 0.0203 on 15 frames

"""LookGridNet: the localized photoreal grid network (paper 001, Table 4) for N regions.

Low-resolution grid path (256×256)::

    content ─ encoder ─ f0..f3 ─┐                        style ─ encoder ─ g0..g3 ─┐
                               splat block ×3 (8, 16, 32 ch; content path ST-AdaIN'd
                               per region toward that region's style statistics)
                               └─ conv s2 → 16×16, 64 ─ conv 64 ─ 1×1 → 96 = 12·D ─ + identity

Splatting block i (scale 128, 64, 32): ``S¹`` stride-2 conv (shared by content and style),
``S²`` conv on ``[S¹ out, encoder feature of that scale]`` (separate weights per path),
ST-AdaIN on the content path (masked statistics of region k, style k's statistics, the previous
frame's statistics from :class:`TemporalState`), ``S³`` conv (shared). Regions share all weights
and run as a batch; from the first ST-AdaIN on, the content path has one row per region.

The last layer starts at zero and the grid is ``base + prediction``. The base is the closed-form
colour prior of :mod:`.prior` (config ``prior = "mkl"``: each region's colour statistics moved to
its reference's by an affine map, with the same temporal blend as TC-AdaIN) or the identity
(``prior = "identity"``, the paper's start: an untrained net then renders output == input). Full-resolution path: :class:`GuideNet` (see
:mod:`.guide`), soft grid masks (:mod:`.softmask`), blending and slicing (:mod:`.render`).

Where this departs from Table 4, and why:

* encoder: ours (16/32/64/128 channels), not VGG-19 (no ImageNet weights here; VGG optional);
* grid head: L¹ has stride 2 (32 → 16; Table 4 lists stride 1 but a 16×16 output), and the
  issue's two 64-channel convs + 1×1 (no separate F layer); residual to the identity grid;
* guide: 1×1 convs with a ReLU and a region-code input (see :mod:`.guide`: speed, N regions);
* mask enhancer: residual in logit space with a zero last layer (identity until trained);
* temporal state: the blended statistics μ̂, σ̂ are carried (a recursive filter), see
  :class:`TemporalState`; convs use replicate padding and He initialisation;
* the prior has a tone and split-tone curve along the guide (config ``prior_curve``, :mod:`.prior`);
* the grid is a residual on a closed-form colour prior (:mod:`.prior`), not on the identity: trained
  here without pretrained networks, the network alone learnt looks far weaker than a classical
  statistics transfer; with the prior it only has to learn corrections;
* full-resolution blending: per pixel with the masks (config ``blend = "pixel"``, default) or in
  grid space (eq. 7, ``blend = "grid"``); see :mod:`.render` for the measurements.

Note for training: because the last layer starts at zero, the layers before it receive no
gradient on the very first step (the usual zero-init residual behaviour); they do from then on.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model import adain as A
from lookgrid.model import prior as P
from lookgrid.model.encoder import LookGridEncoder, VGG19Encoder, conv
from lookgrid.model.grid import GRID_COEFFS, check_shape, identity_grid
from lookgrid.model.guide import GuideNet
from lookgrid.model.propagate import check_temporal_mode
from lookgrid.model.render import check_blend_mode
from lookgrid.model.softmask import DEFAULT_SOFT_MASK_METHOD, soft_grid_masks
from lookgrid.model.state import StyleFeatures, TemporalState

log = logging.getLogger("lookgrid.model")

DEFAULT_CONFIG: dict[str, Any] = {
    "encoder": "lookgrid",  # or "vgg19" (weights from a user path, see VGG19Encoder)
    "encoder_channels": [16, 32, 64, 128],
    "splat_channels": [8, 16, 32],
    "grid_channels": 64,
    "grid_depth": 8,
    "grid_size": 16,
    "guide_hidden": 16,
    "mask_channels": [16, 8],
    # TC-AdaIN weight of the previous frame's statistics (eqs. 5-6). The paper gives no value;
    # 0.5 halves frame-to-frame statistic jitter while a real change settles within ~3 frames.
    "alpha": 0.5,
    # Masks with less mass than this share of a layer's pixels (and < 1 pixel) use whole-frame stats.
    "min_mask_fraction": 0.002,
    "soft_mask": DEFAULT_SOFT_MASK_METHOD,
    # How region grids are combined at full resolution: "pixel" slices every region's grid and
    # blends the sliced affine transforms with the full-resolution masks (the look follows the roto
    # exactly); "grid" is the paper's eq. 7 (blend in grid space with soft grid masks, slice once).
    # Measured on the dev suite: see lookgrid.model.render.
    "blend": "pixel",
    # Base of every region's grid (the network predicts a residual on top of it): "mkl" is the
    # closed-form colour prior of lookgrid.model.prior (the region's masked colour statistics moved
    # to its reference's, gains capped at prior_max_gain); "identity" is the paper's zero start.
    "prior": "mkl",
    "prior_max_gain": 2.0,
    # Strength of the prior's tone curve (lookgrid.model.prior.tone_curve_offsets): per depth bin
    # colour offsets that move each region's tones (luma distribution, and each tone's colour) onto
    # its reference's; 0 = the affine alone (checkpoints from before the curve load with 0). Measured,
    # prior alone on the dev suite: style distance (SWD) 8.0 -> 6.7 (Reinhard 8.2), halo 1.000 -> 0.999.
    "prior_curve": 1.0,
    # The tone curve's slope cap (both ways; lookgrid.model.prior.tone_curve). Checkpoints from before
    # the key existed load with their prior_max_gain, which capped the curve too.
    "prior_max_slope": 2.0,
    # What carries the look from one analysed frame to the next (lookgrid.model.propagate):
    # "tc" blends the region statistics with the previous frame's (TC-AdaIN, eqs. 5-6); "flow" runs
    # each frame without statistics state and blends the previous frame's grids, warped along
    # optical flow, where the flow is trusted (the engine computes the flow). "flow" is the default:
    # on the dev suite it flickers slightly less and carries no look across a cut, where "tc" carries
    # it ~5 frames (models/lookgrid-commercial.md); it costs ~1.15-1.2x the analysis at 256².
    "temporal": "flow",
}


def temporal_mode(model) -> str:
    """How ``model`` carries the look between analysed frames, ``"tc"`` or ``"flow"``: its
    ``config["temporal"]``, else the default (:data:`DEFAULT_CONFIG`). The engine and training both
    ask here, so a model trains the way it renders."""
    return check_temporal_mode(str(getattr(model, "config", {}).get("temporal", DEFAULT_CONFIG["temporal"])))


class SplatBlock(nn.Module):
    """One splatting block (see module doc). Channels: prev → out, with ``enc`` encoder channels."""

    def __init__(self, cin: int, enc: int, cout: int):
        super().__init__()
        self.s1 = conv(cin, cout, 2)
        self.s2_content = conv(cout + enc, cout)
        self.s2_style = conv(cout + enc, cout)
        self.s3 = conv(cout, cout)

    def style(self, prev: torch.Tensor, enc: torch.Tensor):
        """Style path: returns (next input, (mean, std) at the AdaIN point)."""
        h = F.relu(self.s2_style(torch.cat([F.relu(self.s1(prev)), enc], dim=1)))
        stats = A.mean_std(h)
        return F.relu(self.s3(h)), stats

    def content_pre(self, prev: torch.Tensor, enc: torch.Tensor) -> torch.Tensor:
        return F.relu(self.s2_content(torch.cat([F.relu(self.s1(prev)), enc], dim=1)))

    def content_post(self, h: torch.Tensor) -> torch.Tensor:
        return F.relu(self.s3(h))


class MaskEnhancer(nn.Module):
    """Paper §3.3: 3 convs (16, 8, 1), sigmoid. Residual in logit space, last conv zero-initialised,
    so the untrained enhancer returns its input (up to clamping to [1e-4, 1 − 1e-4])."""

    def __init__(self, channels=(16, 8)):
        super().__init__()
        self.m1 = conv(1, channels[0])
        self.m2 = conv(channels[0], channels[1])
        self.m3 = conv(channels[1], 1)
        nn.init.zeros_(self.m3.weight)
        nn.init.zeros_(self.m3.bias)

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        b, n, h, w = masks.shape
        m = masks.reshape(b * n, 1, h, w).clamp(1e-4, 1 - 1e-4)
        r = self.m3(F.relu(self.m2(F.relu(self.m1(m)))))
        return torch.sigmoid(torch.logit(m) + r).view(b, n, h, w)


class LookGridNet(nn.Module):
    """The model. Construct with a config dict (see ``DEFAULT_CONFIG``); ``config`` is saved in
    checkpoints. ``vgg19_weights``: path of a torchvision VGG-19 state dict when
    ``config["encoder"] == "vgg19"`` and the weights are not coming from a checkpoint."""

    LOW_RES = 256

    def __init__(self, config: dict | None = None, *, vgg19_weights=None):
        super().__init__()
        cfg = copy.deepcopy(DEFAULT_CONFIG)
        unknown = set(config or {}) - set(cfg)
        if unknown:
            raise InvalidInputError(f"unknown LookGridNet config keys: {sorted(unknown)}")
        cfg.update(config or {})
        self.config: dict[str, Any] = cfg
        self.encoder: nn.Module
        if cfg["encoder"] == "vgg19":
            self.encoder = VGG19Encoder()
            if vgg19_weights is not None:
                self.encoder.load_torchvision(vgg19_weights)
            enc = list(VGG19Encoder.channels)
        elif cfg["encoder"] == "lookgrid":
            self.encoder = LookGridEncoder(cfg["encoder_channels"])
            enc = list(cfg["encoder_channels"])
        else:
            raise InvalidInputError(f"unknown encoder {cfg['encoder']!r}; expected 'lookgrid' or 'vgg19'")
        if cfg["prior"] not in P.PRIORS:
            raise InvalidInputError(f"unknown prior {cfg['prior']!r}; expected one of {P.PRIORS}")
        if not float(cfg["prior_max_gain"]) > 0:
            raise InvalidInputError(f"prior_max_gain must be > 0, got {cfg['prior_max_gain']}")
        if not float(cfg["prior_max_slope"]) >= 1.0:
            raise InvalidInputError(f"prior_max_slope must be >= 1, got {cfg['prior_max_slope']}")
        if not 0.0 <= float(cfg["prior_curve"]) <= 1.0:
            raise InvalidInputError(f"prior_curve must be in [0, 1], got {cfg['prior_curve']}")
        check_blend_mode(cfg["blend"])
        check_temporal_mode(cfg["temporal"])
        if cfg["grid_size"] != self.LOW_RES // 16:
            raise InvalidInputError(
                f"grid_size is fixed by the architecture at {self.LOW_RES // 16}, got {cfg['grid_size']}"
            )
        sc = cfg["splat_channels"]
        if len(sc) != 3:
            raise InvalidInputError(f"splat_channels must list 3 widths, got {sc}")
        prev = [enc[0], sc[0], sc[1]]
        self.blocks = nn.ModuleList(SplatBlock(prev[i], enc[i + 1], sc[i]) for i in range(3))
        gc, d = cfg["grid_channels"], cfg["grid_depth"]
        # No activation after the last local conv (as in HDRnet's local path): a final ReLU died
        # in early training runs (all zeros), leaving every grid equal to the to_grid bias.
        self.local = nn.Sequential(conv(sc[2], gc, 2), nn.ReLU(), conv(gc, gc))
        self.to_grid = nn.Conv2d(gc, GRID_COEFFS * d, 1)
        nn.init.zeros_(self.to_grid.weight)
        if self.to_grid.bias is not None:
            nn.init.zeros_(self.to_grid.bias)
        for m in [
            *self.blocks.modules(),
            *self.local.modules(),
            *(self.encoder.modules() if cfg["encoder"] == "lookgrid" else []),
        ]:
            if isinstance(m, nn.Conv2d):  # He init: keeps activations alive through the ReLU stack
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.guide_net = GuideNet(cfg["guide_hidden"])
        self.mask_enhancer = MaskEnhancer(cfg["mask_channels"])
        # Set by load_model from the checkpoint's meta; the engine runs enhance_masks only if True.
        self.mask_enhancer_trained = False
        self.meta: dict = {}

    def _splat_blocks(self) -> list[SplatBlock]:
        """The splat blocks in order, typed (an ``nn.ModuleList`` hands out plain modules)."""
        return [b for b in self.blocks if isinstance(b, SplatBlock)]

    # --- sizes ----------------------------------------------------------------------------------
    @property
    def grid_depth(self) -> int:
        return int(self.config["grid_depth"])

    @property
    def grid_size(self) -> int:
        return self.LOW_RES // 16

    @property
    def layer_channels(self) -> tuple[int, ...]:
        return tuple(self.config["splat_channels"])

    def _check_low(self, name: str, t: torch.Tensor, channels: int | None = None) -> None:
        """Raise unless ``t`` is ``(B, channels, 256, 256)`` (any channel count if None) and finite."""
        r = self.LOW_RES
        want = f"(B,{'N' if channels is None else channels},{r},{r})"
        if (
            not isinstance(t, torch.Tensor)
            or t.dim() != 4
            or tuple(t.shape[2:]) != (r, r)
            or (channels is not None and t.shape[1] != channels)
        ):
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ShapeMismatchError(f"{name} must have shape {want}, got {got}")
        if not torch.isfinite(t).all():
            raise InvalidInputError(f"{name} contains NaN or Inf")

    # --- grid path ------------------------------------------------------------------------------
    @property
    def uses_prior(self) -> bool:
        return self.config["prior"] != "identity"

    def encode_style(self, style: torch.Tensor) -> StyleFeatures:
        """style ``(S,3,256,256)`` → :class:`StyleFeatures` (per-layer ``(S, C_l)`` statistics, and
        the colour mean ``(S,3)`` / covariance ``(S,3,3)`` when the model uses the colour prior)."""
        self._check_low("style", style, 3)
        feats = self.encoder(style)
        h, means, stds = feats[0], [], []
        for i, blk in enumerate(self._splat_blocks()):
            h, (m, s) = blk.style(h, feats[i + 1])
            means.append(m)
            stds.append(s)
        cm = cc = tones = None
        if self.uses_prior:
            cm, cc, _ = P.colour_stats(style)
            tones = P.tone_table(style)
        return StyleFeatures(tuple(means), tuple(stds), cm, cc, tones)

    def prior_grids(
        self,
        content,
        masks,
        styles: StyleFeatures,
        state: TemporalState | None,
        alpha: float,
        guide: torch.Tensor | None = None,
    ):
        """The colour-prior base grids (see :mod:`.prior`): content ``(B,3,256,256)``, masks
        ``(B·N,1,256,256)`` (batch-major rows), styles with B·N rows; guide: the
        depth coordinate the tone curve is fitted along, at the pixels
        :func:`lookgrid.model.prior.curve_pixels` keeps (``(B,64,64)``; needed when ``config["prior_curve"] > 0``).
        Returns ``(grids (B·N,12,D,16,16), colour mean (B·N,3), colour cov (B·N,3,3), fallback (B·N,) bool)``."""
        if styles.colour_mean is None or styles.colour_cov is None:
            raise InvalidInputError(
                "this model uses the colour prior: styles need colour statistics (build them with encode_style)"
            )
        rows = masks.shape[0]
        n = rows // content.shape[0]
        min_mass = max(1.0, self.config["min_mask_fraction"] * masks.shape[2] * masks.shape[3])
        mean, cov, fb = P.colour_stats(content.repeat_interleave(n, dim=0), masks, min_mass)
        pm = pc = None
        if state is not None and state.colour_mean is not None and state.colour_cov is not None:
            pm, pc = state.colour_mean.to(mean.dtype), state.colour_cov.to(cov.dtype)
        mean, cov = P.temporal_blend_stats(mean, cov, pm, pc, alpha)
        aff = P.prior_affine(
            mean,
            cov,
            styles.colour_mean.to(mean.dtype),
            styles.colour_cov.to(cov.dtype),
            max_gain=float(self.config["prior_max_gain"]),
        )
        g = self.grid_size
        grids = P.affine_grid(aff, self.grid_depth, g, g)
        curve = float(self.config["prior_curve"])
        if curve > 0:
            if styles.tones is None or guide is None:
                raise InvalidInputError(
                    "this model's prior has a tone curve: styles need tones "
                    "(build them with encode_style) and the guide is needed"
                )
            sub = P.curve_pixels  # tones need no full analysis resolution: every k-th pixel each way
            if guide.shape[-2:] != sub(content).shape[-2:]:
                raise ShapeMismatchError(
                    f"the tone curve's guide must be of the analysis frame's pixels "
                    f"lookgrid.model.prior.curve_pixels keeps, got {tuple(guide.shape)}"
                )
            weights = sub(torch.where(fb.view(-1, 1, 1, 1), torch.ones_like(masks), masks))
            offsets = P.tone_curve_offsets(
                sub(content).repeat_interleave(n, dim=0),
                weights,
                guide.repeat_interleave(n, dim=0),
                aff,
                styles.tones,
                self.grid_depth,
                max_slope=float(self.config["prior_max_slope"]),
            )
            grids = P.add_depth_offsets(grids, curve * offsets)
        return grids, mean, cov, fb

    def predict_grids(
        self,
        content,
        masks,
        styles: StyleFeatures,
        state: TemporalState | None = None,
        alpha: float | None = None,
        views: tuple[torch.Tensor, torch.Tensor] | None = None,
    ):
        """One grid per region.

        content ``(B,3,256,256)``; masks ``(B,N,256,256)`` soft in [0, 1] (region k transfers toward
        style k; include the background as a region); styles: :class:`StyleFeatures` with N rows
        (shared by the batch) or B·N rows (batch-major); state: the previous frame's
        :class:`TemporalState` or None; alpha: TC weight (default ``config["alpha"]``).
        views: None, or where each row's colour prior takes its statistics — content ``(B·N,3,256,256)``
        and masks ``(B·N,N,256,256)`` per row, e.g. a small region's own crop of the frame
        (:mod:`lookgrid.engine.lowres`); row r's statistics use mask channel ``r mod N`` (the prior
        is the same in every grid cell, so a crop's prior is the frame's; the residual always sees
        the frame).
        Returns ``(grids (B·N, 12, D, 16, 16), new_state)`` — for B = 1 that is ``(N, …)``.
        """
        self._check_low("content", content, 3)
        b = content.shape[0]
        check_shape("masks", masks, "(B,N,L,L)", B=b, L=self.LOW_RES)
        self._check_low("masks", masks)
        n = masks.shape[1]
        if n < 1:
            raise ShapeMismatchError(f"masks must hold at least one region, got {tuple(masks.shape)}")
        if len(styles) == n and b > 1:
            styles = styles.select([k for _ in range(b) for k in range(n)])
        elif len(styles) != b * n:
            raise ShapeMismatchError(f"styles must have N={n} (or B*N={b * n}) rows, got {len(styles)}")
        rows = b * n
        if state is not None:
            state.check(rows, self.layer_channels)
        alpha = float(self.config["alpha"] if alpha is None else alpha)
        if not 0.0 <= alpha <= 1.0:
            raise InvalidInputError(f"alpha must be in [0, 1], got {alpha}")

        feats = self.encoder(content)
        m = masks.to(content.dtype).reshape(rows, 1, self.LOW_RES, self.LOW_RES)
        h = feats[0]
        means, stds, fallback = [], [], torch.zeros(rows, dtype=torch.bool, device=content.device)
        for i, blk in enumerate(self._splat_blocks()):
            enc = feats[i + 1]
            if i > 0:
                enc = enc.repeat_interleave(n, dim=0)
            pre = blk.content_pre(h, enc)
            if i == 0:
                pre = pre.repeat_interleave(n, dim=0)
            ml = F.adaptive_avg_pool2d(m, (pre.shape[2], pre.shape[3]))
            min_mass = max(1.0, self.config["min_mask_fraction"] * ml.shape[2] * ml.shape[3])
            pm = ps = None
            if state is not None:
                pm, ps = state.means[i], state.stds[i]
            out, (mh, sh), fb = A.st_adain(pre, ml, styles.means[i], styles.stds[i], pm, ps, alpha, min_mass)
            fallback |= fb
            means.append(mh)
            stds.append(sh)
            h = blk.content_post(out)
        raw = self.to_grid(self.local(h))  # (rows, 12·D, 16, 16)
        d = self.grid_depth
        cm = cc = None
        if self.uses_prior:
            pc, pm, stats = content, masks.to(content.dtype), m
            if views is not None:
                pc, pm = views[0].to(content.dtype), views[1].to(content.dtype)
                check_shape("views' content", pc, "(R,3,L,L)", R=rows, L=self.LOW_RES)
                check_shape("views' masks", pm, "(R,N,L,L)", R=rows, N=n, L=self.LOW_RES)
                stats = pm[torch.arange(rows), torch.arange(rows) % n].unsqueeze(1)
            guide = None
            if float(self.config["prior_curve"]) > 0:  # the guide is pointwise: of the kept pixels only
                with torch.no_grad():
                    guide = self.guide(P.curve_pixels(pc), P.curve_pixels(pm))
            base, cm, cc, pfb = self.prior_grids(pc, stats, styles, state, alpha, guide)
            base = base.to(raw.dtype)
            fallback |= pfb
        else:
            base = identity_grid(rows, d, raw.shape[2], raw.shape[3], dtype=raw.dtype, device=raw.device)
        fb_rows = tuple(int(r) for r in torch.nonzero(fallback).flatten().tolist())
        if fb_rows:
            log.warning(
                "regions %s have empty or tiny masks; their grids use whole-frame statistics", [r % n for r in fb_rows]
            )
        grids = base + raw.view(rows, GRID_COEFFS, d, raw.shape[2], raw.shape[3])
        return grids, TemporalState(tuple(means), tuple(stds), fb_rows, cm, cc)

    def enhance_masks(self, masks: torch.Tensor) -> torch.Tensor:
        """Mask enhancement (paper §3.3) at low resolution: ``(B,N,256,256)`` → same, in (0, 1)."""
        self._check_low("masks", masks)
        return self.mask_enhancer(masks)

    # --- full-resolution path -------------------------------------------------------------------
    def guide(self, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Mask-aware guide at any resolution: image ``(B,3,H,W)``, masks ``(B,N,H,W)`` → ``(B,H,W)``."""
        return self.guide_net(image, masks)

    def soft_masks(self, guide: torch.Tensor, masks: torch.Tensor, method: str | None = None) -> torch.Tensor:
        """Soft grid masks, a partition of unity: guide ``(B,H,W)``, masks ``(B,N,H,W)`` →
        ``(B,N,D,Hg,Wg)`` (method: ``config["soft_mask"]`` unless given)."""
        return soft_grid_masks(
            guide, masks, self.grid_depth, self.grid_size, self.grid_size, method or self.config["soft_mask"]
        )

"""Quality metrics for rendered clips: temporal stability, style distance, structure, halos, speed.

Every metric is a plain function of numpy arrays with its shapes in the docstring. Images are
working-space RGB ``(H, W, 3)`` float (ACEScct, see :mod:`lookgrid.model.colormath`); masks are ``(H, W)``
in [0, 1]. Metrics about what a viewer sees (flow, warping error, structure, halos) use the display
image (sRGB-encoded Rec.709 clipped to [0, 1]) and its Rec.709 luma; style distances use CIE Lab.

Temporal stability — warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency"):
    optical flow is computed on the *input* frames (OpenCV DIS, no learned weights), forward
    ``F: t -> t+1`` and backward ``B: t+1 -> t``. A pixel of frame t is visible unless the
    occlusion test of :func:`lookgrid.imaging.flow.occlusion_mask` rejects it (forward–backward
    check, motion boundaries, leaving the frame).
    ``E(t) = mean over visible x of || O_t(x) - O_{t+1}(x + F(x)) ||^2`` (sum over the 3 channels of
    the display image in [0, 1]),
    and the clip's error is the mean of E(t) over its frame pairs. The same is computed on the input
    itself; ``ratio = E(output) / E(input)`` says how much of the output's change is the method's own.
    A method that lowers contrast lowers E too, so read it beside a style distance.

Low-pass warping error: the same, on output and input blurred by a Gaussian of ``LOWPASS_SIGMA``
    = 3 px (:func:`lowpass`) before the difference (flow and visibility from the unblurred input).
    Grain and fine texture average out, so its ratio is the flicker of the look itself.

Grain stress (:func:`add_grain`, :func:`grain_frames`): fresh per-frame luminance + chroma noise of
    a given sigma in display units. A method renders the grainy frames and is measured against the
    clean ones (flow, input rows, structure and halo all from the clean clip).

Cut measure (:func:`look_distance`, :func:`frames_carried`): a clip made of two different shots back
    to back. For each frame j after the cut, the mean absolute display difference between its render
    inside the whole clip and its render by a fresh start on the second shot alone; the frames
    carried are the j until that falls below ``CUT_THRESHOLD`` (one 8-bit code value).

Style distance per region (output colours inside the region vs the whole reference image, in Lab):
    * ``lab_moment_distance = |mu_o - mu_r| + |sigma_o - sigma_r|`` (Euclidean norms over L, a, b of
      the per-channel mean and std vectors);
    * ``sliced_wasserstein``: mean over ``n_projections`` fixed random unit directions (seeded) of the
      1-D Wasserstein-2 distance between the projected point sets, computed from ``n_quantiles``
      quantiles. Pixels are subsampled with a fixed seed to at most ``max_pixels`` per side. For two
      sets that differ by a pure shift d it equals ``|d| * mean|cos|`` (about ``|d| / 2``).

Structure preservation: SSIM's structure term on luminance between input and output,
    ``s = (sigma_xy + C3) / (sigma_x sigma_y + C3)`` with Gaussian-weighted local statistics
    (sigma 1.5 px), ``C3 = (0.03)^2 / 2``, averaged over the frame. 1 = every local luminance pattern
    kept (any positive local gain/offset), 0 = unrelated, -1 = inverted.

Halo measure (1 = no halo): grid-based transfers can leak one region's colour transform across a mask
    edge, which shows up as gradients near the edge that the input did not have. Let ``g(I) =
    |grad Y(I)|^2`` (luma gradient energy, central differences), ``d`` the distance of a pixel to the
    edge of the binarised region mask (threshold 0.5), ``band = [inner, width]`` px and ``far = d >
    2 * width``. For each region k, on each side of its edge (pixels inside k),
        ``H_k = (sum_band g(O) / sum_band g(I)) / (sum_far g(O) / sum_far g(I))``
    i.e. how much the output amplifies gradients next to the edge compared with how much it amplifies
    them deep inside the same region. A per-region colour transform with no leak scales gradients the
    same way near the edge and far from it, so ``H_k = 1``; leaking adds near-edge gradient so
    ``H_k > 1``. The ring ``d < inner`` around the edge is excluded because the edge itself
    legitimately changes when its two sides get different looks. The frame's value is the mean of
    ``H_k`` over the regions that have both a band and a far zone.

Grade pumping (:func:`region_grade_offsets`, :func:`grade_pumping`): what a colorist sees as the
    grade "breathing". Per region and frame, the grade offset ``g_t = mean_Lab(O_t) - mean_Lab(I_t)``:
    the output's mean colour minus the input's mean colour inside the region (soft-mask weighted mean
    of the per-pixel CIE Lab values), a 3-vector in Lab units. Pumping is the mean over t of
    ``|g_{t+1} - 2 g_t + g_{t-1}|`` (Euclidean norm of the second difference over time). A grade
    that is held, or that drifts linearly with the content, pumps 0; one that alternates by ``±d``
    from frame to frame pumps ``4 |d|``. A clip's value is the mean over its regions.

Small-region style (:data:`SMALL_REGION`): the style distances of the regions whose mean coverage
    of the frame is under 2 %, reported separately, since a grid analysed at 256² sees a small region
    through few cells.

Speed: :func:`ms_per_frame` (wall time / frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lookgrid.errors import ShapeMismatchError
from lookgrid.imaging.flow import dis_flow, occlusion_mask, warp
from lookgrid.model.colormath import (
    LUMA_WEIGHTS,
    apply_weights,
    display_luma,
    display_luma_u8,
    display_to_working,
    working_to_display,
    working_to_lab,
)
from lookgrid.model.colormath import delta_e2000 as delta_e2000  # re-exported: defined below the engine
from lookgrid.model.colormath import display_lab as display_lab  # (the look export measures with them)


def _check_image(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ShapeMismatchError(f"{name} must be (H, W, 3); got shape {x.shape}")
    return x


# ---------------------------------------------------------------------------------------------
# optical flow and warping (the estimator, warps and occlusion test: lookgrid.imaging.flow)
# ---------------------------------------------------------------------------------------------
@dataclass
class FlowPair:
    """Input-frame flow for one pair (t, t+1): ``forward (H,W,2)`` and ``visible (H,W)`` bool."""

    forward: np.ndarray
    visible: np.ndarray


def input_flows(frames: list[np.ndarray], preset: str = "medium") -> list[FlowPair]:
    """Forward flow and visibility for each consecutive pair of input frames ``(H, W, 3)``.

    Computed once per clip and shared by every method's warping error.
    """
    grays = [display_luma_u8(_check_image(f, "frame")) for f in frames]
    pairs = []
    for a, b in zip(grays[:-1], grays[1:]):
        fwd = dis_flow(a, b, preset)
        bwd = dis_flow(b, a, preset)
        pairs.append(FlowPair(forward=fwd, visible=~occlusion_mask(fwd, bwd)))
    return pairs


def warping_error_pair(out_t: np.ndarray, out_t1: np.ndarray, flow: FlowPair) -> float:
    """``mean over visible x of ||O_t(x) - O_{t+1}(x + F(x))||^2``; images ``(H, W, 3)``.

    Images are working space; the error is taken on their display images clipped to [0, 1] (the
    displayable range, as in Lai et al.). Returns 0.0 when no pixel is visible.
    """
    return warping_error_display(display(_check_image(out_t, "out_t")), display(_check_image(out_t1, "out_t1")), flow)


def display(image: np.ndarray) -> np.ndarray:
    """Working ``(H, W, 3)`` -> display image ``(H, W, 3)`` float32 clipped to [0, 1]."""
    return np.clip(working_to_display(np.nan_to_num(np.asarray(image, np.float32))), 0.0, 1.0)


def display_luma_of(display_image: np.ndarray) -> np.ndarray:
    """Rec.709 luma ``(H, W)`` float64 of a display image ``(H, W, 3)`` in [0, 1]."""
    return apply_weights(display_image, LUMA_WEIGHTS)


def warping_error_display(a: np.ndarray, b: np.ndarray, flow: FlowPair) -> float:
    """:func:`warping_error_pair` on display images ``(H, W, 3)`` in [0, 1] (already converted)."""
    diff = ((a - warp(b, flow.forward)) ** 2).sum(axis=2)
    n = int(flow.visible.sum())
    return float(diff[flow.visible].sum() / n) if n else 0.0


def warping_errors(frames: list[np.ndarray], flows: list[FlowPair], *, lowpass_sigma: float = 0.0) -> np.ndarray:
    """Per-pair warping errors ``(T-1,)`` of a sequence of ``(H, W, 3)`` frames given input flows;
    with ``lowpass_sigma > 0`` the display images are blurred first (:func:`lowpass`)."""
    if len(flows) != len(frames) - 1:
        raise ShapeMismatchError(f"{len(frames)} frames need {len(frames) - 1} flow pairs; got {len(flows)}")
    disp = [display(_check_image(f, "frame")) for f in frames]
    return warping_errors_display(disp, flows, lowpass_sigma=lowpass_sigma)


def warping_errors_display(disp: list[np.ndarray], flows: list[FlowPair], *, lowpass_sigma: float = 0.0) -> np.ndarray:
    """:func:`warping_errors` on display images ``(H, W, 3)`` in [0, 1] (already converted)."""
    if lowpass_sigma > 0:
        disp = [lowpass(d, lowpass_sigma) for d in disp]
    return np.array([warping_error_display(a, b, f) for a, b, f in zip(disp[:-1], disp[1:], flows)])


#: Gaussian sigma (px) of the low-pass warping error: the look's own flicker, blind to grain and
#: fine texture (a per-pixel grain of sigma s falls to about s / (2 sqrt(pi) * 3) ~ 0.09 s)
LOWPASS_SIGMA = 3.0


def lowpass(image: np.ndarray, sigma: float = LOWPASS_SIGMA) -> np.ndarray:
    """Gaussian blur of ``(H, W)`` or ``(H, W, C)`` with standard deviation ``sigma`` px (reflected
    borders), float32. The low-pass warping error blurs output and input with it before
    :func:`warping_error_display`; the flow and visibility stay those of the unblurred input."""
    img = np.ascontiguousarray(image, dtype=np.float32)
    return cv2.GaussianBlur(img, (0, 0), float(sigma), borderType=cv2.BORDER_REFLECT)


# ---------------------------------------------------------------------------------------------
# stress inputs and the cut measure
# ---------------------------------------------------------------------------------------------
#: standard deviation of the chroma part of :func:`add_grain`, relative to the luminance part
GRAIN_CHROMA = 0.5


def add_grain(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Film-grain stand-in on a working-space frame ``(H, W, 3)`` -> ``(H, W, 3)`` float32.

    In display units (sRGB-encoded, 0-1): every pixel gets a luminance noise ``n ~ N(0, sigma)``
    on all three channels plus a chroma noise ``c_i ~ N(0, GRAIN_CHROMA * sigma)`` per channel with
    its mean over the channels removed (so it shifts hue, not brightness); white, i.e. independent
    per pixel and per call (call once per frame for fresh grain). The display image is not clipped
    (values above 1 survive the round trip through :func:`display_to_working`).
    """
    img = _check_image(image, "image")
    disp = working_to_display(np.nan_to_num(np.asarray(img, np.float64)))
    h, w = disp.shape[:2]
    lum = rng.normal(0.0, sigma, size=(h, w, 1))
    chroma = rng.normal(0.0, GRAIN_CHROMA * sigma, size=(h, w, 3))
    chroma -= chroma.mean(axis=2, keepdims=True)
    return display_to_working(disp + lum + chroma).astype(np.float32)


def grain_frames(frames: list[np.ndarray], sigma: float, seed: int = 0) -> list[np.ndarray]:
    """:func:`add_grain` on every frame, fresh noise per frame from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [add_grain(f, sigma, rng) for f in frames]


#: mean absolute display difference (0-1 units) below which two renders of a frame count as the
#: same look: one 8-bit code value
CUT_THRESHOLD = 1.0 / 255.0


def look_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over pixels and channels of ``|display(a) - display(b)|`` (clipped display, 0-1 units);
    ``a, b`` working-space ``(H, W, 3)``."""
    a, b = _check_image(a, "a"), _check_image(b, "b")
    if a.shape != b.shape:
        raise ShapeMismatchError(f"images differ in size: {a.shape} vs {b.shape}")
    return float(np.abs(display(a).astype(np.float64) - display(b)).mean())


def frames_carried(distances, threshold: float = CUT_THRESHOLD) -> int:
    """How many frames after a cut still carry the first shot's look.

    ``distances[j]``: :func:`look_distance` between frame ``j`` after the cut (``j = 0`` is the
    second shot's first frame) rendered as part of the whole clip, and the same frame rendered by a
    fresh start on the second shot alone (same method, same references). Returns the index of the
    first ``j`` with ``distances[j] < threshold`` — 0 when the look resets at the cut itself, 1 when
    one frame carries the old state — or ``len(distances)`` if it never falls below.
    """
    for j, d in enumerate(distances):
        if d < threshold:
            return j
    return len(distances)


# ---------------------------------------------------------------------------------------------
# style distance
# ---------------------------------------------------------------------------------------------
def sample_pixels(pixels: np.ndarray, max_pixels: int = 20000, seed: int = 0) -> np.ndarray:
    """Rows of ``pixels (P, C)``; at most ``max_pixels`` of them, drawn without replacement (seeded)."""
    pixels = np.asarray(pixels).reshape(-1, np.asarray(pixels).shape[-1])
    if pixels.shape[0] <= max_pixels:
        return pixels
    idx = np.random.default_rng(seed).choice(pixels.shape[0], size=max_pixels, replace=False)
    return pixels[np.sort(idx)]


def lab_moment_distance(a_lab: np.ndarray, b_lab: np.ndarray) -> float:
    """``|mu_a - mu_b| + |sigma_a - sigma_b|`` over Lab channels; ``a (P,3)``, ``b (Q,3)``."""
    a = np.asarray(a_lab, dtype=np.float64).reshape(-1, 3)
    b = np.asarray(b_lab, dtype=np.float64).reshape(-1, 3)
    return float(np.linalg.norm(a.mean(0) - b.mean(0)) + np.linalg.norm(a.std(0) - b.std(0)))


def sliced_wasserstein(
    a: np.ndarray, b: np.ndarray, *, n_projections: int = 64, n_quantiles: int = 256, seed: int = 0
) -> float:
    """Sliced Wasserstein-2 distance between point sets ``a (P, C)`` and ``b (Q, C)``.

    Mean over ``n_projections`` seeded random unit directions of the 1-D W2 distance of the
    projections, each from ``n_quantiles`` evenly spaced quantiles (so P and Q may differ).
    """
    qa = projected_quantiles(a, n_projections=n_projections, n_quantiles=n_quantiles, seed=seed)
    qb = projected_quantiles(b, n_projections=n_projections, n_quantiles=n_quantiles, seed=seed)
    return sliced_wasserstein_from_quantiles(qa, qb)


def projected_quantiles(
    points: np.ndarray, *, n_projections: int = 64, n_quantiles: int = 256, seed: int = 0
) -> np.ndarray:
    """Quantiles of ``points (P, C)`` projected on the seeded directions -> ``(n_projections,
    n_quantiles)``; quantile levels ``(i + 0.5) / n_quantiles``, linear interpolation between order
    statistics (numpy's default). Cache these for a reference used many times."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or not len(pts):
        raise ShapeMismatchError(f"point set must be non-empty (P, C); got {pts.shape}")
    dirs = np.random.default_rng(seed).normal(size=(n_projections, pts.shape[1]))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    # (K, P) projections as a sum over channels (avoids BLAS for this thin shape), sorted per row
    proj = np.sort(sum(dirs[:, c : c + 1] * pts[None, :, c] for c in range(pts.shape[1])), axis=1)
    pos = (np.arange(n_quantiles) + 0.5) / n_quantiles * (proj.shape[1] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, proj.shape[1] - 1)
    frac = pos - lo
    return proj[:, lo] * (1 - frac) + proj[:, hi] * frac


def sliced_wasserstein_from_quantiles(qa: np.ndarray, qb: np.ndarray) -> float:
    """Mean over projections of the 1-D W2 distance between two ``(K, Q)`` quantile tables."""
    if qa.shape != qb.shape:
        raise ShapeMismatchError(f"quantile tables differ: {qa.shape} vs {qb.shape} (same projections needed)")
    return float(np.sqrt(((qa - qb) ** 2).mean(axis=1)).mean())


@dataclass
class StyleDistance:
    """Style distance of one region: Lab moment distance and sliced Wasserstein distance (Lab units)."""

    lab_moments: float
    swd: float


def region_style_distance(
    image: np.ndarray,
    mask: np.ndarray,
    reference_lab: np.ndarray,
    *,
    threshold: float = 0.5,
    max_pixels: int = 20000,
    seed: int = 0,
    n_projections: int = 64,
    reference_quantiles: np.ndarray | None = None,
) -> StyleDistance | None:
    """Distance between the colours of ``image (H,W,3)`` where ``mask (H,W) >= threshold`` and a
    reference's Lab pixels ``reference_lab (Q,3)`` (pre-sampled with :func:`sample_pixels`).

    ``reference_quantiles``: :func:`projected_quantiles` of ``reference_lab`` with the same seed and
    projections, to skip recomputing them. Returns None when the region has no pixels this frame.
    """
    image = _check_image(image, "image")
    mask = np.asarray(mask)
    if mask.shape != image.shape[:2]:
        raise ShapeMismatchError(f"mask {mask.shape} does not match image {image.shape[:2]}")
    sel = mask >= threshold
    if not sel.any():
        return None
    px = sample_pixels(image[sel], max_pixels, seed)
    lab = working_to_lab(np.asarray(px, dtype=np.float64))
    return StyleDistance(
        lab_moments=lab_moment_distance(lab, reference_lab),
        swd=sliced_wasserstein_from_quantiles(
            projected_quantiles(lab, n_projections=n_projections, seed=seed),
            reference_quantiles
            if reference_quantiles is not None
            else projected_quantiles(reference_lab, n_projections=n_projections, seed=seed),
        ),
    )


# ---------------------------------------------------------------------------------------------
# structure and halos
# ---------------------------------------------------------------------------------------------
SSIM_SIGMA = 1.5
SSIM_C3 = (0.03**2) / 2


def structure_similarity(reference: np.ndarray, test: np.ndarray, *, sigma: float = SSIM_SIGMA) -> float:
    """Mean SSIM structure term between the display lumas of two ``(H, W, 3)`` working-space images."""
    x = display_luma(_check_image(reference, "reference").astype(np.float64))
    y = display_luma(_check_image(test, "test").astype(np.float64))
    return structure_similarity_luma(x, y, sigma=sigma)


def structure_similarity_luma(x: np.ndarray, y: np.ndarray, *, sigma: float = SSIM_SIGMA) -> float:
    """:func:`structure_similarity` on lumas ``(H, W)`` in [0, 1] (already converted)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ShapeMismatchError(f"images differ in size: {x.shape} vs {y.shape}")

    def blur(z):
        return cv2.GaussianBlur(z, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx = np.maximum(blur(x * x) - mx * mx, 0.0)
    vy = np.maximum(blur(y * y) - my * my, 0.0)
    cxy = blur(x * y) - mx * my
    s = (cxy + SSIM_C3) / (np.sqrt(vx * vy) + SSIM_C3)
    return float(s.mean())


def gradient_energy(image: np.ndarray) -> np.ndarray:
    """``|grad Y|^2`` of the display luma of ``(H, W, 3)`` working RGB (central differences) -> ``(H, W)``."""
    return _grad_energy(display_luma(_check_image(image, "image").astype(np.float64)))


def _grad_energy(y: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(np.asarray(y, np.float64))
    return np.asarray(gx * gx + gy * gy)


def edge_distance(mask: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Distance (px) of every pixel to the edge of the binarised ``mask (H, W)``.

    Returns ``(inside (H,W) bool, distance (H,W) float32)``; distance is measured to the nearest
    pixel of the other side, so pixels touching the edge have distance 1.
    """
    inside = np.asarray(mask) >= threshold
    d_in = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 5)
    return inside, np.where(inside, d_in, d_out).astype(np.float32)


def halo_ratio(
    input_image: np.ndarray,
    output_image: np.ndarray,
    masks: np.ndarray,
    *,
    inner: float = 3.0,
    width: float = 16.0,
    eps: float = 1e-10,
) -> float | None:
    """Halo measure of one frame (see module doc); 1 = no halo, > 1 = extra gradient near edges.

    Args:
        input_image, output_image: ``(H, W, 3)`` working RGB.
        masks: ``(N, H, W)`` region masks (background included or not: each region's own side of its
            edge is measured; a region covering the whole frame has no edge and is skipped).
        inner, width: the band is ``inner <= d <= width`` px from the edge; "far" is ``d > 2 width``.
    Returns:
        Mean of the per-region ratios, or None when no region has both a band and a far zone.
    """
    masks = np.asarray(masks)
    if masks.ndim == 2:
        masks = masks[None]
    if masks.shape[1:] != np.asarray(input_image).shape[:2]:
        raise ShapeMismatchError(f"masks {masks.shape} do not match image {np.asarray(input_image).shape}")
    return halo_ratio_luma(
        display_luma(np.asarray(input_image, np.float64)),
        display_luma(np.asarray(output_image, np.float64)),
        masks,
        inner=inner,
        width=width,
        eps=eps,
    )


def halo_ratio_luma(
    y_in: np.ndarray,
    y_out: np.ndarray,
    masks: np.ndarray,
    *,
    inner: float = 3.0,
    width: float = 16.0,
    eps: float = 1e-10,
) -> float | None:
    """:func:`halo_ratio` on display lumas ``(H, W)`` (already converted); masks ``(N, H, W)``."""
    masks = np.asarray(masks)
    if masks.ndim == 2:
        masks = masks[None]
    g_in = _grad_energy(y_in)
    g_out = _grad_energy(y_out)
    ratios = []
    for m in masks:
        inside, d = edge_distance(m)
        if inside.all() or not inside.any():
            continue
        band = inside & (d >= inner) & (d <= width)
        far = inside & (d > 2 * width)
        if band.sum() < 16 or far.sum() < 16:
            continue
        r_band = (g_out[band].sum() + eps) / (g_in[band].sum() + eps)
        r_far = (g_out[far].sum() + eps) / (g_in[far].sum() + eps)
        ratios.append(r_band / r_far)
    return float(np.mean(ratios)) if ratios else None


def ms_per_frame(seconds: float, frames: int) -> float:
    """Wall time per frame in milliseconds."""
    return 1000.0 * seconds / max(frames, 1)


# colour difference: delta_e2000 and display_lab live in lookgrid.model.colormath (the look export
# measures its fidelity with them below the service) and are imported above under the same names.


# ---------------------------------------------------------------------------------------------
# the grade: pumping, small regions
# ---------------------------------------------------------------------------------------------
#: regions whose mean share of the frame is below this are "small" (their style is reported apart)
SMALL_REGION = 0.02
#: a region with less mask mass than this (pixels) in a frame has no grade offset that frame
MIN_GRADE_MASS = 16.0


def region_mean_lab(image: np.ndarray, mask: np.ndarray, *, min_mass: float = MIN_GRADE_MASS) -> np.ndarray | None:
    """Soft-mask weighted mean of the per-pixel CIE Lab values of ``image (H, W, 3)`` (working
    space) inside ``mask (H, W)`` in [0, 1] -> ``(3,)`` float64, or None when the mask's mass is under
    ``min_mass`` pixels."""
    image = _check_image(image, "image")
    w = np.clip(np.nan_to_num(np.asarray(mask, np.float64)), 0.0, 1.0)
    if w.shape != image.shape[:2]:
        raise ShapeMismatchError(f"mask {w.shape} does not match image {image.shape[:2]}")
    sel = w > 0
    total = float(w[sel].sum())
    if total < min_mass:
        return None
    lab = working_to_lab(np.nan_to_num(np.asarray(image[sel], np.float64)))
    return (lab * w[sel][:, None]).sum(axis=0) / total


def region_grade_offsets(inputs, outputs, masks) -> np.ndarray:
    """Per-frame grade offsets ``(T, 3)`` of one region: ``mean_Lab(O_t) - mean_Lab(I_t)`` inside
    its mask (:func:`region_mean_lab`); ``inputs``, ``outputs``: T images ``(H, W, 3)`` working
    space; ``masks``: T masks ``(H, W)``. Rows are NaN for frames where the region is (nearly) empty."""
    if not len(inputs) == len(outputs) == len(masks):
        raise ShapeMismatchError(f"{len(inputs)} inputs, {len(outputs)} outputs and {len(masks)} masks")
    rows = []
    for i, o, m in zip(inputs, outputs, masks):
        a, b = region_mean_lab(o, m), region_mean_lab(i, m)
        rows.append(np.full(3, np.nan) if a is None or b is None else a - b)
    return np.array(rows, np.float64).reshape(-1, 3)


def grade_pumping(offsets: np.ndarray) -> float | None:
    """Mean over t of ``|g_{t+1} - 2 g_t + g_{t-1}|`` for offsets ``(T, 3)`` (Lab units); second
    differences touching a NaN row are skipped; None when none is left (fewer than 3 frames)."""
    g = np.asarray(offsets, np.float64)
    if g.ndim != 2 or g.shape[1] != 3:
        raise ShapeMismatchError(f"offsets must be (T, 3); got {g.shape}")
    if len(g) < 3:
        return None
    d2 = np.linalg.norm(g[2:] - 2.0 * g[1:-1] + g[:-2], axis=1)
    d2 = d2[np.isfinite(d2)]
    return float(d2.mean()) if d2.size else None


def region_coverage(masks) -> float:
    """Mean share of the frame a region covers: mean over T masks ``(H, W)`` of their mean value."""
    return float(np.mean([np.clip(np.asarray(m, np.float64), 0.0, 1.0).mean() for m in masks]))

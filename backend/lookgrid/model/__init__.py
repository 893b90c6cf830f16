"""The LookGrid model: pure torch, tensors in and out, temporal state passed explicitly.

Modules: :mod:`.grid` (layout, identity, strength), :mod:`.blend` (pixel-blend weights, the eq. 7
grid blend), :mod:`.slicing` (slice + apply, reference and fast), :mod:`.softmask` (soft grid
masks), :mod:`.adain` (SA/TC/ST-AdaIN), :mod:`.state` (TemporalState, StyleFeatures), :mod:`.guide`,
:mod:`.encoder`, :mod:`.network` (LookGridNet), :mod:`.render` (render_frame, render_parts),
:mod:`.reinhard` (the Reinhard transfer method), :mod:`.colormath` (colour maths shared by
training, evaluation and the guide), :mod:`.device` (the device rule), :mod:`.load` (checkpoints).

Typical use (the engine's)::

    net = load_model(None, device)                        # shipped weights or identity model
    styles = net.encode_style(style_256)                  # (S,3,256,256) -> StyleFeatures, cache it
    state = None                                          # first frame of a clip
    for frame in clip:                                    # analysis: low-res, sequential
        grids, state = net.predict_grids(content_256, masks_256, styles, state)  # (N,12,8,16,16)
    out = render_frame(net, image, masks, grids, strength)  # full-res, stateless given grids

Training uses the differentiable pieces: ``predict_grids``, ``net.guide``, ``net.soft_masks``,
:func:`.render.render_parts` (output, guide, blended grid, soft masks), :func:`.slicing.
slice_grid_reference` (e.g. to slice a soft grid mask for the mask loss, eq. 12) and
``net.enhance_masks``. Only the numba kernels (``reference=False`` on CPU) have no gradient.
"""

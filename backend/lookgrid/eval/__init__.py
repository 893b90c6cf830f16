"""Evaluation: metrics, the harness behind ``lookgrid eval``, suites.

Modules (import what you need; nothing heavy is imported here):

* :mod:`lookgrid.eval.metrics` — warping error (Lai et al. 2018, flow on the input with OpenCV DIS),
  per-region style distances (Lab moments, sliced Wasserstein), SSIM structure term, halo measure,
  ms per frame. Definitions are in that module's docstring.
* Classical baselines: the Reinhard transfer method (:mod:`lookgrid.model.reinhard`, an engine
  method) and the per-region MKL / histogram-matching rows of :mod:`lookgrid.eval.classical`;
  colour conversions are in :mod:`lookgrid.model.colormath`.
* ``README.md`` beside this file: what every row and column of ``lookgrid eval`` means.
* :mod:`lookgrid.eval.harness` — load a clip through the engine's reader, render each method
  through :class:`lookgrid.engine.Engine`, measure; :mod:`lookgrid.eval.report` — table, JSON,
  contact sheet, warping plot; :mod:`lookgrid.eval.suites` — the fixed ``dev`` suite.
* :mod:`lookgrid.eval.synthetic` — small generated clips with a known answer (tests, smoke runs).
"""

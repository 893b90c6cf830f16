"""Farm rendering over the engine (never over the service): the same pixels from many workers.

Two phases (DESIGN.md §3.4): *analyze* runs the low-resolution network on the clip's analysed
frames in chunks on workers, then only the temporal step in order (:mod:`lookgrid.farm.parts`), and
writes the clip's analysis beside the output (:mod:`lookgrid.farm.analysis`); *render* slices
full-resolution frames from it, statelessly, in chunks in any order on any worker
(:mod:`lookgrid.farm.job`).

* :mod:`lookgrid.farm.chunks` — cutting frames into chunks, ``"a-b"`` names, range expressions;
* :mod:`lookgrid.farm.analysis` — ``<output dir>/.lookgrid/``: the analysis, its spec, its hash;
* :mod:`lookgrid.farm.parts` — the analysis in parts: part files with their own hash, the fold;
* :mod:`lookgrid.farm.job` — a job without the farm: checks, resume, the analysis and render tasks;
* :mod:`lookgrid.farm.ray_runner` — ``lookgrid farm render`` on Ray (retries, progress, summary);
* :mod:`lookgrid.farm.openjd` — ``lookgrid farm export``: an Open Job Description job bundle.
"""

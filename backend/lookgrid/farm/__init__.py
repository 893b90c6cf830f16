"""Farm rendering over the engine (never over the service): the same pixels from many workers.

Two phases (DESIGN.md §3.4): *analyze* runs the low-resolution network along the clip in order and
writes the clip's analysis beside the output (:mod:`lookgrid.farm.analysis`); *render* slices full-resolution
frames from it, statelessly, in chunks in any order on any worker (:mod:`lookgrid.farm.job`).

* :mod:`lookgrid.farm.chunks` — cutting frames into chunks, ``"a-b"`` names, range expressions;
* :mod:`lookgrid.farm.analysis` — ``<output dir>/.lookgrid/``: the analysis, its spec, its hash;
* :mod:`lookgrid.farm.job` — a job without the farm: checks, resume, the analyze and render tasks;
* :mod:`lookgrid.farm.ray_runner` — ``lookgrid farm render`` on Ray (retries, progress, summary);
* :mod:`lookgrid.farm.openjd` — ``lookgrid farm export``: an Open Job Description job bundle.
"""

"""LookGrid for Blender: per-region photoreal look transfer on the active image-sequence strip.

A thin host adapter over the ``lookgrid_client`` package (bundled as a wheel): :mod:`.host` reads
Blender (strip frames, masks, curves) and adds the result strip; :mod:`.ui` holds the settings,
the Sequencer sidebar panel and the "Apply LookGrid" operator. Every decision (the job's spec,
connecting or launching a backend, streaming, atomic output) is the client's. ``bpy`` is imported
only inside functions, so this package imports without Blender.
"""


def register() -> None:
    from . import ui

    ui.register()


def unregister() -> None:
    from . import ui

    ui.unregister()

"""Runs INSIDE Blender's Python (the bpy venv), started by tests/blender/test_extension.py.

Installs the extension zip into the temporary BLENDER_USER_RESOURCES, builds scenes from the files
the test wrote (an EXR plate sequence, a mask sequence, references), runs "Apply LookGrid" in
background mode for each case of the job file and prints one JSON line per case:
{"case", "ok", "error", "strips", "last_output", "last_spec", "seconds"}.

    python blender_session.py job.json
"""

from __future__ import annotations

import json
import os
import sys
import time

import bpy


ADDON = "bl_ext.user_default.lookgrid"


def install(zip_path: str) -> None:
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    assert hasattr(bpy.types.Scene, "lookgrid"), "the extension did not register"


def preferences():
    """The add-on's preferences: server, backend command, timeout (never scene data)."""
    return bpy.context.preferences.addons[ADDON].preferences


def build_scene(job: dict, case: dict):
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    first, count = job["first"], job["count"]
    scene.frame_start, scene.frame_end = first, first + count - 1
    sed = scene.sequence_editor_create()
    strips = sed.strips
    plate = strips.new_image(name="plate", filepath=job["plate_files"][0], channel=2, frame_start=first)
    for f in job["plate_files"][1:]:
        plate.elements.append(os.path.basename(f))
    plate.colorspace_settings.name = case.get("colorspace", job["colorspace"])
    matte = strips.new_image(name="matte", filepath=job["mask_files"][0], channel=1, frame_start=first)
    for f in job["mask_files"][1:]:
        matte.elements.append(os.path.basename(f))
    matte.colorspace_settings.is_data = True            # "Non-Color" in Blender's config, "Raw" in a studio one
    sed.active_strip = plate

    settings = scene.lookgrid
    prefs = preferences() or settings      # (the scene, for the extension before issue 25: tests of the tests)
    prefs.server = case.get("server", job["server"])
    prefs.backend_command = case.get("launch", "")
    prefs.timeout = case.get("timeout", 20.0)
    if "scene_launch" in case:                           # what a .blend made by another hand may carry
        settings["backend_command"] = case["scene_launch"]
        if prefs is settings:
            settings.backend_command = case["scene_launch"]
    settings.stride = case.get("stride", 1)
    settings.output_dir = case["output_dir"]
    fg = settings.regions.add()
    fg.name = "fg"
    if "mask_pattern" in case:
        fg.mask_source, fg.mask_pattern = "FILES", case["mask_pattern"]
    else:
        fg.mask_source, fg.mask_strip = "STRIP", "matte"
    a, b = fg.references.add(), fg.references.add()
    a.path, b.path = job["warm"], case.get("cool", job["cool"])
    last = first + count - 1
    # weights crossing over, Blender's default BEZIER keys
    for ref, (v0, v1) in ((a, (1.0, 0.0)), (b, (0.0, 1.0))):
        ref.weight = v0
        ref.keyframe_insert("weight", frame=first)
        ref.weight = v1
        ref.keyframe_insert("weight", frame=last)
    fg.strength = 0.7
    fg.keyframe_insert("strength", frame=first)
    fg.strength = 1.0
    fg.keyframe_insert("strength", frame=last)
    bg = settings.regions.add()
    bg.name, bg.mask_source = "background", "NONE"
    bg.references.add().path = job["bg"]
    if case.get("no_active"):
        sed.active_strip = None
    return scene


def strips_state(scene) -> list[dict]:
    return [{"name": s.name, "channel": s.channel, "start": s.frame_final_start, "end": s.frame_final_end,
             "files": [os.path.join(bpy.path.abspath(s.directory), e.filename) for e in s.elements],
             "colorspace": s.colorspace_settings.name}
            for s in scene.sequence_editor.strips_all]


def ui_operators() -> dict:
    """The region/reference operators and the panel's registration, as a user would use them."""
    bpy.ops.wm.read_homefile(use_empty=True)
    settings = bpy.context.scene.lookgrid
    bpy.ops.lookgrid.region_add()
    bpy.ops.lookgrid.region_add()
    bpy.ops.lookgrid.reference_add()
    counts = [len(r.references) for r in settings.regions]
    bpy.ops.lookgrid.region_remove()
    return {"after_add": counts, "after_remove": [r.name for r in settings.regions],
            "panel": hasattr(bpy.types, "LOOKGRID_PT_sequencer"),
            "module": bpy.types.Scene.lookgrid.keywords["type"].__module__}


def apply_on_a_worker(scene, bpy_reads: bool = False) -> int:
    """Apply as the interactive operator does (a worker thread, this thread pumping its host calls
    as the modal timer would); returns how many calls the worker needed on this (the UI) thread.
    ``bpy_reads``: as in a Blender without OpenImageIO (frames read through bpy on this thread)."""
    ui = sys.modules[ADDON + ".ui"]
    if bpy_reads:
        ui.openimageio = lambda: None
    from lookgrid_client.hostjob import HostJob  # the extension's bundled client

    calls = []

    class Counting(HostJob):
        def on_main(self, fn, *args):
            calls.append(fn.__name__)
            return super().on_main(fn, *args)

    t0 = time.perf_counter()
    apply = ui.prepare(scene)
    job = Counting(lambda j: ui.run(apply, j)).start()
    while not job.done:
        job.pump()
        time.sleep(0.005)
    job.pump()
    if job.error is not None:
        raise RuntimeError(job.error_line())
    ui.finish(scene, apply, job.result(), time.perf_counter() - t0)
    return len(calls)


def main() -> None:
    job = json.load(open(sys.argv[1]))
    install(job["zip"])
    print("LOOKGRID-UI " + json.dumps(ui_operators()), flush=True)
    for case in job["cases"]:
        scene = build_scene(job, case)
        t0 = time.perf_counter()
        main_calls = None
        try:
            if case.get("worker"):
                main_calls = apply_on_a_worker(scene, case.get("bpy_reads", False))
            else:
                bpy.ops.sequencer.lookgrid_apply()
            ok, error = True, ""
        except RuntimeError as err:
            ok, error = False, str(err)
        seconds = time.perf_counter() - t0
        from lookgrid_client import launch  # the extension's bundled client

        launched = [[c.owned_process.address, c.owned_process.process.pid]
                    for c in launch._session.values() if c.owned_process is not None]
        print("LOOKGRID-CASE " + json.dumps({"case": case["name"], "ok": ok, "error": error, "launched": launched,
                                             "main_calls": main_calls, "python": sys.version.split()[0],
                                             "blender": bpy.app.version_string,
                                             "scene_props": sorted(scene.lookgrid.bl_rna.properties.keys()),
                                             "strips": strips_state(scene), "seconds": seconds,
                                             "last_output": scene.lookgrid.last_output,
                                             "last_spec": scene.lookgrid.last_spec}), flush=True)


if __name__ == "__main__":
    main()

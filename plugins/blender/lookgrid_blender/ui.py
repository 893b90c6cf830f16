"""Settings, the Sequencer sidebar panel and the operators of the LookGrid extension.

The classes are made by :func:`_classes` (``bpy`` is imported only inside functions). "Apply
LookGrid" reads the scene on the main thread (:mod:`.host`), then runs the job with
``lookgrid_client``: interactively on a worker thread, with a modal timer that pumps the host calls
(frame reads), shows progress and takes Esc as cancel; in background mode, where timers never
fire, synchronously. Errors are reported as one line.

No ``from __future__ import annotations`` here: Blender reads the property annotations of the
classes made inside :func:`_classes` as live objects.
"""

import os
import re
import time
from dataclasses import dataclass

from lookgrid_client import DEFAULT_ADDRESS, LookGridError
from lookgrid_client.hostcolor import config_aliases, map_colorspace
from lookgrid_client.hostio import add_bundled_site_packages, openimageio, read_frame_files
from lookgrid_client.hostjob import HostJob
from lookgrid_client.hostrender import build_spec, render_to_files
from lookgrid_client.launch import close_session_clients, describe_server, session_client

from . import host

METHODS = [("lookgrid", "LookGrid", "Bilateral grids with temporal state (flicker-free)"),
           ("per-frame", "Per frame", "Bilateral grids, each frame alone"),
           ("pixel-blend", "Pixel blend", "One full-frame transfer per region, blended by the masks"),
           ("reinhard", "Reinhard", "Classical per-region colour statistics transfer")]
MASK_SOURCES = [("STRIP", "Strip", "An image-sequence strip holds the mask"),
                ("FILES", "Files", "A file pattern such as //masks/car.####.exr (frame numbers = timeline frames)"),
                ("NONE", "Background", "No mask: whatever the other regions leave")]


@dataclass
class ApplyJob:
    """Everything "Apply LookGrid" read from the scene before the work starts."""

    strip_name: str
    frames: list[int]
    plate: dict
    masks: dict
    spec: dict
    output: str
    storage_input: str | None
    storage_masks: dict
    address: str
    launch: str | None
    timeout: float
    colorspace: str           # the strip's Blender colour space
    ocio_config: str          # Blender's active OpenColorIO config file
    threaded_reads: bool      # the worker reads files (OpenImageIO) instead of bpy on the main thread
    token: str = ""                 # empty: $LOOKGRID_TOKEN (a started server shares it)
    tls_cert: str = ""              # the server's PEM certificate: connect with TLS


def preferences(context=None):
    """The add-on's preferences (server, backend command, timeout)."""
    import bpy

    context = context or bpy.context
    return context.preferences.addons[__package__].preferences


def prepare(scene, prefs=None) -> ApplyJob:
    """Read the active strip, masks, references and curves (main thread); InvalidRequestError on bad input."""
    settings = scene.lookgrid
    prefs = prefs or preferences()
    strip = host.image_strip(scene)
    plate = host.strip_files(strip)
    if not plate:
        raise LookGridError(f"strip {strip.name!r} shows no frames")
    frames = sorted(plate)
    masks = host.mask_files(scene, frames)
    colorspace = strip.colorspace_settings.name
    if colorspace == "Non-Color" or getattr(strip.colorspace_settings, "is_data", False):
        raise LookGridError(f"strip {strip.name!r}: its colour space {colorspace!r} is data, not a picture; "
                            f"set Strip ▸ Source ▸ Color Space to the space its pixels are in")
    spec = build_spec(host.region_looks(scene, frames), input_colorspace=colorspace,
                      method=settings.method if settings.method != "lookgrid" else "", stride=settings.stride)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", strip.name)
    output = os.path.join(host.abspath(settings.output_dir), safe, f"{safe}.####.exr")
    storage_input = host.sequence_pattern(plate)
    storage_masks = {name: host.sequence_pattern(files) for name, files in masks.items()}
    if any(p is None for p in storage_masks.values()):
        storage_input = None
    address = prefs.server.strip() or DEFAULT_ADDRESS
    host.check_online_access(address)
    launch = prefs.backend_command.strip()
    add_bundled_site_packages(host.bundled_python_modules())
    return ApplyJob(strip.name, frames, plate, masks, spec, output, storage_input, storage_masks, address,
                    os.path.abspath(os.path.expanduser(launch)) if launch else None, float(prefs.timeout),
                    colorspace, host.ocio_config(), openimageio() is not None, prefs.token.strip(),
                    os.path.abspath(os.path.expanduser(prefs.tls_cert.strip())) if prefs.tls_cert.strip() else "")


def run(job: ApplyJob, hostjob: HostJob):
    """The work of one apply (worker thread, or here in background mode): returns render_to_files'
    (result, paths, spec path)."""
    client = session_client(job.address, launch=job.launch, timeout=job.timeout, token=job.token or None,
                            root_certificates=job.tls_cert or None)
    hostjob.set_server(describe_server(client))
    spaces = list(client.server_info().colorspaces)
    spec = dict(job.spec, inputColorspace=map_colorspace("blender", job.colorspace, spaces,
                                                         host_config=config_aliases(job.ocio_config)))

    def read(frame: int):
        if job.threaded_reads:   # this thread reads the files: the UI thread stays free
            return read_frame_files(frame, job.plate[frame], {name: files[frame] for name, files in job.masks.items()})
        return hostjob.on_main(host.read_frame, job.plate, job.masks, frame)

    return render_to_files(client, spec, job.frames, read, job.output,
                           storage_input=job.storage_input, storage_masks=job.storage_masks,
                           progress=hostjob.set_progress, cancel=hostjob.cancelled,
                           label=f"blender:{job.strip_name}", phase=hostjob.set_phase)


def finish(scene, job: ApplyJob, outcome, seconds: float) -> str:
    """Add the result strip (main thread); returns the report line."""
    result, paths, spec_path = outcome
    source = host.image_strip(scene, job.strip_name)
    strip = host.add_result_strip(scene, source, paths, job.frames[0])
    settings = scene.lookgrid
    settings.last_output = os.path.dirname(paths[0])
    settings.last_spec = spec_path or ""
    return (f"LookGrid: {len(paths)} frames in {seconds:.1f} s -> strip {strip.name!r} "
            f"(channel {strip.channel}), {settings.last_output}")


def _classes():
    import bpy
    from bpy.props import CollectionProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

    class LookGridReference(bpy.types.PropertyGroup):
        path: StringProperty(name="Reference", subtype="FILE_PATH", description="Reference photo (PNG, JPEG, EXR, TIFF)")
        weight: FloatProperty(name="Weight", min=0.0, default=1.0,
                              description="Weight of this look (keyframe it for transitions); normalised over the region's looks")

    class LookGridRegion(bpy.types.PropertyGroup):
        name: StringProperty(name="Name", default="region")
        mask_source: EnumProperty(name="Mask", items=MASK_SOURCES, default="STRIP")
        mask_strip: StringProperty(name="Mask strip", description="Image-sequence strip holding the mask")
        mask_pattern: StringProperty(name="Mask files", subtype="FILE_PATH",
                                     description="Mask file pattern with #### for the timeline frame")
        strength: FloatProperty(name="Strength", min=0.0, max=1.0, default=1.0, subtype="FACTOR",
                                description="How strongly the look is applied (keyframeable)")
        references: CollectionProperty(type=LookGridReference)
        active_reference: IntProperty()

    class LookGridPreferences(bpy.types.AddonPreferences):
        """Settings of this Blender installation, not of a .blend: a scene cannot start programs."""

        bl_idname = __package__

        server: StringProperty(name="Server", default=DEFAULT_ADDRESS, description="Address of the LookGrid backend")
        backend_command: StringProperty(name="Launch", subtype="FILE_PATH",
                                        description="Path of a 'lookgrid' executable, started when no server answers")
        timeout: FloatProperty(name="Timeout", default=10.0, min=0.5, description="Seconds to wait for the server")
        token: StringProperty(name="Token", subtype="PASSWORD",
                              description="Token the server needs (empty: $LOOKGRID_TOKEN)")
        tls_cert: StringProperty(name="TLS certificate", subtype="FILE_PATH",
                                 description="The server's PEM certificate: connect with TLS")

        def draw(self, context):
            col = self.layout.column()
            col.prop(self, "server")
            col.prop(self, "backend_command")
            col.prop(self, "timeout")
            col.prop(self, "token")
            col.prop(self, "tls_cert")

    class LookGridSettings(bpy.types.PropertyGroup):
        method: EnumProperty(name="Method", items=METHODS, default="lookgrid")
        stride: IntProperty(name="Stride", default=1, min=1, max=64,
                            description="Compute grids every n-th frame and interpolate between")
        output_dir: StringProperty(name="Output", subtype="DIR_PATH", default="//lookgrid/")
        regions: CollectionProperty(type=LookGridRegion)
        active_region: IntProperty()
        last_output: StringProperty(name="Last output", options={"SKIP_SAVE"})
        last_spec: StringProperty(name="Last spec", options={"SKIP_SAVE"})

    class LOOKGRID_UL_regions(bpy.types.UIList):
        def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
            layout.prop(item, "name", text="", emboss=False)
            layout.label(text=dict((k, n) for k, n, _ in MASK_SOURCES)[item.mask_source])

    class LOOKGRID_OT_region_add(bpy.types.Operator):
        bl_idname = "lookgrid.region_add"
        bl_label = "Add Region"
        bl_options = {"REGISTER", "UNDO"}

        def execute(self, context):
            settings = context.scene.lookgrid
            region = settings.regions.add()
            region.name = f"region{len(settings.regions)}"
            region.references.add()
            settings.active_region = len(settings.regions) - 1
            return {"FINISHED"}

    def remove_region(settings, index):
        settings.regions.remove(index)
        settings.active_region = max(0, index - 1)

    def add_reference(settings, index):
        settings.regions[index].references.add()

    def on_active_region(idname, label, action):
        """An operator that runs ``action(settings, index)`` when a region is selected."""

        def execute(self, context):
            settings = context.scene.lookgrid
            if 0 <= settings.active_region < len(settings.regions):
                action(settings, settings.active_region)
            return {"FINISHED"}

        name = "LOOKGRID_OT_" + idname.split(".")[1]
        return type(name, (bpy.types.Operator,), {"bl_idname": idname, "bl_label": label,
                                                  "bl_options": {"REGISTER", "UNDO"}, "execute": execute})

    LOOKGRID_OT_region_remove = on_active_region("lookgrid.region_remove", "Remove Region", remove_region)
    LOOKGRID_OT_reference_add = on_active_region("lookgrid.reference_add", "Add Reference", add_reference)

    class LOOKGRID_OT_apply(bpy.types.Operator):
        """Transfer the regions' looks onto the active image-sequence strip; the result is a new strip above it"""

        bl_idname = "sequencer.lookgrid_apply"
        bl_label = "Apply LookGrid"

        _job = None
        _timer = None

        def _prepare(self, context):
            try:
                self._apply = prepare(context.scene, preferences(context))
                return True
            except LookGridError as err:
                self.report({"ERROR"}, str(err))
                return False

        def _finish(self, context, hostjob, t0):
            if hostjob.error is not None:
                self.report({"WARNING"} if hostjob.cancelled() else {"ERROR"}, hostjob.error_line())
                return {"CANCELLED"}
            line = finish(context.scene, self._apply, hostjob.result(), time.perf_counter() - t0)
            self.report({"INFO"}, f"{line}; rendered on {hostjob.server}" if hostjob.server else line)
            return {"FINISHED"}

        def execute(self, context):  # background mode and scripts: synchronous (timers never fire there)
            if not self._prepare(context):
                return {"CANCELLED"}
            t0 = time.perf_counter()
            hostjob = HostJob(lambda j: run(self._apply, j))
            try:
                hostjob.run_here()
            except BaseException:
                pass  # reported by _finish from hostjob.error
            return self._finish(context, hostjob, t0)

        def invoke(self, context, event):
            if bpy.app.background:
                return self.execute(context)
            if not self._prepare(context):
                return {"CANCELLED"}
            self._t0 = time.perf_counter()
            self._job = HostJob(lambda j: run(self._apply, j)).start()
            wm = context.window_manager
            self._timer = wm.event_timer_add(0.05, window=context.window)
            wm.modal_handler_add(self)
            wm.progress_begin(0, max(len(self._apply.frames), 1))
            return {"RUNNING_MODAL"}

        def modal(self, context, event):
            job = self._job
            if event.type == "ESC" and not job.done:
                job.cancel()
            if event.type != "TIMER":
                return {"PASS_THROUGH"}
            job.pump()
            done, total = job.progress
            wm = context.window_manager
            wm.progress_update(done)
            context.workspace.status_text_set(f"LookGrid on {job.server or '…'}: {job.status_line()} (Esc cancels)")
            if not job.done:
                return {"RUNNING_MODAL"}
            wm.event_timer_remove(self._timer)
            wm.progress_end()
            context.workspace.status_text_set(None)
            return self._finish(context, job, self._t0)

    class LOOKGRID_PT_sequencer(bpy.types.Panel):
        bl_label = "LookGrid"
        bl_space_type = "SEQUENCE_EDITOR"
        bl_region_type = "UI"
        bl_category = "LookGrid"

        def draw(self, context):
            settings = context.scene.lookgrid
            layout = self.layout
            col = layout.column()
            col.label(text=f"Server: {preferences(context).server or DEFAULT_ADDRESS} (add-on preferences)")
            col.prop(settings, "method")
            col.prop(settings, "stride")
            col.prop(settings, "output_dir")
            row = layout.row()
            row.template_list("LOOKGRID_UL_regions", "", settings, "regions", settings, "active_region", rows=3)
            side = row.column(align=True)
            side.operator("lookgrid.region_add", icon="ADD", text="")
            side.operator("lookgrid.region_remove", icon="REMOVE", text="")
            if 0 <= settings.active_region < len(settings.regions):
                region = settings.regions[settings.active_region]
                box = layout.box()
                box.prop(region, "mask_source")
                if region.mask_source == "STRIP":
                    box.prop_search(region, "mask_strip", context.scene.sequence_editor, "strips_all"
                                    if hasattr(context.scene.sequence_editor, "strips_all") else "sequences_all")
                elif region.mask_source == "FILES":
                    box.prop(region, "mask_pattern")
                box.prop(region, "strength")
                for ref in region.references:
                    r = box.row(align=True)
                    r.prop(ref, "path", text="")
                    r.prop(ref, "weight")
                box.operator("lookgrid.reference_add", icon="ADD")
            layout.operator("sequencer.lookgrid_apply", icon="SHADERFX")
            if settings.last_output:
                layout.label(text=f"Last: {settings.last_output}")

    return [LookGridPreferences, LookGridReference, LookGridRegion, LookGridSettings, LOOKGRID_UL_regions, LOOKGRID_OT_region_add,
            LOOKGRID_OT_region_remove, LOOKGRID_OT_reference_add, LOOKGRID_OT_apply, LOOKGRID_PT_sequencer]


_registered: list = []


def register() -> None:
    import bpy

    for cls in _classes():
        bpy.utils.register_class(cls)
        _registered.append(cls)
    settings = next(c for c in _registered if c.__name__ == "LookGridSettings")
    bpy.types.Scene.lookgrid = bpy.props.PointerProperty(type=settings)


def unregister() -> None:
    import bpy

    del bpy.types.Scene.lookgrid
    for cls in reversed(_registered):
        bpy.utils.unregister_class(cls)
    _registered.clear()
    close_session_clients()

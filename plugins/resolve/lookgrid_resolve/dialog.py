"""The LookGrid dialog in Resolve (Fusion's UIManager): server settings, regions, references,
strength and mix keys.

Only this module touches the UI toolkit, and only on the UI thread: the fields are read into a
:class:`~lookgrid_resolve.job.Form` there, the work runs in a :class:`lookgrid_client.hostjob.HostJob`
on a worker thread that never calls Resolve or sets widget text itself (its Resolve calls come back
to the UI thread through ``HostJob.on_main``), and a UI timer (``ui.Timer``, its ``Timeout`` event)
pumps those calls and shows the phase, the frames and the time left on the status line. Up to three
regions; the last one with an empty mask is the background. Mix keys are record frames as the
timeline shows them (e.g. ``86400:0, 86424:1:smooth``), or ``markers`` for the timeline markers named
``LookGrid <region>`` (their note is the value). The colour space is one of the server's (listed when
the dialog opens, with *list colour spaces*, and after each render), or *from Resolve*.
"""

from __future__ import annotations

from lookgrid_resolve.job import Form, FormError, RegionForm

ROWS = 3
FIELDS = ("name", "mask", "refs", "strength", "mix")
FROM_RESOLVE = "from Resolve (clip / project colour management)"
TICK_MS = 100
PROBE_TIMEOUT = 3.0


def read_form(find) -> Form:
    """The form from the dialog's fields; ``find(id)`` returns the widget (with ``.Text``)."""
    def text(widget_id: str) -> str:
        return str(find(widget_id).Text or "").strip()

    regions = []
    for i in range(1, ROWS + 1):
        name = text(f"r{i}_name")
        if not name:
            continue
        try:
            strength = float(text(f"r{i}_strength") or 1.0)
        except ValueError:
            raise FormError(f"region {name}: strength {text(f'r{i}_strength')!r} is not a number") from None
        refs = [p.strip() for p in text(f"r{i}_refs").split(",") if p.strip()]
        regions.append(RegionForm(name, text(f"r{i}_mask"), refs, strength, text(f"r{i}_mix")))
    try:
        stride = int(text("stride") or 1)
    except ValueError:
        raise FormError(f"stride {text('stride')!r} is not a whole number") from None
    colorspace = str(find("colorspace").CurrentText or "")
    return Form(regions, server=text("server"), launch=text("launch"), method=text("method"), stride=stride,
                colorspace="" if colorspace == FROM_RESOLVE else colorspace, output=text("output"),
                token=text("token"), tls_cert=text("tls_cert"), path_map=text("path_map"))


def _list_colorspaces(form: Form) -> list[str]:
    """Worker: the colour spaces of the server at the form's address (no launch)."""
    from lookgrid_client import connect

    with connect(form.server or None, timeout=PROBE_TIMEOUT, token=form.token or None,
                 root_certificates=form.tls_cert or None) as client:
        return list(client.server_info().colorspaces)


def show(resolve, fusion, bmd) -> None:
    """Open the dialog and run until it is closed."""
    from lookgrid_client.hostjob import HostJob
    from lookgrid_resolve.job import render

    ui = fusion.UIManager
    disp = bmd.UIDispatcher(ui)

    def row(label, widget_id, value=""):
        return ui.HGroup([ui.Label({"Text": label, "Weight": 0.25}), ui.LineEdit({"ID": widget_id, "Text": value})])

    rows = [row("server", "server", "127.0.0.1:50051"), row("start server (lookgrid path)", "launch"),
            row("token (empty: $LOOKGRID_TOKEN)", "token"), row("TLS certificate (PEM)", "tls_cert"),
            row("path mapping (this machine = server; ...)", "path_map"),
            row("method", "method", "lookgrid"), row("grid stride", "stride", "1"),
            ui.HGroup([ui.Label({"Text": "colour space", "Weight": 0.25}), ui.ComboBox({"ID": "colorspace"}),
                       ui.Button({"ID": "list_spaces", "Text": "list colour spaces"})]),
            row("output folder", "output"), row("Apply as grade: lut or cdl", "grade_as", "lut")]
    for i in range(1, ROWS + 1):
        rows.append(ui.Label({"Text": f"Region {i}"}))
        rows += [row("name", f"r{i}_name", "background" if i == ROWS else ""),
                 row("mask files (empty: background)", f"r{i}_mask"),
                 row("references (comma separated)", f"r{i}_refs"), row("strength", f"r{i}_strength", "1"),
                 row("mix keys (record:value, or markers)", f"r{i}_mix")]
    rows.append(ui.Label({"ID": "status", "Text": ""}))
    rows.append(ui.HGroup([ui.Button({"ID": "render", "Text": "Render"}),
                           ui.Button({"ID": "grade", "Text": "Apply as grade"}),
                           ui.Button({"ID": "cancel", "Text": "Cancel render"})]))
    win = disp.AddWindow({"ID": "LookGrid", "WindowTitle": "LookGrid"}, ui.VGroup(rows))
    timer = ui.Timer({"ID": "lookgrid_tick", "Interval": TICK_MS})
    win.Find("colorspace").AddItems([FROM_RESOLVE])
    jobs: dict = {}                 # "render" / "spaces" -> the HostJob running it
    state = {"asked": False}

    def status(text: str) -> None:
        win.Find("status").Text = text

    def set_spaces(spaces) -> None:
        box = win.Find("colorspace")
        current = box.CurrentText
        box.Clear()
        box.AddItems([FROM_RESOLVE] + list(spaces))
        box.CurrentText = current

    def start(kind: str, work) -> bool:
        if kind in jobs:
            return False
        if kind == "spaces":      # a newer question replaces an older one still waiting for its answer
            state["spaces"] = state.get("spaces", 0) + 1
            kind = f"spaces-{state['spaces']}"
        jobs[kind] = HostJob(work, name=f"lookgrid-resolve-{kind}").start()
        timer.Start()
        return True

    def finished(kind: str, job) -> None:
        from lookgrid_client import RenderCancelledError

        if kind.startswith("spaces"):
            if kind != f"spaces-{state['spaces']}":
                return
            if job.error is None:
                set_spaces(job.result())
                status(f"{len(job.result())} colour spaces from the server")
            elif state["asked"]:
                status(f"LookGrid: {job.error_line()}")
            return
        if isinstance(job.error, RenderCancelledError):
            status("render cancelled")
        elif job.error is not None:
            status(f"LookGrid: {job.error_line()}")
        elif hasattr(job.result(), "message"):     # Apply as grade
            status(job.result().message)
        else:
            placed = job.result()
            if placed.colorspaces:
                set_spaces(placed.colorspaces)
            status(f"placed {placed.first}-{placed.last} on video track {placed.track} "
                   f"at record frame {placed.record_frame} ({placed.colorspace}); rendered on {placed.server}")

    def on_tick(ev) -> None:
        for kind, job in list(jobs.items()):
            job.pump()
            if not job.done:
                if kind == "render":
                    status(job.status_line())
                continue
            del jobs[kind]
            finished(kind, job)
        if not jobs:
            timer.Stop()

    def on_list(ev) -> None:
        form = Form([], server=win.Find("server").Text.strip(), token=win.Find("token").Text.strip(),
                    tls_cert=win.Find("tls_cert").Text.strip())
        state["asked"] = True
        if start("spaces", lambda job: _list_colorspaces(form)):
            status("asking the server for its colour spaces")

    def job_form() -> Form | None:
        """The dialog's form when no render runs and the form reads; otherwise None (said on the status line)."""
        if "render" in jobs:
            return None
        try:
            return read_form(win.Find)
        except FormError as err:
            status(f"LookGrid: {err}")
            return None

    def on_render(ev) -> None:
        form = job_form()
        if form is None:
            return
        start("render", lambda job: render(resolve, form, progress=job.set_progress, cancel=job.cancelled,
                                           on_main=job.on_main, status=job.set_phase))
        status("rendering…")

    def on_grade(ev) -> None:
        from lookgrid_resolve.grade import apply_grade

        form = job_form()
        if form is None:
            return
        grade_as = str(win.Find("grade_as").Text or "lut").strip().lower()
        if grade_as not in ("lut", "cdl"):
            status(f"LookGrid: Apply as grade takes lut or cdl, not {grade_as!r}")
            return
        start("render", lambda job: apply_grade(resolve, form, cdl_only=grade_as == "cdl", progress=job.set_progress,
                                                cancel=job.cancelled, on_main=job.on_main, status=job.set_phase))
        status("exporting the look…")

    def on_cancel(ev) -> None:
        if "render" in jobs:
            jobs["render"].cancel()
            status("cancelling…")

    def on_close(ev) -> None:
        for job in jobs.values():
            job.cancel()
        disp.ExitLoop()

    win.On.render.Clicked = on_render
    win.On.cancel.Clicked = on_cancel
    win.On.grade.Clicked = on_grade
    win.On.list_spaces.Clicked = on_list
    win.On.LookGrid.Close = on_close
    disp.On.lookgrid_tick.Timeout = on_tick
    first = Form([], server=str(win.Find("server").Text).strip())
    start("spaces", lambda job: _list_colorspaces(first))
    win.Show()
    disp.RunLoop()
    win.Hide()
    for job in jobs.values():  # closed while working: cancel it, and run its clean-up calls here
        job.cancel()
        for _ in range(600):
            job.pump()
            if job.wait(0.05):
                break

"""The LookGrid dialog in Resolve (Fusion's UIManager): regions, references, strength and mix keys.

Only this module touches the UI toolkit; it reads the fields into a :class:`~lookgrid_resolve.job.Form`
and runs :func:`lookgrid_resolve.job.render` on a worker thread, so the dialog stays responsive and
its Cancel button stops the render. Up to three regions; the last one with an empty mask is the
background. Mix keys are record frames as the timeline shows them (e.g. ``86400:0, 86424:1:smooth``),
or ``markers`` for the timeline markers named ``LookGrid <region>`` (their note is the value).
"""

from __future__ import annotations

import threading

from lookgrid_resolve.job import Form, FormError, RegionForm

ROWS = 3
FIELDS = ("name", "mask", "refs", "strength", "mix")


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
    return Form(regions, server=text("server"), launch=text("launch"), method=text("method"), stride=stride,
                colorspace=text("colorspace"), output=text("output"))


def show(resolve, fusion, bmd) -> None:
    """Open the dialog and run until it is closed."""
    from lookgrid_resolve.job import render

    ui = fusion.UIManager
    disp = bmd.UIDispatcher(ui)

    def row(label, widget_id, value=""):
        return ui.HGroup([ui.Label({"Text": label, "Weight": 0.25}), ui.LineEdit({"ID": widget_id, "Text": value})])

    rows = [row("server", "server", "127.0.0.1:50051"), row("start server (lookgrid path)", "launch"),
            row("method", "method", "lookgrid"), row("grid stride", "stride", "1"),
            row("colour space", "colorspace", "ACEScg"), row("output folder", "output")]
    for i in range(1, ROWS + 1):
        rows.append(ui.Label({"Text": f"Region {i}"}))
        rows += [row("name", f"r{i}_name", "background" if i == ROWS else ""),
                 row("mask files (empty: background)", f"r{i}_mask"),
                 row("references (comma separated)", f"r{i}_refs"), row("strength", f"r{i}_strength", "1"),
                 row("mix keys (record:value, or markers)", f"r{i}_mix")]
    rows.append(ui.Label({"ID": "status", "Text": ""}))
    rows.append(ui.HGroup([ui.Button({"ID": "render", "Text": "Render"}),
                           ui.Button({"ID": "cancel", "Text": "Cancel render"})]))
    win = disp.AddWindow({"ID": "LookGrid", "WindowTitle": "LookGrid"}, ui.VGroup(rows))
    cancel = threading.Event()
    state = {"worker": None}

    def status(text: str) -> None:
        win.Find("status").Text = text

    def work(form: Form) -> None:
        from lookgrid_client import LookGridError, RenderCancelledError

        try:
            placed = render(resolve, form, progress=lambda done, total: status(f"frame {done} of {total}"),
                            cancel=cancel.is_set)
            status(f"placed {placed.first}-{placed.last} on video track {placed.track} "
                   f"at record frame {placed.record_frame}")
        except RenderCancelledError:
            status("render cancelled")
        except (LookGridError, FormError, OSError, Exception) as err:  # one line for the artist
            status(f"LookGrid: {err}")

    def on_render(ev) -> None:
        if state["worker"] is not None and state["worker"].is_alive():
            return
        try:
            form = read_form(win.Find)
        except FormError as err:
            status(f"LookGrid: {err}")
            return
        cancel.clear()
        status("rendering…")
        state["worker"] = threading.Thread(target=work, args=(form,), name="lookgrid-resolve", daemon=True)
        state["worker"].start()

    def on_close(ev) -> None:
        cancel.set()
        disp.ExitLoop()

    win.On.render.Clicked = on_render
    win.On.cancel.Clicked = lambda ev: cancel.set()
    win.On.LookGrid.Close = on_close
    win.Show()
    disp.RunLoop()
    win.Hide()
    if state["worker"] is not None:
        state["worker"].join()

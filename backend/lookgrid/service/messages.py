"""Engine values as protobuf messages and back: the clip spec and the result of a look export."""

from __future__ import annotations

import os

from google.protobuf import json_format

from lookgrid.engine import ClipSpec
from lookgrid.engine.look import matte_pattern
from lookgrid_client.proto import lookgrid_pb2 as pb


def spec_from_message(msg: pb.ClipSpec) -> ClipSpec:
    """The engine's ClipSpec from a ClipSpec message (through the shared JSON form)."""
    return ClipSpec.from_dict(json_format.MessageToDict(msg))


def spec_to_message(spec: ClipSpec) -> pb.ClipSpec:
    return json_format.ParseDict(spec.to_dict(), pb.ClipSpec())


def fidelity_message(f) -> pb.LookFidelity:
    """A :class:`lookgrid.engine.lookfidelity.Fidelity` (or None: not measured) as its message."""
    if f is None or f.pixels == 0:
        return pb.LookFidelity()
    return pb.LookFidelity(mean_delta_e=f.mean, p95_delta_e=f.p95, pixels=f.pixels)


def bake_message(b) -> pb.RegionBake:
    """A :class:`lookgrid.engine.look.BakeRegion` as its message."""
    return pb.RegionBake(
        reference_clf_paths=b.reference_clfs,
        reference_cube_paths=b.reference_cubes,
        segments=[
            pb.LookSegment(
                first=s.first, last=s.last, clf_path=s.clf, cube_path=s.cube, fidelity=fidelity_message(s.fidelity)
            )
            for s in b.segments
        ],
        key_pattern=b.key_pattern,
        references=b.references,
        fidelity=fidelity_message(b.fidelity),
        mix=[pb.FrameMix(frame=f, weights=w, strength=s) for f, w, s in zip(b.frames, b.weights, b.strength)],
    )


def look_result(res, seconds: float) -> pb.ExportLookResult:
    """A :class:`lookgrid.engine.look.LookExport` as its message."""
    files = set(res.files)
    path = lambda p: p if p in files else ""  # noqa: E731
    regions = []
    for look in res.collection.regions:
        if look.name not in res.exported:
            continue
        j = lambda ext, name=look.name: os.path.join(res.out, name + ext)  # noqa: E731
        regions.append(
            pb.RegionLookInfo(
                name=look.name,
                look_name=f"lookgrid-{look.name}" if path(j(".acescct.clf")) else "",
                clf_path=path(j(".clf")),
                cube_path=path(j(".cube")),
                cdl_path=path(j(".cc")),
                cdl_rms_error=look.cdl.rms if look.cdl is not None else 0.0,
                matte_pattern=matte_pattern(res.out, look.name),
                matte_area=look.total().total,
                fidelity=fidelity_message(res.fidelity.get(look.name)),
                bake=bake_message(res.bake[look.name]) if look.name in res.bake else None,
            )
        )
    return pb.ExportLookResult(
        files=res.files,
        regions=regions,
        lut_size=res.size,
        shot_colorspace=res.collection.shot_space,
        config_path=path(os.path.join(res.out, "config.ocio")),
        seconds=seconds,
    )

"""The job description: plain dataclasses mirroring ``lookgrid.v1.ClipSpec`` (protos/lookgrid/v1).

One format everywhere: ``lookgrid render --spec clip.json``, ``--write-spec``, the service and the
farm. :meth:`ClipSpec.to_dict` produces protobuf's canonical JSON mapping of the message
(lowerCamelCase names, enum values by name, proto3 defaults — empty strings, zero numbers, empty
lists — omitted), so ``json_format.ParseDict(spec.to_dict(), pb.ClipSpec())`` and back gives the same
dict. :meth:`ClipSpec.from_dict` accepts that form and also the proto field names (``input_colorspace``),
like protobuf's own parser.

Conventions carried over from the .proto comments:
* an empty weight/strength track means 1 everywhere;
* exactly zero or one region may have no mask: that one is the background,
  ``clip(1 − Σ other masks, 0, 1)``;
* ``stride`` 0 or 1 means every frame; ``method`` empty means ``lookgrid``; ``device`` empty means
  ``auto``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookgrid.errors import InvalidInputError
from lookgrid.fsutil import atomic_write
from lookgrid.timeline import Track

BACKGROUND = "background"
#: the spec's ``method`` values: one :class:`lookgrid.engine.methods.Method` each (``methods.py``
#: checks its table against this list; it lives here so the spec needs no torch)
METHOD_NAMES: tuple[str, ...] = ("lookgrid", "per-frame", "pixel-blend", "reinhard")
#: the method of a spec that names none
DEFAULT_METHOD = METHOD_NAMES[0]
#: the whole-shot smoothing (sigma, analysed frames) a clip with a frame range gets when its spec
#: sets none (:meth:`ClipSpec.smooth_sigma`): with it every model's grade pumps no more than a look
#: held from the first frame (dev suite, ``models/README.md``); the time kernel reaches ±9 frames
DEFAULT_SMOOTH = 3.0
STYLE_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _is_unit_track(track: Track) -> bool:
    return len(track.keys) == 1 and track.keys[0].value == 1.0 and track.keys[0].frame == 0.0


def _get(data: dict, camel: str, snake: str, default: Any = None) -> Any:
    if camel in data:
        return data[camel]
    return data.get(snake, default)


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInputError(f"{where}: unknown field(s) {', '.join(unknown)}")


@dataclass
class StyleTrack:
    """A reference image (path or ``sha256:<hex>`` content hash) and its weight over time."""

    style: str
    weight: Track = field(default_factory=lambda: Track.constant(1.0))

    @property
    def is_hash(self) -> bool:
        return bool(STYLE_HASH_RE.match(self.style))

    def to_dict(self) -> dict:
        d: dict = {}
        if self.style:
            d["style"] = self.style
        if not _is_unit_track(self.weight):
            d["weight"] = self.weight.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict, where: str = "style") -> "StyleTrack":
        if isinstance(data, str):
            return cls(data)
        if not isinstance(data, dict):
            raise InvalidInputError(f"{where}: expected an object, got {type(data).__name__}")
        _check_keys(data, {"style", "weight"}, where)
        style = str(data.get("style", ""))
        if not style:
            raise InvalidInputError(f"{where}.style is empty")
        weight = Track.from_dict(data.get("weight"), default=1.0)
        if any(k.value < 0 for k in weight.keys):
            raise InvalidInputError(f"{where}.weight has a negative key value")
        return cls(style, weight)


@dataclass
class RegionSpec:
    """A region: its mask pattern (``None``/empty → background) and a keyframed mix of looks."""

    name: str
    mask: str | None = None
    styles: list[StyleTrack] = field(default_factory=list)
    strength: Track = field(default_factory=lambda: Track.constant(1.0))
    mask_channel: str = ""

    @property
    def is_background(self) -> bool:
        return not self.mask

    def to_dict(self) -> dict:
        d: dict = {}
        if self.name:
            d["name"] = self.name
        if self.mask:
            d["mask"] = self.mask
        if self.mask_channel:
            d["maskChannel"] = self.mask_channel
        if self.styles:
            d["styles"] = [s.to_dict() for s in self.styles]
        if not _is_unit_track(self.strength):
            d["strength"] = self.strength.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict, where: str = "region") -> "RegionSpec":
        if not isinstance(data, dict):
            raise InvalidInputError(f"{where}: expected an object, got {type(data).__name__}")
        _check_keys(data, {"name", "mask", "maskChannel", "mask_channel", "styles", "strength"}, where)
        name = str(data.get("name", ""))
        where = f"region {name!r}" if name else where
        styles = [StyleTrack.from_dict(s, f"{where}.styles[{i}]") for i, s in enumerate(data.get("styles", []) or [])]
        strength = Track.from_dict(data.get("strength"), default=1.0)
        return cls(
            name=name,
            mask=(data.get("mask") or None),
            styles=styles,
            strength=strength,
            mask_channel=str(_get(data, "maskChannel", "mask_channel", "") or ""),
        )


@dataclass
class ClipSpec:
    """A clip to render: see ``lookgrid.v1.ClipSpec`` for each field's meaning.

    ``input_colorspace`` / ``output_colorspace`` empty = decided at render time (8-bit PNG/JPEG
    input: "sRGB - Texture", otherwise "ACEScg"; output: the input's space).
    """

    input: str = ""
    frames: str | None = None
    input_colorspace: str = ""
    output: str = ""
    output_colorspace: str = ""
    regions: list[RegionSpec] = field(default_factory=list)
    stride: int = 1
    method: str = DEFAULT_METHOD
    model: str | None = None
    device: str = "auto"
    config: str | None = None
    #: whole-shot smoothing of each region's look (:func:`lookgrid.model.smooth.smooth_looks`): the
    #: time kernel's sigma in analysed frames, both ways over the clip's frames; 0 = off; None (unset)
    #: = the default, :meth:`smooth_sigma`. Set in JSON specs and by the CLI; a clip opened through
    #: the service gets the default (lookgrid.v1.ClipSpec has no field for it).
    smooth: float | None = None

    def smooth_sigma(self, whole_shot: bool) -> float:
        """The smoothing a clip of this spec gets: ``smooth`` when set, else
        :data:`DEFAULT_SMOOTH` for a clip that can read its whole shot (a frame range and its input
        on storage: by-path and range renders, the farm, a host's render of a range) and 0 for a
        stream whose frames arrive one by one, which renders each frame causally as it arrives."""
        if self.smooth is not None:
            return float(self.smooth)
        return DEFAULT_SMOOTH if whole_shot else 0.0

    # --- checks -------------------------------------------------------------------------------
    def validate(self, *, need_paths: bool = True) -> "ClipSpec":
        """Raise :class:`InvalidInputError` naming the first bad field; returns ``self``."""
        if need_paths and not self.input:
            raise InvalidInputError("clip spec: 'input' is empty (a frame pattern is required)")
        if need_paths and not self.output:
            raise InvalidInputError("clip spec: 'output' is empty (an output pattern is required)")
        if self.method not in METHOD_NAMES:
            raise InvalidInputError(
                f"clip spec: unknown method {self.method!r}; expected one of {', '.join(METHOD_NAMES)}"
            )
        if int(self.stride) < 1:
            raise InvalidInputError(f"clip spec: stride must be >= 1, got {self.stride}")
        if self.smooth is not None and not float(self.smooth) >= 0.0:
            raise InvalidInputError(f"clip spec: smooth must be >= 0 (frames), got {self.smooth}")
        if not self.regions:
            raise InvalidInputError("clip spec: no regions (give at least one --style)")
        names = set()
        backgrounds = []
        for r in self.regions:
            if not r.name:
                raise InvalidInputError("clip spec: a region has no name")
            if not _NAME_RE.match(r.name):
                raise InvalidInputError(
                    f"clip spec: region name {r.name!r} may only use letters, digits, '_', '-' and '.'"
                )
            if r.name in names:
                raise InvalidInputError(f"clip spec: two regions are named {r.name!r}")
            names.add(r.name)
            if r.is_background:
                backgrounds.append(r.name)
            elif r.name == BACKGROUND:
                raise InvalidInputError(
                    "clip spec: region 'background' cannot have a mask (it is what no other mask covers)"
                )
            if not r.styles:
                raise InvalidInputError(f"clip spec: region {r.name!r} has no style")
            for i, s in enumerate(r.styles):
                if not s.style:
                    raise InvalidInputError(f"clip spec: region {r.name!r} style {i} is empty")
                if s.style.startswith("sha256:") and not s.is_hash:
                    raise InvalidInputError(
                        f"clip spec: region {r.name!r} style {s.style!r} is not "
                        "'sha256:' followed by 64 lowercase hex digits"
                    )
                if any(k.value < 0 for k in s.weight.keys):
                    raise InvalidInputError(f"clip spec: region {r.name!r} style {i} has a negative weight")
            if any(not (0.0 <= k.value <= 1.0) for k in r.strength.keys):
                raise InvalidInputError(f"clip spec: region {r.name!r} strength keys must lie in [0, 1]")
        if len(backgrounds) > 1:
            raise InvalidInputError(f"clip spec: only one region may have no mask (the background); got {backgrounds}")
        return self

    def region(self, name: str) -> RegionSpec:
        for r in self.regions:
            if r.name == name:
                return r
        raise InvalidInputError(
            f"no region named {name!r}; regions are {', '.join(r.name for r in self.regions) or '(none)'}"
        )

    # --- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """protobuf's JSON mapping of ``lookgrid.v1.ClipSpec`` (defaults omitted)."""
        d: dict = {}
        for key, value in (
            ("input", self.input),
            ("frames", self.frames or ""),
            ("inputColorspace", self.input_colorspace),
            ("output", self.output),
            ("outputColorspace", self.output_colorspace),
        ):
            if value:
                d[key] = value
        if self.regions:
            d["regions"] = [r.to_dict() for r in self.regions]
        if self.stride and int(self.stride) != 0:
            d["stride"] = int(self.stride)
        for key, value in (
            ("method", self.method),
            ("model", self.model or ""),
            ("device", self.device),
            ("config", self.config or ""),
        ):
            if value:
                d[key] = value
        if self.smooth is not None:
            d["smooth"] = float(self.smooth)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "ClipSpec":
        if not isinstance(data, dict):
            raise InvalidInputError(f"clip spec: expected a JSON object, got {type(data).__name__}")
        allowed = {
            "input",
            "frames",
            "inputColorspace",
            "input_colorspace",
            "output",
            "outputColorspace",
            "output_colorspace",
            "regions",
            "stride",
            "method",
            "model",
            "device",
            "config",
            "smooth",
        }
        _check_keys(data, allowed, "clip spec")
        try:
            smooth = None if data.get("smooth") is None else float(data["smooth"])
        except (TypeError, ValueError):
            raise InvalidInputError(f"clip spec: smooth must be a number, got {data.get('smooth')!r}") from None
        try:
            stride = int(data.get("stride", 0) or 0)
        except (TypeError, ValueError):
            raise InvalidInputError(f"clip spec: stride must be an integer, got {data.get('stride')!r}") from None
        if stride < 0:  # 0 (unset) means every frame; a negative stride is a mistake, not a default
            raise InvalidInputError(f"clip spec: stride must be >= 1 (or 0 for every frame), got {stride}")
        return cls(
            input=str(data.get("input", "") or ""),
            frames=(str(data["frames"]) if data.get("frames") else None),
            input_colorspace=str(_get(data, "inputColorspace", "input_colorspace", "") or ""),
            output=str(data.get("output", "") or ""),
            output_colorspace=str(_get(data, "outputColorspace", "output_colorspace", "") or ""),
            regions=[RegionSpec.from_dict(r, f"regions[{i}]") for i, r in enumerate(data.get("regions", []) or [])],
            stride=max(stride, 1),
            method=str(data.get("method") or DEFAULT_METHOD),
            model=(str(data["model"]) if data.get("model") else None),
            device=str(data.get("device") or "auto"),
            config=(str(data["config"]) if data.get("config") else None),
            smooth=smooth,
        )

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "ClipSpec":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidInputError(f"clip spec is not valid JSON: {err}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ClipSpec":
        """Read a spec JSON file; relative paths inside it are taken relative to the file's folder."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as err:
            raise InvalidInputError(f"cannot read clip spec {path}: {err.strerror or err}") from None
        spec = cls.from_json(text)
        return spec.resolved_against(path.parent)

    def save(self, path: str | os.PathLike) -> None:
        """Write the spec as JSON atomically (:func:`lookgrid.fsutil.atomic_write`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            Path(tmp).write_text(self.to_json())

    def resolved_against(self, base: Path) -> "ClipSpec":
        """A copy whose relative input/output/mask/style paths are joined onto ``base`` (content
        hashes, ``ocio://`` URIs and absolute paths are kept; ``model`` only when that file exists
        there, since it may also be a model name)."""

        def fix(p: str | None) -> str | None:
            if not p or p.startswith(("sha256:", "ocio://")) or os.path.isabs(p):
                return p
            return str(base / p)

        model = self.model
        if model and not os.path.isabs(model) and (base / model).exists():
            model = str(base / model)
        regions = [
            RegionSpec(
                r.name,
                fix(r.mask),
                [StyleTrack(fix(s.style) or s.style, s.weight) for s in r.styles],
                r.strength,
                r.mask_channel,
            )
            for r in self.regions
        ]
        return ClipSpec(
            fix(self.input) or "",
            self.frames,
            self.input_colorspace,
            fix(self.output) or "",
            self.output_colorspace,
            regions,
            self.stride,
            self.method,
            model,
            self.device,
            self.config,
            self.smooth,
        )


__all__ = ["BACKGROUND", "DEFAULT_METHOD", "DEFAULT_SMOOTH", "METHOD_NAMES", "ClipSpec", "RegionSpec", "StyleTrack"]

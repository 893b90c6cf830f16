"""The published host APIs the stand-ins are held to, read from third-party stub packages.

``types-nuke`` describes Nuke's ``nuke`` module, ``fusionscript-stubs`` DaVinci Resolve's scripting
objects. Both ship only ``.pyi`` files; they are parsed with :mod:`ast` (never imported) into an
index of module-level names and classes (methods with every overload's parameters, inherited
through the bases named in the stubs), each with the file and line that describes it.

:func:`check_fake` walks every public attribute of a stand-in module and of each stand-in class and
reports what the stubs lack or describe with other parameters. A stand-in class names the stub
class it plays with ``_stub_class`` (default: its own name).
"""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
from dataclasses import dataclass, field
from pathlib import Path

STUB_DISTRIBUTIONS = {"nuke": ("types-nuke", "nuke-stubs"), "resolve": ("fusionscript-stubs", "fusionscript-stubs")}


@dataclass
class StubParam:
    name: str
    kind: str            # "pos" (positional-or-keyword), "posonly", "kwonly", "varargs", "varkw"
    has_default: bool


@dataclass
class StubDef:
    """One name in a stub: a function/method (with one signature per overload) or an attribute."""

    name: str
    where: str                                   # "nuke-stubs/_nuke.pyi:1448"
    signatures: list[list[StubParam]] = field(default_factory=list)   # empty for attributes
    is_class: bool = False
    static: bool = False                         # classmethod/staticmethod: no bound 'self' to drop

    @property
    def callable(self) -> bool:
        return bool(self.signatures)


@dataclass
class StubClass:
    name: str
    where: str
    bases: list[str]
    members: dict[str, list[StubDef]] = field(default_factory=dict)


class StubIndex:
    """Module-level definitions and classes of one stub package."""

    def __init__(self, package_dir: Path) -> None:
        self.package_dir = package_dir
        self.functions: dict[str, list[StubDef]] = {}
        self.classes: dict[str, StubClass] = {}
        # Only what the package's __init__.pyi brings into the module's namespace counts: its own
        # definitions, ``from .x import *`` and ``from .x import a as a`` (nuke-stubs has a second
        # ``Layer`` in _curveknob.pyi that ``nuke.Layer`` is not).
        init = package_dir / "__init__.pyi"
        self._read(init)
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                names = None if any(a.name == "*" for a in node.names) else {a.name for a in node.names}
                self._read(package_dir / f"{node.module}.pyi", names)
                if names is not None:
                    self._read_returned(package_dir / f"{node.module}.pyi")

    def _read_returned(self, path: Path) -> None:
        """Classes a described method returns are described too, though ``__init__.pyi`` does not export
        them (fusionscript's ``Graph``, reached only through ``TimelineItem.GetNodeGraph``)."""
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        defined = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        while True:
            returned = set()
            for cname in list(self.classes):
                node = defined.get(cname)
                for item in (node.body if node is not None else []):
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.returns is not None:
                        returned.update(n.id for n in ast.walk(item.returns) if isinstance(n, ast.Name))
            new = {n for n in returned if n in defined and n not in self.classes}
            if not new:
                return
            self._read(path, new)

    def _where(self, path: Path, node: ast.AST) -> str:
        return f"{self.package_dir.name}/{path.name}:{node.lineno}"

    def _read(self, path: Path, names: set[str] | None = None) -> None:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            name = getattr(node, "name", None) or getattr(getattr(node, "target", None), "id", None)
            if names is not None and name not in names:
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, []).append(_function_def(node, self._where(path, node)))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                self.functions.setdefault(node.target.id, []).append(StubDef(node.target.id, self._where(path, node)))
            elif isinstance(node, ast.ClassDef):
                cls = StubClass(node.name, self._where(path, node), [_base_name(b) for b in node.bases])
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        cls.members.setdefault(item.name, []).append(_function_def(item, self._where(path, item)))
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        cls.members.setdefault(item.target.id, []).append(
                            StubDef(item.target.id, self._where(path, item)))
                    elif isinstance(item, ast.Assign):
                        for target in item.targets:
                            if isinstance(target, ast.Name):
                                cls.members.setdefault(target.id, []).append(StubDef(target.id, self._where(path, item)))
                # the first definition wins (``_nuke.pyi`` before ``utils.pyi`` re-declarations)
                self.classes.setdefault(node.name, cls)
                self.functions.setdefault(node.name, []).append(
                    StubDef(node.name, cls.where, is_class=True))

    def member(self, class_name: str, name: str) -> list[StubDef]:
        """Definitions of ``class_name.name``, looked up through the stub's own bases."""
        seen = set()
        todo = [class_name]
        while todo:
            cname = todo.pop(0)
            if cname in seen or cname not in self.classes:
                continue
            seen.add(cname)
            cls = self.classes[cname]
            if name in cls.members:
                return cls.members[name]
            todo.extend(cls.bases)
        return []


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _function_def(node: ast.FunctionDef, where: str) -> StubDef:
    decorators = {_base_name(d) for d in node.decorator_list}
    a = node.args
    params: list[StubParam] = []
    positional = a.posonlyargs + a.args
    n_defaults = len(a.defaults)
    for i, arg in enumerate(positional):
        has_default = i >= len(positional) - n_defaults
        params.append(StubParam(arg.arg, "posonly" if i < len(a.posonlyargs) else "pos", has_default))
    if a.vararg:
        params.append(StubParam(a.vararg.arg, "varargs", True))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        params.append(StubParam(arg.arg, "kwonly", default is not None))
    if a.kwarg:
        params.append(StubParam(a.kwarg.arg, "varkw", True))
    return StubDef(node.name, where, [params], static="staticmethod" in decorators)


def stub_index(host: str) -> StubIndex:
    """The index of the installed stub package for ``host`` ("nuke" or "resolve")."""
    dist, folder = STUB_DISTRIBUTIONS[host]
    files = importlib.metadata.files(dist) or []
    for f in files:
        if f.name == "__init__.pyi" and f.parts[0] == folder:
            return StubIndex(Path(f.locate()).parent)
    raise LookupError(f"the stub package {dist} is not installed (pip install -e '.[dev]')")


# -- comparing a stand-in with the stubs ------------------------------------------------------------

def _fake_params(func, bound: bool) -> list[StubParam]:
    sig = inspect.signature(func)
    kinds = {inspect.Parameter.POSITIONAL_ONLY: "posonly", inspect.Parameter.POSITIONAL_OR_KEYWORD: "pos",
             inspect.Parameter.KEYWORD_ONLY: "kwonly", inspect.Parameter.VAR_POSITIONAL: "varargs",
             inspect.Parameter.VAR_KEYWORD: "varkw"}
    out = [StubParam(p.name, kinds[p.kind], p.default is not inspect.Parameter.empty
                     or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD))
           for p in sig.parameters.values()]
    return out


def _normalise(params: list[StubParam], drop_self: bool) -> list[tuple[str, str, bool]]:
    if drop_self and params and params[0].kind in ("pos", "posonly") and params[0].name in ("self", "cls"):
        params = params[1:]
    # positional-only vs positional-or-keyword is not a difference a caller of the stub could see
    return [(p.name, "pos" if p.kind == "posonly" else p.kind, p.has_default) for p in params]


def _accepts_anything(params: list[tuple[str, str, bool]]) -> bool:
    kinds = {k for _, k, _ in params}
    return "varargs" in kinds and "varkw" in kinds


def signature_problem(stub_defs: list[StubDef], fake, *, method: bool) -> str | None:
    """None when ``fake`` (a function or method) has the parameters of one of the stub's overloads.

    A stub written ``(*args, **kwargs)`` describes no parameters, so any stand-in signature fits it;
    otherwise names, order, kinds and which parameters are optional must be the same.
    """
    callables = [d for d in stub_defs if d.callable]
    if not callables:
        return f"the stub describes it as an attribute ({stub_defs[0].where}), the stand-in defines a function"
    fake_sig = _normalise(_fake_params(fake, method), drop_self=method)
    tried = []
    for d in callables:
        stub_sig = _normalise(d.signatures[0], drop_self=method and not d.static)
        if _accepts_anything(stub_sig) or stub_sig == fake_sig:
            return None
        tried.append(f"{d.where} ({', '.join(_show(s) for s in stub_sig)})")
    return f"stand-in ({', '.join(_show(s) for s in fake_sig)}) matches no stub signature: " + "; ".join(tried)


def _show(p: tuple[str, str, bool]) -> str:
    name, kind, default = p
    prefix = {"varargs": "*", "varkw": "**"}.get(kind, "")
    return f"{prefix}{name}{'=…' if default and not prefix else ''}"


def public_members(obj) -> dict[str, object]:
    """Public names a stand-in module or class defines itself (not inherited from object or imports)."""
    if inspect.ismodule(obj):
        return {n: v for n, v in vars(obj).items()
                if not n.startswith("_") and not inspect.ismodule(v)
                and getattr(v, "__module__", obj.__name__) == obj.__name__}
    out = {}
    for klass in reversed(obj.__mro__[:-1]):   # object excluded
        for n, v in vars(klass).items():
            if not n.startswith("_") or n in ("__getitem__", "__enter__", "__exit__", "__call__", "__getattr__"):
                out[n] = v
    return out


def stub_class_of(fake_class) -> str:
    return getattr(fake_class, "_stub_class", fake_class.__name__)


@dataclass
class Coverage:
    """One host name a stand-in provides and the stub line that describes it (or the problem)."""

    fake: str          # "nuke.Knob.valueAt"
    stub: str          # "nuke-stubs/_nuke.pyi:331" or ""
    problem: str = ""


def check_fake(index: StubIndex, module, module_label: str, undescribed: dict[str, str] | None = None
               ) -> list[Coverage]:
    """Every public function, class and method of the stand-in ``module`` against ``index``.

    ``undescribed``: names (as in Coverage.fake) the stub package does not describe at all, each with
    the reason the plugin still needs it; they are reported with that reason instead of a stub line.
    """
    undescribed = undescribed or {}
    rows: list[Coverage] = []

    def add(label: str, stub_defs: list[StubDef], fake, method: bool) -> None:
        if label.split(".", 1)[1] in undescribed:
            rows.append(Coverage(label, "", "" if not stub_defs else
                                 f"listed as undescribed but the stub has it at {stub_defs[0].where}"))
            return
        if not stub_defs:
            rows.append(Coverage(label, "", "not in the stub package"))
            return
        problem = None
        if callable(fake) and not inspect.isclass(fake):
            problem = signature_problem(stub_defs, fake, method=method)
        rows.append(Coverage(label, stub_defs[0].where, problem or ""))

    for name, value in sorted(public_members(module).items()):
        label = f"{module_label}.{name}"
        if inspect.isclass(value):
            stub_name = stub_class_of(value)
            cls_label = f"{module_label}.{stub_name}"
            if name == stub_name:
                add(label, index.functions.get(name, []), value, method=False)
            for mname, mvalue in sorted(public_members(value).items()):
                mlabel = f"{cls_label}.{mname}"
                if mlabel in {r.fake for r in rows}:
                    continue
                stub_defs = index.member(stub_name, mname)
                if isinstance(mvalue, property) or not callable(mvalue) and not isinstance(mvalue, (staticmethod, classmethod)):
                    add(mlabel, stub_defs, None, method=True)
                else:
                    func = mvalue.__func__ if isinstance(mvalue, (staticmethod, classmethod)) else mvalue
                    add(mlabel, stub_defs, func, method=not isinstance(mvalue, staticmethod))
        elif callable(value):
            add(label, index.functions.get(name, []), value, method=False)
        else:
            add(label, index.functions.get(name, []), None, method=False)
    return rows

"""The import graph follows the layers (errors, fsutil < timeline < imaging, model < engine < service |
farm | eval | train < commands, cli), read from the source with ``ast`` — no module is imported.

Rules checked, for every module of ``backend/lookgrid`` (generated protobuf stubs excepted):

1. A ``lookgrid.*`` import names a lower layer or the module's own package; layers of the same
   rank (imaging and model; service, farm, eval and train) do not import each other (except the
   edges in :data:`PEER_EDGES`, each with its reason), and nothing imports upwards.
2. ``lookgrid.*`` is imported at module level only: a function-local import hides the graph.
   (``if TYPE_CHECKING:`` blocks are allowed: they never run.)
3. A function-local import is one of :data:`LAZY_ALLOWED` (optional or slow-to-import packages a
   command does not always need) and carries a comment on its line or the line above saying why.
4. The wire contract (``lookgrid_client``) is imported only by the service and the commands; host
   plugins (``plugins/``) never import ``lookgrid`` or torch.
5. No import cycle among the modules of ``backend/lookgrid`` or of the client
   (``plugins/client/lookgrid_client``), counting ``if TYPE_CHECKING:`` and function-local imports:
   an annotation-only import still stands for a module that knows the other. (A submodule's
   implicit import of its own package's ``__init__`` is not an edge.)
6. No file in ``engine/`` or ``service/`` is longer than :data:`MAX_LINES`; ``engine/spec.py``,
   the job description, imports no torch.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "backend" / "lookgrid"
PLUGINS = REPO / "plugins"

#: rank of each top-level part of the package; higher ranks may import lower ones
RANKS = {
    "errors": 0, "fsutil": 0, "_numba": 0, "__init__": 0,
    "timeline": 1,
    "imaging": 2, "model": 2,
    "engine": 3,
    "service": 4, "farm": 4, "eval": 4, "train": 4,
    "commands": 5, "cli": 5,
}

#: packages that may be imported inside a function (each such import needs a comment saying why):
#: matplotlib (~0.7 s; plots only), numba and the model's numba kernels (~0.5 s; the CPU fast path
#: only: the model layer stays importable without compiling or loading them)
LAZY_ALLOWED = ("matplotlib", "numba", "lookgrid.model._cpu_kernels", "ray", "lookgrid.farm.ray_runner")

#: imports between parts of the same rank that are allowed, with the reason
PEER_EDGES = {
    ("train", "eval"): "training reports held-out style distances with the evaluation's own metrics",
}

#: parts that may import the wire contract (lookgrid_client)
CLIENT_USERS = {"service", "commands", "cli"}

#: the folders holding a top-level package whose modules must not import each other in a circle,
#: with that package's folder
CYCLE_ROOTS = [(PACKAGE.parent, PACKAGE), (PLUGINS / "client", PLUGINS / "client" / "lookgrid_client")]

#: the longest a module of these folders may be, in lines
MAX_LINES = 400
SHORT_FOLDERS = ("engine", "service")


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
            continue
        yield path


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _module_name(path: Path, root: Path | None = None) -> str:
    """``lookgrid.engine.clip`` for ``backend/lookgrid/engine/clip.py`` (``root``: the folder that
    holds the top-level package; default ``backend``)."""
    rel = path.relative_to(PACKAGE.parent if root is None else root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path | None = None):
    """Yield ``(name, node, local, type_checking)`` for every import; ``local`` = inside a function
    body, ``type_checking`` = inside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(), str(path))
    own = _module_name(path, root)
    pkg = own if path.name == "__init__.py" else own.rpartition(".")[0]

    def visit(node, local, type_checking):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from visit(child, local, True)  # checked too: an annotation is a dependency
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child, local, type_checking
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = pkg.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    name = ".".join(base + ([child.module] if child.module else []))
                else:
                    name = child.module or ""
                if name == "lookgrid" or (child.level and not child.module):
                    for alias in child.names:  # "from lookgrid import x" / "from . import x"
                        yield f"{name}.{alias.name}", child, local, type_checking
                else:
                    yield name, child, local, type_checking
            yield from visit(child, local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                 ast.Lambda)), type_checking)

    for name, node, local, tc in visit(tree, False, False):
        yield name, node, local, tc


def _target_part(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "lookgrid":
        return None
    if len(parts) == 1 or not ((PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file()):
        return "__init__"  # the package itself (``from lookgrid import __version__``)
    return parts[1]


def _names(name: str, node) -> list[str]:
    """``name`` and, for ``from M import a``, ``M.a`` (which may be a submodule)."""
    if isinstance(node, ast.ImportFrom):
        return [name] + [f"{name}.{a.name}" for a in node.names]
    return [name]


def _has_reason(lines: list[str], lineno: int) -> bool:
    here = lines[lineno - 1]
    above = lines[lineno - 2].strip() if lineno >= 2 else ""
    return "#" in here or above.startswith("#")


def test_rank_table_covers_the_package():
    parts = {_part(p) for p in _modules()}
    assert parts <= set(RANKS), f"add these to RANKS: {sorted(parts - set(RANKS))}"


def test_imports_follow_the_layers():
    bad = []
    for path in _modules():
        src = _part(path)
        for name, node, _local, _tc in _imports(path):
            dst = _target_part(name)
            if dst is None or dst == src:
                continue
            if dst not in RANKS:
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} imports unknown part {name}")
            elif RANKS[dst] >= RANKS[src] and (src, dst) not in PEER_EDGES:
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} ({src}) imports {name} ({dst}): "
                           f"{'same rank' if RANKS[dst] == RANKS[src] else 'upwards'}")
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_function_local_imports_only_for_slow_optional_packages():
    bad = []
    for path in _modules():
        lines = path.read_text().splitlines()
        for name, node, local, tc in _imports(path):
            if not local or tc:
                continue
            where = f"{path.relative_to(REPO)}:{node.lineno} {name}"
            if not any(n == a or n.startswith(a + ".") for n in _names(name, node) for a in LAZY_ALLOWED):
                bad.append(f"{where}: import it at module level")
            elif not _has_reason(lines, node.lineno):
                bad.append(f"{where}: say why it is imported here (a comment)")
    assert not bad, "function-local imports:\n" + "\n".join(bad)


def test_wire_contract_users():
    bad = [f"{p.relative_to(REPO)}:{n.lineno} imports {name}"
           for p in _modules() for name, n, _l, _t in _imports(p)
           if name.split(".")[0] == "lookgrid_client" and _part(p) not in CLIENT_USERS]
    assert not bad, "only the service and the commands speak the wire contract:\n" + "\n".join(bad)


@pytest.mark.skipif(not PLUGINS.is_dir(), reason="no plugins folder in this checkout")
def test_plugins_import_only_the_client():
    bad = []
    for path in sorted(PLUGINS.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for name in names:
                if name.split(".")[0] in ("lookgrid", "torch"):
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno} imports {name}")
    assert not bad, "plugins must use lookgrid_client only:\n" + "\n".join(bad)


def test_checker_sees_what_it_should(tmp_path):
    """The rules above can fail: a tiny package with one violation of each kind is caught."""
    pkg = tmp_path / "backend" / "lookgrid"
    (pkg / "model").mkdir(parents=True)
    (pkg / "engine").mkdir()
    (pkg / "model" / "x.py").write_text("from lookgrid.engine import y\n")
    (pkg / "engine" / "y.py").write_text("def f():\n    from lookgrid.model import x\n    import matplotlib\n")
    global PACKAGE, REPO
    old = PACKAGE, REPO
    PACKAGE, REPO = pkg, tmp_path
    try:
        with pytest.raises(AssertionError, match="upwards"):
            test_imports_follow_the_layers()
        with pytest.raises(AssertionError) as err:
            test_function_local_imports_only_for_slow_optional_packages()
        assert "import it at module level" in str(err.value) and "say why" in str(err.value)
    finally:
        PACKAGE, REPO = old


def test_spec_imports_no_torch():
    """The job description is plain data: importing it (through the package too) loads no torch."""
    code = ("import sys; import lookgrid.engine.spec; from lookgrid.engine import ClipSpec, METHOD_NAMES; "
            "print(sorted(m for m in ('torch', 'numba', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"lookgrid.engine.spec pulls in {out.stdout.strip()}"


def _import_graph(root: Path, package: Path) -> dict[str, set[str]]:
    """Module → the modules it imports, within ``package`` (every kind of import: module level,
    function-local, ``TYPE_CHECKING``). ``from M import a`` is an edge to ``M.a`` when that is a
    module, else to ``M``; ``import a.b`` to the longest module prefix."""
    paths = {_module_name(p, root): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in paths}
    for mod, path in paths.items():
        for name, node, _local, _tc in _imports(path, root):
            targets = ([f"{name}.{a.name}" if f"{name}.{a.name}" in paths else name for a in node.names]
                       if isinstance(node, ast.ImportFrom) else [name])
            for t in targets:
                while t and t not in paths:
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    graph[mod].add(t)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one module (Tarjan), each
    sorted: every import cycle lies inside one of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    bad = []
    for root, package in CYCLE_ROOTS:
        if not package.is_dir():
            continue
        for component in _cycles(_import_graph(root, package)):
            bad.append(f"{len(component)} modules import each other in a circle: {', '.join(component)}")
    assert not bad, "import cycles (TYPE_CHECKING and function-local imports count):\n" + "\n".join(bad)


def test_cycle_check_can_fail(tmp_path):
    """A circle closed only by a ``TYPE_CHECKING`` import and one closed by a function-local import
    are both caught; a submodule importing through its package's ``__init__`` is not a circle."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from pkg.a import A\n")
    (pkg / "a.py").write_text("from pkg import b\nclass A: ...\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n")
    (pkg / "c.py").write_text("def f():\n    from pkg.d import g\n")
    (pkg / "d.py").write_text("import pkg.c\ndef g(): ...\n")
    (pkg / "e.py").write_text("from pkg.a import A\n")
    global CYCLE_ROOTS
    old = CYCLE_ROOTS
    CYCLE_ROOTS = [(tmp_path, pkg)]
    try:
        with pytest.raises(AssertionError) as err:
            test_no_import_cycles()
    finally:
        CYCLE_ROOTS = old
    assert "pkg.a, pkg.b" in str(err.value) and "pkg.c, pkg.d" in str(err.value)
    assert "pkg.e" not in str(err.value) and "pkg, " not in str(err.value)
    assert _cycles({"x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}) == [["x", "y", "z"]]


def test_engine_and_service_files_are_short():
    bad = [f"{p.relative_to(REPO)}: {n} lines"
           for folder in SHORT_FOLDERS for p in sorted((PACKAGE / folder).rglob("*.py"))
           if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not bad, f"files over {MAX_LINES} lines (split them by concept):\n" + "\n".join(bad)

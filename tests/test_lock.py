"""The lock (requirements/lock.txt) is what the tests run on, and what every installer pins."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import lock  # noqa: E402

PINS = lock.read_lock()


def _requirements(pyproject: Path, extra: str | None = None) -> list[Requirement]:
    data = tomllib.loads(pyproject.read_text())["project"]
    reqs = data["dependencies"] if extra is None else data["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs]


def test_this_environment_is_exactly_the_lock():
    problems = lock.differences(lock.installed(sys.executable), PINS)
    assert not problems, "the test environment is not the lock (README's install; tools/lock.py):\n" + "\n".join(problems)


def test_differences_names_an_unpinned_package_and_a_moved_one():
    env = dict(PINS, somepkg="1.0", numpy="0.1")
    env.pop("scipy")
    got = lock.differences(env, PINS)
    assert "somepkg 1.0 is installed but the lock does not pin it" in got
    assert f"numpy 0.1 is installed; the lock pins {PINS['numpy']}" in got
    assert f"scipy {PINS['scipy']} is locked but not installed" in got
    assert lock.differences({"torch": PINS["torch"] + "+cpu", "pip": "1"}, {"torch": PINS["torch"]}) == []


@pytest.mark.parametrize("pyproject,extra", [("pyproject.toml", None), ("pyproject.toml", "dev"),
                                             ("plugins/client/pyproject.toml", None)])
def test_every_locked_version_fits_the_pyproject_ranges(pyproject, extra):
    for req in _requirements(REPO / pyproject, extra):
        name = lock.canonical(req.name)
        if name in lock.OWN:
            continue
        assert name in PINS, f"{pyproject}: {req} is not in the lock"
        assert req.specifier.contains(PINS[name], prereleases=True), f"lock pins {name}=={PINS[name]}, outside {req}"


def test_the_stub_generator_is_pinned_exactly_at_the_version_that_wrote_the_stubs():
    (tools,) = [r for r in _requirements(REPO / "pyproject.toml", "dev") if r.name == "grpcio-tools"]
    assert str(tools.specifier).startswith("=="), f"the stub generator must be pinned exactly: {tools}"
    version = str(tools.specifier)[2:]
    assert PINS["grpcio-tools"] == version
    stubs = (REPO / "plugins/client/lookgrid_client/proto/lookgrid_pb2_grpc.py").read_text()
    assert f"GRPC_GENERATED_VERSION = '{version}'" in stubs


def test_the_backend_takes_the_client_from_its_own_distribution():
    names = [lock.canonical(r.name) for r in _requirements(REPO / "pyproject.toml")]
    assert "lookgrid-client" in names
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "lookgrid_client" not in str(setuptools), "the backend must not ship a second copy of lookgrid_client"
    import lookgrid_client
    from importlib.metadata import distribution
    assert Path(lookgrid_client.__file__).resolve().is_relative_to(REPO / "plugins" / "client")
    files = distribution("lookgrid").files or []
    assert not [f for f in files if str(f).startswith("lookgrid_client")], "lookgrid ships lookgrid_client files"


HOST_FILES = ["tests/client/requirements-bare.txt", "tests/client/requirements-py310.txt",
              "plugins/blender/requirements-wheels.txt"]


@pytest.mark.parametrize("path", HOST_FILES)
def test_host_environments_pin_exactly_and_agree_with_the_lock(path):
    """Host Pythons (Blender's, a bare 3.10) get the same grpcio/protobuf as the backend; numpy may
    differ (hosts bring their own), but is pinned too."""
    lines = [ln.split("#", 1)[0].strip() for ln in (REPO / path).read_text().splitlines()]
    reqs = [Requirement(ln) for ln in lines if ln]
    assert reqs
    for req in reqs:
        assert re.fullmatch(r"==[^*]+", str(req.specifier)), f"{path}: {req} is not an exact pin"
        name = lock.canonical(req.name)
        if name in ("grpcio", "protobuf", "typing-extensions"):
            assert str(req.specifier)[2:] == PINS[name], f"{path}: {req}, the lock pins {PINS[name]}"

#!/usr/bin/env python3
"""The lock: exactly which package versions README's install puts on a machine.

README's install is ``pip install -r requirements/lock.txt -e plugins/client -e '.[dev]'``: the
project's two distributions from this checkout, every other package at the version the lock pins.
``pyproject.toml`` (backend) and ``plugins/client/pyproject.toml`` keep compatible ranges for people
who embed the packages; the lock is what was tested. Commands (stdlib only; run from any Python 3.11)::

    python tools/lock.py write            # re-resolve after editing a pyproject: keeps every locked
                                          # version that still fits, adds what is new, drops what is gone
    python tools/lock.py write --fresh    # the newest versions inside the pyproject ranges (untested!)
    python tools/lock.py check            # exit 1 unless this environment is exactly the lock
    python tools/lock.py upgrade          # newest versions into a scratch venv, run the suite there and
                                          # say which upgrade breaks what; --write raises the lock if green

Resolution is pip's own (``pip install --dry-run --ignore-installed --report``) on this machine's
Python and platform (the lock's header names them). ``pip`` itself is not locked (the installer, not
part of what runs); ``torch`` is written without its local label (``2.13.0``, the CPU build on local
disk wins over the index's; see FIELD-NOTES).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "lock.txt"
#: the lock the tests hold the environment to: ``$LOOKGRID_LOCK`` (``upgrade`` sets it to the
#: candidate lock it tests), else :data:`LOCK`
ENV_LOCK = "LOOKGRID_LOCK"


def tested_lock() -> Path:
    return Path(os.environ.get(ENV_LOCK) or LOCK)
#: what README's install names besides the lock: the client, then the backend with its dev extra
PROJECT_ARGS = ["-e", str(REPO / "plugins" / "client"), "-e", f"{REPO}[dev]"]
#: the project's own distributions (installed from the checkout, never pinned)
OWN = {"lookgrid", "lookgrid-client"}
#: installer tooling that is not locked
UNLOCKED = {"pip"}
_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def canonical(name: str) -> str:
    """PEP 503 normalised name: ``Fileseq`` -> ``fileseq``, ``typing_extensions`` -> ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def public(version: str) -> str:
    """A version without its local label: ``2.13.0+cpu`` -> ``2.13.0``."""
    return version.split("+", 1)[0]


def read_lock(path: Path | None = None) -> dict[str, str]:
    """{canonical name: version} of a lock file (``name==version`` lines; comments ignored); by
    default the lock the tests hold the environment to (:func:`tested_lock`)."""
    path = path or tested_lock()
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _LINE.match(line)
        if not m:
            raise SystemExit(f"{path}: not a 'name==version' line: {raw!r}")
        pins[canonical(m.group(1))] = m.group(2)
    return pins


def lock_text(pins: dict[str, str], how: str) -> str:
    head = [
        "# The tested environment: README's install is",
        "#   pip install -r requirements/lock.txt -e plugins/client -e '.[dev]'",
        f"# Resolved by `python tools/lock.py {how}` for CPython {platform.python_version()} "
        f"on {sys.platform} {platform.machine()}.",
        "# Do not edit by hand: edit a pyproject.toml range, then `tools/lock.py write` (or `upgrade`).",
    ]
    return "\n".join(head + [f"{n}=={v}" for n, v in sorted(pins.items())]) + "\n"


def resolve(python: str, constraints: Path | None = None) -> dict[str, str]:
    """{name: version} pip resolves for README's install with ``python`` (nothing is installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q",
               "--disable-pip-version-check", "--report", str(report)]
        if constraints is not None:
            cmd += ["-c", str(constraints)]
        done = subprocess.run(cmd + PROJECT_ARGS, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit("pip could not resolve the project:\n" + (done.stderr or done.stdout)[-4000:])
        data = json.loads(report.read_text())
    pins = {}
    for item in data["install"]:
        name = canonical(item["metadata"]["name"])
        if name not in OWN and name not in UNLOCKED:
            pins[name] = public(item["metadata"]["version"])
    return pins


def installed(python: str = sys.executable) -> dict[str, str]:
    """{name: version} of every distribution in ``python``'s environment."""
    code = ("import json, importlib.metadata as m; print(json.dumps({d.metadata['Name']: d.version "
            "for d in m.distributions() if d.metadata['Name']}))")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    return {canonical(n): v for n, v in json.loads(out).items()}


def differences(env: dict[str, str], pins: dict[str, str]) -> list[str]:
    """How an environment differs from the lock, one line each (empty: it is the lock)."""
    out = []
    for name, version in sorted(env.items()):
        if name in OWN or name in UNLOCKED:
            continue
        if name not in pins:
            out.append(f"{name} {version} is installed but the lock does not pin it")
        elif public(version) != pins[name]:
            out.append(f"{name} {version} is installed; the lock pins {pins[name]}")
    out += [f"{name} {pins[name]} is locked but not installed" for name in sorted(set(pins) - set(env))]
    return out


def changes(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, str | None, str | None]]:
    """(name, old version or None, new version or None) for every package that moved."""
    return [(n, old.get(n), new.get(n)) for n in sorted(set(old) | set(new)) if old.get(n) != new.get(n)]


def cmd_write(args) -> int:
    if args.fresh or not LOCK.exists():
        pins = resolve(sys.executable)
    else:
        wanted = read_lock(LOCK)
        with tempfile.TemporaryDirectory() as tmp:
            constraints = Path(tmp) / "c.txt"
            constraints.write_text("".join(f"{n}=={v}\n" for n, v in wanted.items()))
            pins = resolve(sys.executable, constraints)
    old = read_lock(LOCK) if LOCK.exists() else {}
    for name, a, b in changes(old, pins):
        print(f"  {name}: {a or '-'} -> {b or '-'}")
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    tmp = LOCK.with_suffix(".tmp")
    tmp.write_text(lock_text(pins, "write --fresh" if args.fresh else "write"))
    os.replace(tmp, LOCK)
    print(f"wrote {LOCK.relative_to(REPO)} ({len(pins)} packages)")
    return 0


def cmd_check(args) -> int:
    problems = differences(installed(args.python), read_lock())
    for line in problems:
        print(line)
    if not problems:
        print(f"{args.python}: the environment is exactly {LOCK.relative_to(REPO)}")
    return 1 if problems else 0


def _venv(path: Path, python: str) -> str:
    subprocess.run([python, "-m", "venv", str(path)], check=True)
    return str(path / "bin" / "python")


def _pip(py: str, *args: str) -> None:
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *args], check=True)


def _pytest(py: str, tests: list[str], log: Path, lock: Path) -> list[str]:
    """Run pytest in the checkout with ``py``, the environment held to ``lock``; returns the
    failing test ids."""
    cmd = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *tests]
    with open(log, "w") as fh:
        subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=dict(os.environ, **{ENV_LOCK: str(lock)}))
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", log.read_text(), flags=re.M)
    return sorted(set(failed))


def cmd_upgrade(args) -> int:
    old = read_lock(LOCK)
    new = resolve(sys.executable)
    moved = changes(old, new)
    if not moved:
        print("the lock already holds the newest versions inside the pyproject ranges")
        return 0
    print("newest inside the ranges:")
    for name, a, b in moved:
        print(f"  {name}: {a or '-'} -> {b or '-'}")
    work = Path(args.scratch or tempfile.mkdtemp(prefix="lookgrid-upgrade-"))
    work.mkdir(parents=True, exist_ok=True)
    fresh = work / "lock.txt"
    fresh.write_text(lock_text(new, "upgrade"))
    py = _venv(work / "venv", sys.executable)
    t0 = time.time()
    _pip(py, "-r", str(fresh), *PROJECT_ARGS)
    failed = _pytest(py, args.tests.split(), work / "pytest-all.log", fresh)
    print(f"suite with every upgrade: {'passed' if not failed else f'{len(failed)} failing'} "
          f"({time.time() - t0:.0f} s; log {work / 'pytest-all.log'})")
    if failed:
        # which upgrade breaks what: the lock plus one upgrade at a time, on the failing tests only
        # (test ids pytest can select again; otherwise the same tests as the full run)
        again = failed if all(t.split("::")[0] for t in failed) else args.tests.split()
        for name, a, b in moved:
            if b is None:
                continue
            one = dict(old)
            one[name] = b
            py1 = _venv(work / f"venv-{name}", sys.executable)
            try:
                _pip(py1, "-c", str(_write_constraints(work / f"c-{name}.txt", one, name)),
                     f"{name}=={b}", *PROJECT_ARGS)
            except subprocess.CalledProcessError:
                print(f"  {name} {b}: cannot be installed beside the rest of the lock (it needs other upgrades)")
                shutil.rmtree(work / f"venv-{name}", ignore_errors=True)
                continue
            one_lock = work / f"lock-{name}.txt"
            one_lock.write_text(lock_text({n: public(v) for n, v in installed(py1).items()
                                           if n not in OWN | UNLOCKED}, "upgrade"))  # what this venv holds
            broken = _pytest(py1, again, work / f"pytest-{name}.log", one_lock)
            print(f"  {name} {a} -> {b}: " + (f"breaks {', '.join(broken)}" if broken else "breaks nothing"))
            shutil.rmtree(work / f"venv-{name}", ignore_errors=True)
        print("the lock was NOT raised")
        return 1
    if args.write:
        shutil.copyfile(fresh, LOCK)
        print(f"raised {LOCK.relative_to(REPO)}")
    else:
        print(f"green: rerun with --write to raise the lock (or copy {fresh})")
    return 0


def _write_constraints(path: Path, pins: dict[str, str], free: str) -> Path:
    """The lock as pip constraints without ``free``'s pin (the upgrade under test, given as a requirement)."""
    path.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items()) if n != free))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="re-resolve the lock (keeping locked versions that still fit)")
    w.add_argument("--fresh", action="store_true", help="newest versions inside the ranges instead")
    c = sub.add_parser("check", help="exit 1 unless an environment is exactly the lock")
    c.add_argument("--python", default=sys.executable, help="that environment's python (this one)")
    u = sub.add_parser("upgrade", help="newest versions into a scratch venv; run the suite; attribute failures")
    u.add_argument("--write", action="store_true", help="raise the lock when the suite passes")
    u.add_argument("--scratch", help="folder for the scratch environments (a new temp folder)")
    u.add_argument("--tests", default="tests --ignore=tests/blender",
                   help="pytest arguments, one string (default: the suite without the real-Blender tests)")
    args = parser.parse_args(argv)
    return {"write": cmd_write, "check": cmd_check, "upgrade": cmd_upgrade}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())

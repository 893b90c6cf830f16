"""Which host calls the plugins really make: the stand-ins record every call that comes from plugin code.

:func:`instrument` wraps the public functions, constructors and methods of a stand-in module; a
call whose caller's code lives under ``plugins/`` is recorded as (host, stub class or "", name),
the stub class being the one the receiver plays (so ``knob.value()`` on a Double_Knob is looked up
on the stub's ``Double_Knob``). :func:`call_table` turns the record into the table of host calls and
the stub lines that describe them.
"""

from __future__ import annotations

import functools
import inspect
import sys
from pathlib import Path

from stub_api import public_members, stub_class_of, stub_index

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
CALLS: set[tuple[str, str, str]] = set()
_DUNDERS = ("__getitem__", "__enter__", "__exit__", "__call__", "__getattr__")


def _from_plugin() -> bool:
    frame = sys._getframe(2)
    return frame.f_code.co_filename.startswith(str(PLUGINS))


def _wrap(func, host: str, cls_name: str | None, name: str, method: bool):
    if getattr(func, "_recorded", False):
        return func

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if _from_plugin():
            if name == "__init__":      # a constructor: the class being built, not where __init__ lives
                CALLS.add((host, "", stub_class_of(type(args[0]))))
            else:
                CALLS.add((host, stub_class_of(type(args[0])) if method else (cls_name or ""), name))
        return func(*args, **kwargs)

    wrapper._recorded = True
    return wrapper


def instrument(module, host: str) -> None:
    """Record plugin calls into ``module``'s public API (idempotent)."""
    for name, value in list(public_members(module).items()):
        if inspect.isclass(value):
            for mname, mvalue in list(vars(value).items()):
                if isinstance(mvalue, property) and not mname.startswith("_"):
                    setattr(value, mname, property(_wrap(mvalue.fget, host, None, mname, method=True),
                                                   mvalue.fset and _wrap(mvalue.fset, host, None, mname, method=True)))
                    continue
                if (mname.startswith("_") and mname not in _DUNDERS + ("__init__",)) or not inspect.isfunction(mvalue):
                    continue
                if mname == "__init__":
                    wrapped = _wrap(mvalue, host, "", "__init__", method=True)
                else:
                    wrapped = _wrap(mvalue, host, None, mname, method=True)
                setattr(value, mname, wrapped)
        elif inspect.isfunction(value):
            setattr(module, name, _wrap(value, host, None, name, method=False))


def call_table(undescribed: dict[str, dict[str, str]]) -> list[tuple[str, str, str]]:
    """(host, call, covering stub line or the reason it has none), sorted, for every recorded call."""
    rows = []
    indexes = {host: stub_index(host) for host in {h for h, _, _ in CALLS}}
    for host, owner, name in sorted(CALLS):
        index = indexes[host]
        label = f"{owner}.{name}" if owner else name
        if label in undescribed.get(host, {}):
            rows.append((host, label, "NOT IN STUBS: " + undescribed[host][label]))
            continue
        defs = index.member(owner, name) if owner else index.functions.get(name, [])
        if not defs and owner and name == "__call__":
            defs = index.functions.get(owner, [])
        rows.append((host, label, defs[0].where if defs else "MISSING"))
    return rows

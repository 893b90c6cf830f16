"""Thread budgets of a whole-sequence render (``lookgrid.engine.budget``): the rule, and each stage
running inside its own budget with the process-wide settings restored after."""

from __future__ import annotations

import threading

import numba
import pytest
import torch

from lookgrid.engine.budget import CORES_ENV, StageThreads, run_budgeted, stage_threads
from lookgrid.engine.pipeline import run_sequential
from lookgrid.errors import InvalidInputError
from lookgrid.imaging import io_threads


@pytest.mark.parametrize(
    "cores,expected",
    [
        (1, (1, 1, 1, False)),
        (2, (2, 2, 2, False)),  # the plain loop: overlap cannot win on 2 cores (engine.budget)
        (3, (1, 1, 1, True)),
        (4, (1, 1, 2, True)),
        (8, (2, 2, 4, True)),
        (16, (4, 4, 8, True)),
        (64, (16, 16, 32, True)),
    ],
)
def test_the_rule(cores, expected):
    b = stage_threads(cores)
    assert (b.read, b.compute, b.write, b.overlap) == expected
    assert b.io == cores  # OpenImageIO's pool: the encode may use every core the others leave
    if cores >= 3:  # from 3 cores on the stages together fit the machine
        assert b.read + b.compute + b.write <= cores


def test_cores_from_the_environment(monkeypatch):
    monkeypatch.setenv(CORES_ENV, "3")
    assert stage_threads().overlap
    monkeypatch.setenv(CORES_ENV, "1")
    assert not stage_threads().overlap
    monkeypatch.setenv(CORES_ENV, "many")
    with pytest.raises(InvalidInputError, match=CORES_ENV):
        stage_threads()
    with pytest.raises(InvalidInputError, match="at least 1 core"):
        stage_threads(0)


def _recording():
    seen: dict[str, set] = {"read": set(), "compute": set(), "write": set(), "torch": set(), "where": set()}

    def read(i):
        seen["read"].add(numba.get_num_threads())
        seen["io"] = io_threads()
        seen["where"].add(("read", threading.current_thread() is threading.main_thread()))
        return i * 2

    def compute(i, v):
        seen["compute"].add(numba.get_num_threads())
        seen["torch"].add(torch.get_num_threads())
        return v + 1

    def write(i, v, c):
        seen["write"].add(numba.get_num_threads())
        seen["where"].add(("write", threading.current_thread() is threading.main_thread()))
        return (i, v, c)

    return seen, read, compute, write


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs a numba pool of 2 threads")
def test_each_stage_runs_in_its_budget_and_settings_come_back():
    before = (numba.get_num_threads(), torch.get_num_threads(), io_threads())
    seen, read, compute, write = _recording()
    budget = StageThreads(cores=4, read=1, compute=1, write=2, overlap=True)
    out = run_budgeted(range(6), read, compute, write, budget=budget)
    assert out == run_sequential(range(6), lambda i: i * 2, lambda i, v: v + 1, lambda i, v, c: (i, v, c))
    assert seen["read"] == {1} and seen["compute"] == {1} and seen["write"] == {2}
    assert seen["torch"] == {before[1]}  # torch's count decides its results: never changed
    assert seen["where"] == {("read", False), ("write", False)}  # their own threads
    assert seen["io"] == (4, 4)  # OpenImageIO and OpenEXR: budget.io, here the cores
    assert (numba.get_num_threads(), torch.get_num_threads(), io_threads()) == before


def test_two_cores_run_the_plain_loop_with_both_cores_for_each_stage():
    seen, read, compute, write = _recording()
    run_budgeted(range(3), read, compute, write, budget=stage_threads(2))
    assert seen["where"] == {("read", True), ("write", True)}
    assert seen["io"] == (2, 2) and seen["compute"] == {min(2, numba.config.NUMBA_NUM_THREADS)}


def test_one_core_runs_the_plain_loop_on_the_callers_thread():
    seen, read, compute, write = _recording()
    before = torch.get_num_threads()
    run_budgeted(range(3), read, compute, write, budget=stage_threads(1))
    assert seen["where"] == {("read", True), ("write", True)}
    assert seen["io"] == (1, 1)
    assert seen["torch"] == {before} and seen["compute"] == {1}
    assert torch.get_num_threads() == before


def test_settings_come_back_after_an_error():
    before = (numba.get_num_threads(), torch.get_num_threads(), io_threads())

    def compute(i, v):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_budgeted(range(3), lambda i: i, compute, lambda i, v, c: c, budget=stage_threads(2))
    assert (numba.get_num_threads(), torch.get_num_threads(), io_threads()) == before


def test_plain_and_unbudgeted_modes_leave_every_thread_count_alone(monkeypatch):
    """The references bench farm measures beside the budgets: the plain loop on the caller's
    thread and the overlap on its own threads, both with the libraries' own counts."""
    from lookgrid.engine.budget import PLAIN_ENV, UNBUDGETED_ENV

    before = numba.get_num_threads()
    for env, where in (
        (PLAIN_ENV, {("read", True), ("write", True)}),
        (UNBUDGETED_ENV, {("read", False), ("write", False)}),
    ):
        monkeypatch.setenv(env, "1")
        seen, read, compute, write = _recording()
        run_budgeted(range(3), read, compute, write, budget=StageThreads(4, 1, 1, 1, True, io=1))
        assert seen["where"] == where
        assert seen["read"] == seen["compute"] == seen["write"] == {before}
        assert seen["io"] == io_threads()  # budget.io (1) was not applied
        monkeypatch.delenv(env)

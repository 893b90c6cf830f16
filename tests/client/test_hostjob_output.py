"""HostJob (work off the host's thread, host calls pumped on it) and StagedOutput (nothing left
behind by a failed or cancelled render, no temp files surviving a rerun)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from lookgrid_client import InvalidRequestError, RenderCancelledError
from lookgrid_client.hostjob import HostJob
from lookgrid_client.output import StagedOutput, frame_path, write_atomic


def _pump_until_done(job, limit=10.0):
    t0 = time.monotonic()
    while not job.done:
        job.pump()
        time.sleep(0.005)
        assert time.monotonic() - t0 < limit
    return job


def test_host_calls_run_on_the_host_thread_and_the_work_elsewhere():
    host = threading.get_ident()
    seen = []

    def work(job):
        seen.append(("work", threading.get_ident()))
        values = [job.on_main(lambda f: (threading.get_ident(), f * 2), f) for f in range(5)]
        job.set_progress(5, 5)
        return values

    job = _pump_until_done(HostJob(work).start())
    values = job.result()
    assert [v for _, v in values] == [0, 2, 4, 6, 8]
    assert {t for t, _ in values} == {host} and seen[0][1] != host
    assert job.progress == (5, 5) and job.error is None and job.error_line() == ""


def test_run_here_calls_straight_through_and_errors_are_one_line():
    job = HostJob(lambda job: job.on_main(lambda: threading.get_ident()))
    assert job.run_here() == threading.get_ident()

    def bad(job):
        job.on_main(lambda: (_ for _ in ()).throw(InvalidRequestError("mask frame 7\nis missing")))

    job = HostJob(bad)
    with pytest.raises(InvalidRequestError):
        job.run_here()
    assert job.error_line() == "mask frame 7 is missing"
    job = HostJob(lambda job: {}["key"])
    _pump_until_done(job.start())
    assert job.error_line() == "KeyError: 'key'"


def test_cancel_unblocks_a_worker_waiting_for_the_host():
    job = HostJob(lambda job: job.on_main(lambda: "never pumped")).start()
    time.sleep(0.1)
    job.cancel()
    assert job.wait(5)
    with pytest.raises(RenderCancelledError):
        job.result()


def test_staged_output_commits_whole_or_leaves_nothing(tmp_path):
    pattern = str(tmp_path / "out" / "graded.####.exr")
    assert frame_path(pattern, 7) == str(tmp_path / "out" / "graded.0007.exr")
    assert frame_path("a.%04d.exr", 12) == "a.0012.exr" and frame_path("a.@.exr", 3) == "a.3.exr"
    with pytest.raises(InvalidRequestError, match="no frame field"):
        StagedOutput(tmp_path / "plain.exr")

    with pytest.raises(RuntimeError):
        with StagedOutput(pattern) as out:
            out.write(1, b"one")
            raise RuntimeError("render failed")
    assert not (tmp_path / "out").exists(), "the folder it made is removed again"

    with StagedOutput(pattern) as out:
        out.write(2, b"two")
        out.write(1, b"one")
        assert not os.path.exists(frame_path(pattern, 1)), "nothing reaches the destination before commit"
    assert sorted(os.listdir(tmp_path / "out")) == ["graded.0001.exr", "graded.0002.exr"]
    assert (tmp_path / "out" / "graded.0002.exr").read_bytes() == b"two"


def test_staging_left_by_a_killed_process_is_removed_by_the_next_run(tmp_path):
    pattern = str(tmp_path / "graded.####.exr")
    code = ("import os, sys, lookgrid_client.output as out;"
            f"o = out.StagedOutput({pattern!r}); o.write(1, b'x');"
            f"open(os.path.join({str(tmp_path)!r}, out._PREFIX + str(os.getpid()) + '-9-spec.json'), 'w');"
            "os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert len([p for p in tmp_path.iterdir() if p.name.startswith(".lookgrid-staging-")]) == 2
    out = StagedOutput(pattern)
    left = [p.name for p in tmp_path.iterdir()]
    assert left == [out.staging.name]
    out.abort()
    assert list(tmp_path.iterdir()) == []
    write_atomic(tmp_path / "spec.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["spec.json"]


def test_the_status_line_has_the_phase_and_a_time_estimate(monkeypatch):
    """Issue 24 item 11: phases (upload, analysis, render) and an estimate from the pace so far."""
    from lookgrid_client import hostjob as hostjob_module
    from lookgrid_client.hostjob import HostJob

    now = [100.0]
    monkeypatch.setattr(hostjob_module.time, "monotonic", lambda: now[0])
    job = HostJob(lambda j: None)
    assert job.status_line() == "starting"
    job.set_phase("uploading references, analysing")
    assert job.status_line() == "uploading references, analysing"
    job.set_phase("rendering")
    job.set_progress(1, 11)            # the first frame (after the analysis) sets the pace's start
    assert job.status_line() == "rendering: frame 1 of 11"
    now[0] += 20.0
    job.set_progress(3, 11)            # 2 frames in 20 s: 8 left, about 80 s
    assert job.status_line() == "rendering: frame 3 of 11, about 1 min 20 s left"
    job.set_progress(11, 11)
    assert job.status_line() == "rendering: frame 11 of 11"

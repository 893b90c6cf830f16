"""lookgrid.fsutil: atomic writes and removal of stale temporaries."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from lookgrid.fsutil import FOREIGN_TEMP_AGE_S, atomic_write, is_temp_name, remove_stale_temps


def test_atomic_write_replaces_and_keeps_extension(tmp_path):
    target = tmp_path / "frame.0001.exr"
    target.write_text("old")
    with atomic_write(target) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)
        assert tmp.endswith(".exr") and tmp != str(target)
        assert is_temp_name(os.path.basename(tmp))
        with open(tmp, "w") as f:
            f.write("new")
        assert target.read_text() == "old"  # nothing visible before the block ends
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["frame.0001.exr"]


def test_atomic_write_follows_umask(tmp_path):
    target = tmp_path / "a.json"
    with atomic_write(target) as tmp:
        open(tmp, "w").close()
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("exc", [ValueError, KeyboardInterrupt])
def test_atomic_write_failure_leaves_old_file_and_no_temp(tmp_path, exc):
    target = tmp_path / "spec.json"
    target.write_text("old")
    with pytest.raises(exc):
        with atomic_write(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise exc("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["spec.json"]


def test_atomic_write_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with atomic_write("x.txt") as tmp:
        open(tmp, "w").write("1")
    assert (tmp_path / "x.txt").read_text() == "1"


def test_atomic_write_missing_folder_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_write(tmp_path / "nope" / "x.exr"):
            pass


def test_is_temp_name():
    assert not is_temp_name("shot.1001.exr")
    assert not is_temp_name(".hidden.exr")


def test_remove_stale_temps_of_killed_run(tmp_path):
    # A child process starts a write and is killed inside it: its temporary stays behind.
    code = (
        "import os, sys\n"
        "from lookgrid.fsutil import atomic_write\n"
        "with atomic_write(sys.argv[1]) as tmp:\n"
        "    open(tmp, 'w').write('partial')\n"
        "    os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "out.exr")], check=False)
    (tmp_path / "keep.exr").write_text("k")
    left = [n for n in os.listdir(tmp_path) if is_temp_name(n)]
    assert len(left) == 1 and left[0].endswith(".exr")
    # A live writer's temporary (this process, inside a write) is left alone.
    with atomic_write(tmp_path / "live.exr") as live:
        open(live, "w").close()
        removed = remove_stale_temps(tmp_path)
        assert [os.path.basename(p) for p in removed] == left
        assert os.path.exists(live)
    assert sorted(os.listdir(tmp_path)) == ["keep.exr", "live.exr"]


def test_remove_stale_temps_foreign_host_by_age(tmp_path):
    old = tmp_path / ".a.exr.lgtmp-otherhost-123-abc.exr"
    new = tmp_path / ".b.exr.lgtmp-otherhost-123-abd.exr"
    old.write_text("")
    new.write_text("")
    past = time.time() - FOREIGN_TEMP_AGE_S - 10
    os.utime(old, (past, past))
    assert remove_stale_temps(tmp_path) == [str(old)]
    assert new.exists()


def test_remove_stale_temps_missing_folder(tmp_path):
    assert remove_stale_temps(tmp_path / "missing") == []

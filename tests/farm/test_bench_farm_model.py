"""The N-worker models of ``lookgrid bench farm``: the analysis in parts divides the per-frame
analysis by N and leaves only the fold in order."""

from __future__ import annotations

import re

from lookgrid.commands.bench.farm import model_table, parts_model_table


def _rows(lines: list[str], stride: int) -> dict[int, list[float]]:
    start = lines.index(next(ln for ln in lines if ln.strip().startswith(f"stride {stride}:")))
    rows = {}
    for ln in lines[start + 2:]:
        if not re.match(r"^\s+\d+\s", ln):
            break
        n, *vals = ln.replace("%", "").split()
        rows[int(n)] = [float(v) for v in vals]
    return rows


def test_the_parts_model_is_the_formula_and_beats_the_sequential_one():
    a, s, t, frames, startup = 0.46, 0.002, 0.8, 1000, 5.0
    lines = parts_model_table(a, s, t, frames, startup, sequential_s=a)
    rows = _rows(lines, 1)
    assert sorted(rows) == [1, 2, 8, 32, 128]
    for n, (total, speed, in_order, old, old_speed) in rows.items():
        want = startup + frames * a / n + frames * s + frames * t / n
        assert abs(total - want) < 0.06, (n, total, want)
        assert abs(in_order - 100 * frames * s / want) < 0.06
        assert abs(old - (startup + frames * a + frames * t / n)) < 0.06
    assert rows[128][1] >= 20 > rows[128][4]  # ≥ 20× at 128 workers; the sequential analysis caps it
    assert abs(rows[1][1] - 1.0) < 1e-9 and abs(rows[1][4] - 1.0) < 1e-9
    eight = _rows(lines, 8)
    assert eight[128][0] < rows[128][0]  # stride 8 analyses an eighth of the frames
    # the sequential model's own table is unchanged in form
    assert model_table(a, t, frames)[0].startswith("Model: 1000 frames, analyse 460 ms")


def test_bench_farm_measures_the_analysis_in_parts(tmp_path):
    """``lookgrid bench farm``'s parts section end to end on a short clip: parts, fold, the fold's
    grids equal to the in-order analysis's, 1 worker on Ray, and the model from what it measured."""
    import subprocess
    import sys
    from pathlib import Path

    cmd = [str(Path(sys.executable).parent / "lookgrid"), "bench", "farm", "--skip", "floor", "workers",
           "--farm-size", "960x540", "--farm-frames", "4", "--chunk", "2", "--workers", "1",
           "--keep", str(tmp_path)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "folded grids equal the in-order analysis's (torch.equal): yes" in out, out
    fold = float(re.search(r"fold per analysed frame \(median of 7; target <= 5\):\s+([\d.]+) ms", out).group(1))
    assert 0 < fold < 1000
    assert re.search(r"^\s+1\s+[\d.]+\s+[\d.]+\s+1\.00$", out, re.M), out  # 1 worker on Ray
    rows = _rows(out.splitlines()[out.splitlines().index(
        next(ln for ln in out.splitlines() if ln.startswith("Model, analysis in parts"))):], 1)
    assert sorted(rows) == [1, 2, 8, 32, 128]

"""``lookgrid bench farm``'s overlap table (issue 27 items 2-4): the ratios and the model's rows."""

from __future__ import annotations

import pytest

from lookgrid.commands.bench.farm import overlap_lines
from lookgrid.errors import InvalidInputError


def test_overlap_lines_give_the_ratios_and_a_row_per_core_count():
    fast = {"overlapped": 0.6, "cpu_stages": (0.3, 0.2, 0.7)}
    text = "\n".join(overlap_lines("3840x2160", floor=0.5, plain=0.8, fast=fast, threads=2))
    assert "budgeted / plain (target <= 0.95)" in text and " 0.75" in text
    assert "budgeted / floor (target <= 1.35 at 4K)" in text and " 1.20" in text
    assert "in its budget (plain loop)" in text  # 2 cores
    assert "in its budget (overlapped)" in "\n".join(overlap_lines("3840x2160", 0.5, 0.8, fast, threads=4))
    rows = [line for line in text.splitlines() if " cores: " in line and ">=" in line]
    assert len(rows) == 5
    assert "plain loop" in rows[0] and ">= 1.200" in rows[0]  # 1 core: every stage in turn
    assert "plain loop" in rows[1] and ">= 0.600" in rows[1]  # 2 cores: the plain loop, stages over 2
    assert ">= 0.300" in rows[2]  # 4 cores: 1.2 CPU seconds over 4
    heavy = {"overlapped": 0.6, "cpu_stages": (0.1, 0.6, 0.1)}
    rows = [line for line in overlap_lines("1920x1080", 0.5, 0.8, heavy) if " cores: " in line and ">=" in line]
    assert ">= 0.600" in rows[2]  # 4 cores: the compute's 0.6 s on its one numba thread


def test_a_bad_core_count_is_one_clear_line():
    with pytest.raises(InvalidInputError, match="at least 1 core"):
        overlap_lines("1920x1080", 0.5, 0.8, {"overlapped": 0.6, "cpu_stages": (0.3, 0.2, 0.7)}, threads=0)

import argparse

import pytest


def _run(module, argv):
    import importlib

    mod = importlib.import_module(module)
    p = argparse.ArgumentParser()
    mod.add_arguments(p)
    return mod.run(p.parse_args(argv))


@pytest.mark.parametrize("blend", [None, "grid", "pixel"])
def test_bench_render_prints_table(capsys, blend):
    extra = [] if blend is None else ["--blend", blend]
    assert _run("lookgrid.commands.bench.render",
                ["--sizes", "512", "--repeat", "1", "--reference-repeat", "1", *extra]) == 0
    out = capsys.readouterr().out
    head = out.splitlines()[0]  # names the blend mode timed: the model's own unless overridden
    assert head.endswith(f"blend={blend}") if blend else ("blend=pixel" in head or "blend=grid" in head)
    row = next(line for line in out.splitlines() if line.startswith("512x512"))
    values = [float(v) for v in row.split()[1:]]
    assert len(values) == 10 and all(v > 0 for v in values)


def test_bench_analyze_prints_table(capsys):
    assert _run("lookgrid.commands.bench.analyze", ["--regions", "1", "--repeat", "1"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["1"] and all(float(v) > 0 for r in rows for v in r[1:])


def test_bench_rejects_bad_arguments():
    from lookgrid.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        _run("lookgrid.commands.bench.analyze", ["--regions", "0"])

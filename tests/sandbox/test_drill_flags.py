"""The drill's numeric flags are checked before any work: `--workers 0` ran 284 s and then failed."""

from __future__ import annotations

import pytest

from sandbox import drill


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--workers", "0"], "argument --workers: 0 is outside the allowed range (1..64)"),
        (["--burst", "-1"], "argument --burst: -1 is outside the allowed range (1..10000)"),
        (["--burst", "ten"], "argument --burst: 'ten' is not a whole number (allowed: 1..10000)"),
        (["--scale", "0"], "argument --scale: 0 is outside the allowed range (more than 0 and at most 1)"),
        (["--time-limit", "nan"], "argument --time-limit: nan is outside the allowed range"),
        (["--incident-seconds", "-3"], "argument --incident-seconds: -3 is outside the allowed range"),
    ],
)
def test_a_numeric_flag_out_of_range_exits_2_naming_it_before_any_work(argv, expected, capsys, monkeypatch):
    def no_work(*_args, **_kwargs):
        raise AssertionError("the drill started working with an invalid flag")

    monkeypatch.setattr(drill, "render_program", no_work)
    with pytest.raises(SystemExit) as exited:
        drill.main(argv)
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err.splitlines()[-1]

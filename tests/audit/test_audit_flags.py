"""The audit's numeric flags are checked before it reads anything."""

from __future__ import annotations

import pytest

from audit import __main__ as audit_main


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--timeout", "0"],
            "argument --timeout: 0 is outside the allowed range (more than 0 and at most 300)",
        ),
        (
            ["--watch", "-1"],
            "argument --watch: -1 is outside the allowed range (more than 0 and at most 86400)",
        ),
        (["--count", "-2"], "argument --count: -2 is outside the allowed range (0..1000000)"),
    ],
)
def test_a_numeric_flag_out_of_range_exits_2_naming_it_before_any_work(argv, expected, capsys, monkeypatch):
    def no_work(*_args, **_kwargs):
        raise AssertionError("the audit started working with an invalid flag")

    monkeypatch.setattr(audit_main, "Auditor", no_work)
    with pytest.raises(SystemExit) as exited:
        audit_main.main(argv)
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err.splitlines()[-1]

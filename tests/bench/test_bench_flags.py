"""The worker benchmark's numeric flags are checked before it starts a moto server."""

from __future__ import annotations

import pytest

from bench import worker


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--files", "0"], "argument --files: 0 is outside the allowed range (1..100000)"),
        (["--concurrency", "65"], "argument --concurrency: 65 is outside the allowed range (1..64)"),
        (["--lead", "-1"], "argument --lead: -1 is outside the allowed range (1..10000)"),
        (["--latency-ms", "-0.5"], "argument --latency-ms: -0.5 is outside the allowed range (0..10000)"),
        (["--large-file-mb", "0"], "argument --large-file-mb: 0 is outside the allowed range (1..4096)"),
    ],
)
def test_a_numeric_flag_out_of_range_exits_2_naming_it_before_any_work(argv, expected, capsys, monkeypatch):
    def no_work(*_args, **_kwargs):
        raise AssertionError("the benchmark started working with an invalid flag")

    monkeypatch.setattr(worker, "moto_server_process", no_work)
    with pytest.raises(SystemExit) as exited:
        worker.main(argv)
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err.splitlines()[-1]

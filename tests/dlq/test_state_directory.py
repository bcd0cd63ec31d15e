"""Where the redrive ledger goes by default: the user's state directory, never the working tree."""

from __future__ import annotations

from pathlib import Path

from dlq.moving import default_ledger_path


def test_the_ledger_goes_to_xdg_state_home():
    path = default_ledger_path("dlq", {"XDG_STATE_HOME": "/state"})
    assert path == Path("/state/cis-file-pipeline/dlq-redrive-dlq.ledger")


def test_without_xdg_state_home_it_goes_under_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert (
        default_ledger_path("dlq", {}) == tmp_path / ".local/state/cis-file-pipeline/dlq-redrive-dlq.ledger"
    )
    assert not default_ledger_path("dlq", {}).is_relative_to(Path.cwd())

"""The preview's resource tree prints in one order whatever order the resources registered in (the
program registers them asynchronously, so their order changes from run to run)."""

from __future__ import annotations

import dataclasses
import random

from preview.cli import print_report
from preview.gate import GateResult


def printed(stack, capsys) -> str:
    print_report(stack, GateResult([], [], 0), None, 0.0)
    return capsys.readouterr().out


def test_the_tree_is_the_same_for_any_registration_order(production, capsys):
    first = printed(production, capsys)
    for seed in range(3):
        shuffled = list(production.resources)
        random.Random(seed).shuffle(shuffled)
        assert printed(dataclasses.replace(production, resources=shuffled), capsys) == first

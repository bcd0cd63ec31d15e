"""Shared by every test group: the production stack rendered once, the `slow` marker, the hypothesis
profiles (tests/hypothesis_profiles.py), and the order the tests start in.

Tests that start moto server (any test using `aws_endpoint`), subprocesses or the drill are `slow`;
`make test-fast` runs the rest (`-m "not slow"`).

`make test` spreads the tests over pytest-xdist workers, each its own process with its own moto server
(tests/local_aws.py). The tests that mostly wait (the drill, the worker's property and chaos tests,
the benchmark) start first and the quick ones fill the gaps at the end, so no worker is left with a
minute-long test when the others are done.
"""

from __future__ import annotations

import pytest

import tests.hypothesis_profiles  # noqa: F401 (registers and loads the profiles)
from preview.render import RenderedStack, render_program
from tests.botocore_models import share_one_loader_per_process
from tests.moto_amis import default_amis_only
from tests.paths import REPO_ROOT
from tests.render_cache import cache_repository_renders

default_amis_only()  # before the test modules and tests.local_aws import moto.ec2
share_one_loader_per_process()
cache_repository_renders()

pytest_plugins = ["tests.local_aws"]

START_FIRST = (
    "tests/sandbox/test_drill.py",
    "tests/worker/test_worker_properties.py",
    "tests/worker/test_worker_chaos.py",
    "tests/bench/test_bench_worker.py",
    "tests/dlq/test_redrive_interrupted.py",
    "tests/worker/test_worker_jobs.py",
    "tests/sandbox/test_lambda_emulator_adversarial.py",
)
"""Modules whose tests wait longest (tens of seconds each, measured with --durations), longest first."""


@pytest.fixture(scope="session")
def production() -> RenderedStack:
    return render_program(REPO_ROOT, "production")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "aws_endpoint" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_start_order)  # stable: within a module the tests keep their order


def _start_order(item: pytest.Item) -> tuple[int, int]:
    module = item.nodeid.split("::", 1)[0]
    if module in START_FIRST:
        return 0, START_FIRST.index(module)
    return (1 if item.get_closest_marker("slow") else 2), 0

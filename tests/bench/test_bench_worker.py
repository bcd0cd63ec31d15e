"""`python -m bench.worker` at a tiny scale: it runs both consumers with the latency injected and ends
with the machine-readable line docs/benchmarks.md describes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.paths import REPO_ROOT

pytestmark = pytest.mark.slow

LAST_LINE = re.compile(
    r"^latency_ms=(?P<latency>[\d.]+) concurrency=(?P<concurrency>\d+) speedup_vs_naive=(?P<speedup>[\d.]+) "
    r"sqs_requests_per_message=(?P<requests>[\d.]+) peak_rss_mb_1gb=(?P<rss>[\d.]+)$"
)


def test_benchmark_prints_its_figures_on_the_last_line():
    result = subprocess.run(
        [sys.executable, "-m", "bench.worker", "--files", "30", "--large-file-mb", "2", "--latency-ms", "5"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = LAST_LINE.match(result.stdout.strip().splitlines()[-1])
    assert match, result.stdout
    assert float(match["latency"]) == 5 and int(match["concurrency"]) == 4
    assert float(match["speedup"]) > 1  # batching and slots beat receive-one/delete-one even at this scale
    assert 0.1 <= float(match["requests"]) < 1
    assert 0 < float(match["rss"]) < 150

"""The drill's verdicts come from moto's state: a good worker passes, a non-deleting one fails, and the
replayed incident shows the loop that only a queue without redrive allows."""

from __future__ import annotations

import re

import pytest

from preview.render import render_program
from sandbox.drill import DEFAULT_SCALE, STEPS, DrillContext, DrillRun, run
from sandbox.drill_report import text_report
from sandbox.lambda_emulator import LambdaSettings
from sandbox.local_aws import queue_depth
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # the drill: moto server and worker processes


@pytest.fixture(scope="module")
def stack():
    return render_program(REPO_ROOT, "production")


LAMBDA_RUN = LambdaSettings(
    batch_size=2,
    batching_window_seconds=0,
    maximum_concurrency=3,
    function_timeout_seconds=900,
    visibility_timeout_seconds=5400,
)
"""Explicit settings, as the lambda stack (Pulumi.lambda.yaml) would give them (sandbox/lambda_stack.py)."""


def drill(
    stack,
    tmp_path,
    variant="fixed",
    worker_module="worker",
    burst=0,
    workers=2,
    time_limit=60.0,
    steps=STEPS,
    compute="ec2",
) -> DrillRun:
    return run(
        stack,
        variant,
        burst,
        workers,
        worker_module,
        DEFAULT_SCALE,
        time_limit,
        tmp_path,
        progress=False,
        steps=steps,
        compute=compute,
        lambda_run=LAMBDA_RUN if compute == "lambda" else None,
    )


def dlq_after_the_verdicts(context: DrillContext) -> None:
    """A step appended after the drill's own, as a triage step would be: the endpoint is still up."""
    visible, in_flight = queue_depth(context.sqs, context.pipeline.dlq_url)
    context.result.notes.append(f"DLQ after the verdicts: {visible} visible, {in_flight} in flight")


def test_small_drill_passes_on_moto_state(stack, tmp_path):
    result = drill(stack, tmp_path, burst=20, steps=[*STEPS, dlq_after_the_verdicts])
    assert result.drained
    assert [check for check in result.checks if not check.passed] == []
    writes = result.facts.index_writes
    assert writes["uploads/報告書 2024年 第3四半期.txt"] == 1  # S3 object versions, not the worker's word
    assert writes["uploads/消える ファイル.txt"] == 0 and writes["uploads/壊れた ファイル.pdf"] == 0
    assert [entry.key for entry in result.facts.dead_lettered] == ["uploads/壊れた ファイル.pdf"]
    assert "not a readable PDF" in result.facts.dead_lettered[0].reason
    assert not result.facts.metrics["MessageDeleteFailed"]  # no datapoint, or 0
    assert result.facts.max_receive_count_seen <= result.facts.max_receive_count
    # The triage step (python -m dlq show, then redrive --yes) replays the fixed file, which gets indexed;
    # a step appended after it still runs on the live endpoint and finds the DLQ emptied.
    triage = [check for check in result.checks if check.name.startswith("dead letter triaged")]
    assert len(triage) == 1 and triage[0].passed, triage
    assert any(
        "not a readable PDF" in note for note in result.notes if note.startswith("triage: dead letter")
    )
    assert result.notes[-1] == "DLQ after the verdicts: 0 visible, 0 in flight"


def test_a_worker_that_does_not_delete_fails_the_drill(stack, tmp_path):
    result = drill(stack, tmp_path, worker_module="sandbox.incident_worker", burst=3, time_limit=16)
    failed = {check.name for check in result.checks if not check.passed}
    assert not result.passed
    assert "queue depth falls to zero" in failed
    assert "no message reappears (each file indexed exactly once)" in failed


def test_replayed_incident_loops_and_the_fixed_configuration_does_not(stack, tmp_path):
    fixed = drill(stack, tmp_path)
    # Long enough for more receives than maxReceiveCount allows even when the workers start slowly
    # (a loaded machine takes seconds to start them; 16 s fell short once, at three receives).
    incident = drill(
        stack, tmp_path, variant="incident", worker_module="sandbox.incident_worker", time_limit=24
    )
    max_receive_count = fixed.facts.max_receive_count
    assert fixed.drained and fixed.facts.max_receive_count_seen <= max_receive_count
    assert not incident.drained
    assert incident.facts.max_receive_count is None  # no redrive in the incident's queue
    assert incident.facts.max_receive_count_seen > max_receive_count  # only possible without redrive
    assert incident.facts.messages_handled > fixed.facts.messages_handled


def test_small_lambda_drill_passes_on_moto_state_under_the_emulated_mapping(stack, tmp_path):
    result = drill(stack, tmp_path, burst=20, compute="lambda")
    assert result.compute == "lambda" and result.label == "fixed lambda (emulated)"
    assert result.drained
    assert [check for check in result.checks if not check.passed] == []
    writes = result.facts.index_writes
    assert writes["uploads/報告書 2024年 第3四半期.txt"] == 1  # S3 object versions, not the handler's word
    assert [entry.key for entry in result.facts.dead_lettered] == ["uploads/壊れた ファイル.pdf"]
    assert "not a readable PDF" in result.facts.dead_lettered[0].reason  # dead-lettered by the handler
    assert result.facts.metrics["MessagesProcessed"] >= 26  # EMF lines extracted into moto's CloudWatch
    # the queue was deployed with the lambda stack's visibility (6x the function timeout), scaled
    assert any(values["declared"] == 5400 for values in result.facts.scaled.values())
    emulated = next(note for note in result.notes if note.startswith("emulated event source mapping"))
    assert "batch size 2" in emulated and "function timeout 6 s" in emulated
    at_once = int(re.search(r"at most (\d+) at once", emulated).group(1))
    assert 1 <= at_once <= 3  # the maximum concurrency
    report = text_report([result, result])
    assert "EMULATED event source mapping" in report and "the lambda run is emulated" in report


def test_a_lambda_run_needs_its_settings(stack, tmp_path):
    with pytest.raises(ValueError, match="lambda_run"):
        run(stack, "fixed", 0, 1, "worker", DEFAULT_SCALE, 1.0, tmp_path, compute="lambda")

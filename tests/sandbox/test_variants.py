"""Stack variants for local runs change only what they name: renamed resources leave no trace of the
old names anywhere (policies, dimensions, the workers' EnvironmentFile), and the work queue and
notification variants change the notified queue and nothing else."""

from __future__ import annotations

import json

import pytest

from sandbox import variants
from sandbox.data_plane import declared_worker_environment
from worker import contract

NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"


def notified_queue(stack):
    arns = {q["queueArn"] for n in stack.of_type(NOTIFICATION) for q in n.inputs["queues"]}
    (queue,) = [q for q in stack.of_type("aws:sqs/queue:Queue") if q.outputs["arn"] in arns]
    return queue


def test_renamed_leaves_no_old_name_anywhere(production):
    old_names = [b.outputs["bucket"] for b in production.of_type(variants.BUCKET)]
    old_names += [q.outputs["name"] for q in production.of_type(variants.QUEUE)]
    renamed = variants.renamed(production, "t7-1234")
    text = json.dumps([[r.inputs, r.outputs] for r in renamed.resources] + [renamed.outputs], default=str)
    for name in old_names:
        assert name not in text
    environment = declared_worker_environment(renamed)
    assert environment[contract.QUEUE_URL].endswith("/t7-1234-" + notified_queue(production).name)
    assert environment[contract.INDEX_BUCKET].startswith("t7-1234-")
    # the original is untouched
    assert declared_worker_environment(production)[contract.INDEX_BUCKET] in old_names


def test_renamed_names_are_valid_bucket_names(production):
    for bucket in variants.renamed(production, "Prop_99.x").of_type(variants.BUCKET):
        name = bucket.outputs["bucket"]
        assert name == name.lower() and len(name) <= 63 and name.replace("-", "").isalnum()


def test_work_queue_settings_change_only_the_notified_queue(production):
    changed = variants.with_work_queue(
        production, visibility_timeout_seconds=2, receive_wait_seconds=1, max_receive_count=5
    )
    queue = notified_queue(changed)
    assert queue.inputs["visibilityTimeoutSeconds"] == 2 and queue.inputs["receiveWaitTimeSeconds"] == 1
    assert json.loads(queue.inputs["redrivePolicy"])["maxReceiveCount"] == 5
    others = [q.inputs for q in changed.of_type(variants.QUEUE) if q.urn != queue.urn]
    assert others == [q.inputs for q in production.of_type(variants.QUEUE) if q.urn != queue.urn]
    assert (
        "redrivePolicy"
        not in notified_queue(variants.with_work_queue(production, without_redrive=True)).inputs
    )
    assert notified_queue(production).inputs["redrivePolicy"]  # copies, not edits


def test_repeated_notifications(production):
    (declared,) = production.of_type(NOTIFICATION)
    (tripled,) = variants.with_notifications_repeated(production, 3).of_type(NOTIFICATION)
    assert tripled.inputs["queues"] == declared.inputs["queues"] * 3


def test_max_receive_count_needs_a_declared_redrive(production):
    without = variants.with_work_queue(production, without_redrive=True)
    with pytest.raises(ValueError, match="declares no redrive policy"):
        variants.with_work_queue(without, max_receive_count=3)

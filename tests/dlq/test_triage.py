"""The drill's triage step: a poisoned upload dead-lettered by the real worker is shown with its reason,
fixed, replayed and indexed (`dlq.triage.replay_fixed`)."""

from __future__ import annotations

import json

import pytest

from dlq.triage import replay_fixed
from sandbox.drill_files import text_pdf
from sandbox.local_aws import queue_depth, wait_until
from tests.local_aws import running_consumer, worker_config

pytestmark = pytest.mark.slow


def test_a_poisoned_file_is_shown_with_its_reason_fixed_replayed_and_indexed(aws, pipeline_factory):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    key = f"{pipeline.upload_prefix}壊れた 見積書.pdf"
    # The processor runs in the worker's child processes: named, not a bound method.
    config = worker_config(pipeline, index_prefix="documents/")
    with running_consumer(aws, config, "worker.indexer:index_file"):
        s3.put_object(
            Bucket=pipeline.upload_bucket, Key=key, Body=b"%PDF-1.4 truncated", ContentType="application/pdf"
        )
        wait_until(
            lambda: queue_depth(sqs, pipeline.dlq_url)[0] == 1, 30, message="the poisoned file dead-lettered"
        )
        # the fix raises no event of its own here, so only the replay can get the file indexed
        s3.put_bucket_notification_configuration(Bucket=pipeline.upload_bucket, NotificationConfiguration={})

        def fix(letters):
            assert [letter.key for letter in letters] == [key]
            s3.put_object(
                Bucket=pipeline.upload_bucket,
                Key=key,
                Body=text_pdf("fixed quote"),
                ContentType="application/pdf",
            )

        result = replay_fixed(
            sqs,
            s3,
            dlq_url=pipeline.dlq_url,
            queue_url=pipeline.queue_url,
            key=key,
            fix=fix,
            index_bucket=pipeline.index_bucket,
            index_prefix="documents/",
            timeout_seconds=30,
        )
    assert [row["errorType"] for row in result.shown] == ["PermanentError"]
    assert "not a readable PDF" in result.shown[0]["reason"]
    assert result.replayed == 1 and result.indexed
    document = json.loads(s3.get_object(Bucket=pipeline.index_bucket, Key=result.index_key)["Body"].read())
    assert document["key"] == key and "fixed quote" in document["text"]
    assert queue_depth(sqs, pipeline.dlq_url) == (0, 0)
    assert any("PermanentError" in line for line in result.lines) and result.lines[-1].startswith("indexed")


def test_a_key_with_no_dead_letter_is_a_lookup_error(aws, pipeline_factory):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    with pytest.raises(LookupError, match="names 'uploads/none.pdf'"):
        replay_fixed(
            sqs,
            s3,
            dlq_url=pipeline.dlq_url,
            queue_url=pipeline.queue_url,
            key="uploads/none.pdf",
            fix=lambda _: None,
        )

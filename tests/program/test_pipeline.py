"""The production stack, rendered under Pulumi's mocks: each property of the incident's fix."""

from __future__ import annotations

import json

import pytest

from preview.mocks import MOCK_ACCOUNT_ID
from preview.render import ProgramError, RenderedStack, render_program
from tests.paths import REPO_ROOT

PROJECT = "cis-file-pipeline"


def one(stack: RenderedStack, resource_type: str, name: str):
    matches = [r for r in stack.of_type(resource_type) if r.name == name]
    assert len(matches) == 1, f"expected one {resource_type} named {name}, found {len(matches)}"
    return matches[0]


def work_queue(stack: RenderedStack):
    return one(stack, "aws:sqs/queue:Queue", "work-queue")


def dead_letter_queue(stack: RenderedStack):
    return one(stack, "aws:sqs/queue:Queue", "dead-letter-queue")


def test_visibility_equals_the_setting(production):
    assert work_queue(production).inputs["visibilityTimeoutSeconds"] == 900


def test_visibility_follows_config_changes():
    stack = render_program(
        REPO_ROOT,
        "production",
        {f"{PROJECT}:maxProcessingSeconds": "1200", f"{PROJECT}:visibilityTimeoutSeconds": "1500"},
    )
    assert work_queue(stack).inputs["visibilityTimeoutSeconds"] == 1500


def test_redrive_targets_the_dlq_with_the_configured_count(production):
    redrive = json.loads(work_queue(production).inputs["redrivePolicy"])
    assert redrive == {
        "deadLetterTargetArn": dead_letter_queue(production).outputs["arn"],
        "maxReceiveCount": 3,
    }


def test_dlq_admits_only_the_source_queue(production):
    allow = one(
        production, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "dead-letter-queue-redrive-allow"
    )
    assert allow.inputs["queueUrl"] == dead_letter_queue(production).outputs["url"]
    assert json.loads(allow.inputs["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [work_queue(production).outputs["arn"]],
    }


def test_dlq_keeps_messages_longer_than_the_queue(production):
    dlq_retention = dead_letter_queue(production).inputs["messageRetentionSeconds"]
    assert dlq_retention == 14 * 24 * 3600
    assert dlq_retention > work_queue(production).inputs["messageRetentionSeconds"]


def test_queues_long_poll_and_are_encrypted(production):
    assert work_queue(production).inputs["receiveWaitTimeSeconds"] == 20
    for queue in (work_queue(production), dead_letter_queue(production)):
        assert queue.inputs["sqsManagedSseEnabled"] is True


def test_exactly_one_notification_for_the_upload_bucket(production):
    notifications = production.of_type("aws:s3/bucketNotification:BucketNotification")
    assert len(notifications) == 1
    notification = notifications[0]
    assert notification.inputs["bucket"] == "cis-filesearch-storage-production"
    assert notification.inputs["queues"] == [
        {
            "queueArn": work_queue(production).outputs["arn"],
            "events": ["s3:ObjectCreated:*"],
            "filterPrefix": "uploads/",
        }
    ]


def test_notification_is_created_after_the_queue_policy(production):
    notification = one(production, "aws:s3/bucketNotification:BucketNotification", "upload-notification")
    queue_policy = one(production, "aws:sqs/queuePolicy:QueuePolicy", "work-queue-policy")
    assert queue_policy.urn in notification.dependencies


def test_queue_policy_admits_only_this_bucket_of_this_account(production):
    queue_policy = one(production, "aws:sqs/queuePolicy:QueuePolicy", "work-queue-policy")
    (statement,) = json.loads(queue_policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == work_queue(production).outputs["arn"]
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": "arn:aws:s3:::cis-filesearch-storage-production"},
        "StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID},
    }


@pytest.mark.parametrize("bucket", ["uploads", "index"])
def test_buckets_are_versioned_encrypted_private_and_tls_only(production, bucket):
    children = [r for r in production.resources if r.parent and r.parent.endswith(f"PrivateBucket::{bucket}")]
    by_type = {r.type.split(":")[-1]: r for r in children}
    assert by_type["BucketVersioning"].inputs["versioningConfiguration"] == {"status": "Enabled"}
    encryption = by_type["BucketServerSideEncryptionConfiguration"].inputs["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    block = by_type["BucketPublicAccessBlock"].inputs
    assert all(
        block[key] is True
        for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    (statement,) = json.loads(by_type["BucketPolicy"].inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_upload_bucket_is_protected_only_in_production(production):
    assert one(production, "aws:s3/bucket:Bucket", "uploads").protect is True
    assert one(production, "aws:s3/bucket:Bucket", "index").protect is False
    staging = render_program(REPO_ROOT, "production", {f"{PROJECT}:environment": "staging"})
    assert one(staging, "aws:s3/bucket:Bucket", "uploads").protect is False


def test_index_bucket_is_not_the_watched_bucket(production):
    assert production.outputs["indexBucketName"] != production.outputs["bucketName"]


def test_components_parent_their_resources(production):
    pipeline = one(production, "cis:pipeline:FileEventPipeline", "file-pipeline")
    assert work_queue(production).parent == pipeline.urn
    assert one(production, "aws:s3/bucket:Bucket", "uploads").parent.endswith("PrivateBucket::uploads")


def test_stack_outputs(production):
    pipeline_outputs = {
        key: production.outputs[key]
        for key in ("queueUrl", "queueArn", "dlqUrl", "dlqArn", "bucketName", "indexBucketName")
    }
    assert pipeline_outputs == {
        "queueUrl": work_queue(production).outputs["url"],
        "queueArn": work_queue(production).outputs["arn"],
        "dlqUrl": dead_letter_queue(production).outputs["url"],
        "dlqArn": dead_letter_queue(production).outputs["arn"],
        "bucketName": "cis-filesearch-storage-production",
        "indexBucketName": "cis-filesearch-index-production",
    }
    assert set(production.outputs) == set(pipeline_outputs) | {
        "computeMode",
        "consumerName",
        "consumerArtifactSha256",
        "workerBundleSha256",
        "workerGroupName",
        "workerLaunchTemplateId",
        "functionName",
        "functionArn",
        "eventSourceMappingUuid",
        "alarmTopicArn",
        "alarmNames",
        "dashboardName",
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"visibilityTimeoutSeconds": "43201", "maxProcessingSeconds": "900"},
            "visibilityTimeoutSeconds=43201: allowed range is 0..43200",
        ),
        ({"maxReceiveCount": "1"}, "maxReceiveCount=1: allowed range is 2..1000"),
        (
            {"visibilityTimeoutSeconds": "300"},
            "visibilityTimeoutSeconds=300: must be >= maxProcessingSeconds (900)",
        ),
        (
            {"deadLetterRetentionSeconds": "345600"},
            "deadLetterRetentionSeconds=345600: must be longer than queueRetentionSeconds",
        ),
        ({"receiveWaitTimeSeconds": "21"}, "receiveWaitTimeSeconds=21: allowed range is 1..20"),
        ({"uploadBucketName": "Bad_Bucket"}, "uploadBucketName='Bad_Bucket': must be a valid S3 bucket name"),
        ({"uploadPrefix": ""}, "uploadPrefix='': must be a non-empty key prefix"),
        (
            {"indexBucketName": "cis-filesearch-storage-production"},
            "indexBucketName='cis-filesearch-storage-production': must differ",
        ),
        ({"maxReceiveCount": "three"}, "maxReceiveCount='three': must be a whole number"),
    ],
)
def test_invalid_settings_fail_with_key_value_and_range(overrides, expected):
    with pytest.raises(ProgramError) as error:
        render_program(
            REPO_ROOT, "production", {f"{PROJECT}:{key}": value for key, value in overrides.items()}
        )
    assert expected in str(error.value)

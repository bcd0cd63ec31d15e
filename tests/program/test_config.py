"""Config, one home per value: names derive from the project and stack; production sets its own."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from components.settings import S3_BUCKET_NAME, SQS_QUEUE_NAME
from preview.render import render_program
from tests.paths import REPO_ROOT
from tests.program.test_pipeline import PROJECT, one

PRODUCTION_NAMES = (
    "cis-filesearch-storage-production",
    "cis-filesearch-index-production",
    "cis-filesearch-artifacts-production",
    "file-processing-queue-production",
    "file-processing-dlq-production",
    "cis-file-processor",
    "CISFileSearch/Worker",
    "ap-northeast-1",
    "production",
)


def everything_rendered(stack) -> str:
    """Every input and output of every resource, user data decoded, and the stack outputs, as text."""
    parts = [json.dumps(stack.outputs)]
    for resource in stack.resources:
        parts.append(json.dumps([resource.name, resource.inputs, resource.outputs], default=str))
        if resource.inputs.get("userData"):
            parts.append(base64.b64decode(resource.inputs["userData"]).decode())
    return "\n".join(parts)


def project_config() -> dict:
    return yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"]


def test_a_second_stack_renders_without_a_stack_file_and_names_nothing_of_production():
    assert not (REPO_ROOT / "Pulumi.staging.yaml").exists()
    staging = render_program(REPO_ROOT, "staging")
    text = everything_rendered(staging)
    found = [name for name in PRODUCTION_NAMES if name in text]
    assert found == []
    assert staging.outputs["bucketName"] == "cis-file-pipeline-uploads-staging"
    assert staging.outputs["indexBucketName"] == "cis-file-pipeline-index-staging"
    assert staging.outputs["queueUrl"].endswith("/cis-file-pipeline-queue-staging")
    assert staging.outputs["dlqUrl"].endswith("/cis-file-pipeline-dlq-staging")
    assert staging.outputs["workerGroupName"] == "cis-file-pipeline-workers-staging"
    assert staging.outputs["dashboardName"] == "cis-file-pipeline-staging"
    assert one(staging, "aws:s3/bucket:Bucket", "uploads").protect is False  # environment = the stack


def test_the_production_stack_keeps_the_incident_names(production):
    text = everything_rendered(production)
    for name in PRODUCTION_NAMES:
        assert name in text, name
    assert production.outputs["bucketName"] == "cis-filesearch-storage-production"
    assert production.outputs["workerGroupName"] == "cis-file-processor-production"
    assert one(production, "aws:s3/bucket:Bucket", "uploads").protect is True


@pytest.mark.parametrize("stack", ["Feature_Branch.42", "dev", "qa-2"])
def test_derived_names_are_valid_bucket_and_queue_names(stack):
    rendered = render_program(REPO_ROOT, stack)
    for bucket in rendered.of_type("aws:s3/bucket:Bucket"):
        assert S3_BUCKET_NAME.match(bucket.inputs["bucket"]), bucket.inputs["bucket"]
    for queue in rendered.of_type("aws:sqs/queue:Queue"):
        assert SQS_QUEUE_NAME.match(queue.inputs["name"]), queue.inputs["name"]


def test_a_stack_can_still_set_a_name():
    stack = render_program(REPO_ROOT, "staging", {f"{PROJECT}:queueName": "team-queue"})
    assert stack.outputs["queueUrl"].endswith("/team-queue")
    assert stack.outputs["dlqUrl"].endswith("/cis-file-pipeline-dlq-staging")


def test_the_production_file_holds_only_what_differs_from_the_defaults():
    defaults = {key: spec.get("default") for key, spec in project_config().items()}
    production = yaml.safe_load((REPO_ROOT / "Pulumi.production.yaml").read_text())["config"]
    for key, value in production.items():
        namespace, _, name = key.partition(":")
        if namespace == PROJECT:
            assert name in defaults, f"{key} is not in the schema"
            assert value != defaults[name], f"{key} repeats the default"


def test_every_config_key_has_a_type_a_description_and_a_default():
    for key, spec in project_config().items():
        assert spec.get("type") in ("string", "integer", "boolean", "array"), key
        assert len(spec.get("description", "")) > 20, key
        assert "default" in spec, key

"""The consumer's stack outputs: the same keys in both compute modes, so tools that read them (dlq,
audit, sandbox, the drill, bench) never branch on which keys exist; a key of the other mode is None."""

from __future__ import annotations

from typing import Any

from components.lambda_consumer import LambdaConsumer
from components.worker_bundle import WorkerBundle
from components.worker_fleet import WorkerFleet

CONSUMER_OUTPUT_KEYS = (
    "computeMode",
    "consumerName",
    "consumerArtifactSha256",
    "workerGroupName",
    "workerLaunchTemplateId",
    "workerBundleSha256",
    "functionName",
    "functionArn",
    "eventSourceMappingUuid",
)


def _complete(values: dict[str, Any]) -> dict[str, Any]:
    return {key: values.get(key) for key in CONSUMER_OUTPUT_KEYS}


def fleet_outputs(fleet: WorkerFleet, bundle: WorkerBundle) -> dict[str, Any]:
    """ec2 mode: the Auto Scaling Group and the bundle its instances install."""
    return _complete(
        {
            "computeMode": "ec2",
            "consumerName": fleet.group.name,
            "consumerArtifactSha256": bundle.sha256,
            "workerGroupName": fleet.group.name,
            "workerLaunchTemplateId": fleet.launch_template.id,
            "workerBundleSha256": bundle.sha256,
        }
    )


def function_outputs(consumer: LambdaConsumer) -> dict[str, Any]:
    """lambda mode: the function, its zip and its event source mapping."""
    return _complete(
        {
            "computeMode": "lambda",
            "consumerName": consumer.function.name,
            "consumerArtifactSha256": consumer.sha256,
            "functionName": consumer.function.name,
            "functionArn": consumer.function.arn,
            "eventSourceMappingUuid": consumer.mapping.uuid,
        }
    )

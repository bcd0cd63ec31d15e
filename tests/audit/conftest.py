"""The production data plane on moto server, healthy, for each audit test to break as an operator would.

The session's moto server (so these tests are `slow`); for each test the services the deployment
uses are emptied in-process (moto's state lives in this process; a full /moto-api/reset rebuilds
every EC2 region and costs seconds) and the stack is deployed again. The audit runs in-process
through `main`; its render of the production stack is the session's (rendering is what the audit does first, and it does not change between tests).

moto 5.2 accepts `RedriveAllowPolicy` in SetQueueAttributes but neither stores nor returns it, and
`sandbox.data_plane.deploy` does not create the stack's RedriveAllowPolicy resource. `RedriveAllow`
emulates that one attribute on the audit's own SQS client (botocore event hooks), seeded with the
declared policy as `pulumi up` would create it; tests change it through the same object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.backends import get_backend

import audit.__main__ as audit_main
from preview.render import RenderedStack
from sandbox.data_plane import DataPlane, deploy
from sandbox.local_aws import REGION, client, clients, local_environment

UPLOADS = "cis-filesearch-storage-production"
QUEUE, DLQ = "file-processing-queue-production", "file-processing-dlq-production"
GROUP = "cis-file-processor-production"


@dataclass
class RedriveAllow:
    """RedriveAllowPolicy by queue URL, as SQS would return it to the audit (moto keeps none)."""

    policies: dict[str, str] = field(default_factory=dict)

    def attach(self, sqs: Any) -> None:
        def remember_queue(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["emulated_queue_url"] = params.get("QueueUrl")

        def add_attribute(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            url = context.get("emulated_queue_url")
            if url in self.policies and "Attributes" in parsed:
                parsed["Attributes"]["RedriveAllowPolicy"] = self.policies[url]

        sqs.meta.events.register("before-parameter-build.sqs.GetQueueAttributes", remember_queue)
        sqs.meta.events.register("after-call.sqs.GetQueueAttributes", add_attribute)


RESET_SERVICES = ("s3", "sqs", "cloudwatch", "autoscaling")


@dataclass
class Deployment:
    endpoint: str
    s3: Any
    sqs: Any
    cloudwatch: Any
    autoscaling: Any
    plane: DataPlane
    redrive_allow: RedriveAllow

    def url(self, queue: str) -> str:
        return self.plane.queue_urls[queue]

    def arn(self, queue: str) -> str:
        return self.plane.queue_arns[queue]


def drain(sqs: Any, url: str) -> None:
    """Delete what waits in a queue (PurgeQueue is allowed once a minute per queue)."""
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
        )


@pytest.fixture
def endpoint(aws_endpoint: str) -> str:
    """The session's moto server (tests/local_aws.py: one per xdist worker); each deployment first
    empties the services it uses."""
    return aws_endpoint


@pytest.fixture
def deployment(endpoint: str, production: RenderedStack, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """A healthy production deployment: the data plane and the workers' group, nothing else in moto."""
    for key, value in local_environment(endpoint).items():
        monkeypatch.setenv(key, value)
    s3, sqs, cloudwatch = clients(endpoint)
    autoscaling, ec2 = client(endpoint, "autoscaling"), client(endpoint, "ec2")
    for service in RESET_SERVICES:
        get_backend(service).reset()  # type: ignore[arg-type]
    for template in ec2.describe_launch_templates()["LaunchTemplates"]:
        ec2.delete_launch_template(LaunchTemplateId=template["LaunchTemplateId"])
    plane = deploy(production, s3, sqs, cloudwatch, REGION, ec2=ec2, autoscaling=autoscaling)
    drain(sqs, plane.queue_urls[QUEUE])  # the s3:TestEvent
    redrive_allow = RedriveAllow()
    for policy in production.of_type("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"):
        document = json.loads(policy.inputs["redriveAllowPolicy"])
        document["sourceQueueArns"] = [
            plane.queue_arns[arn.rsplit(":", 1)[-1]] for arn in document.get("sourceQueueArns", [])
        ]
        dlq_name = policy.inputs["queueUrl"].rsplit("/", 1)[-1]
        redrive_allow.policies[plane.queue_urls[dlq_name]] = json.dumps(document)

    real_connect = audit_main.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        made = real_connect(*args, **kwargs)
        redrive_allow.attach(made.sqs)
        return made

    monkeypatch.setattr(audit_main, "connect", connect)
    return Deployment(endpoint, s3, sqs, cloudwatch, autoscaling, plane, redrive_allow)

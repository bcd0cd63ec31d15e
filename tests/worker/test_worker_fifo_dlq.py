"""The EC2 worker dead-letters into a FIFO DLQ too: SendMessage to a FIFO queue needs a group id and a
deduplication id (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html);
without them the copy is refused and the message loops until SQS redrives it with no reason."""

from __future__ import annotations

import json
import uuid

from worker import metrics
from worker.inflight import InFlightMessage
from worker.outcomes import Outcome, Verdict
from worker.sqs_actions import DeleteBatcher, MessageActions
from worker.startup import QueueSettings


def test_a_permanent_failure_reaches_a_fifo_dlq_in_its_group(aws):
    _, sqs, cloudwatch = aws
    name = f"fifo-{uuid.uuid4().hex[:8]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    work = sqs.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={
            "FifoQueue": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=work, MessageBody="{}", MessageGroupId="uploads", MessageDeduplicationId="d1")
    raw = sqs.receive_message(QueueUrl=work, AttributeNames=["MessageGroupId"])["Messages"][0]
    message = InFlightMessage(
        message_id=raw["MessageId"],
        receipt_handle=raw["ReceiptHandle"],
        body=raw["Body"],
        receive_count=1,
        group_id=raw["Attributes"]["MessageGroupId"],
    )
    sink = metrics.Metrics(cloudwatch, "Test/Fifo", {"QueueName": name})
    deleter = DeleteBatcher(sqs, work, sink)
    deleter.start()
    actions = MessageActions(sqs, work, QueueSettings(30, 3, dlq, dlq_arn), sink, deleter, 1)

    actions.apply(message, Verdict(Outcome.PERMANENT_FAILURE, reason="corrupt", error_type="PermanentError"))
    deleter.close()

    letters = sqs.receive_message(
        QueueUrl=dlq, AttributeNames=["MessageGroupId"], MessageAttributeNames=["All"]
    )["Messages"]
    assert [letter["Attributes"]["MessageGroupId"] for letter in letters] == ["uploads"]
    assert letters[0]["MessageAttributes"]["Reason"]["StringValue"] == "corrupt"
    assert "Messages" not in sqs.receive_message(QueueUrl=work, VisibilityTimeout=0)

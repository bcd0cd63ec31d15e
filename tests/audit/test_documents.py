"""The audit's reading of policy documents, on the shapes other teams and the console write: may S3
still send this bucket's notifications, does a redrive-allow policy admit the work queue, which
declared statements are gone. No AWS needed."""

from __future__ import annotations

import json

import pytest

from audit.documents import bucket_may_send, missing_statements, redrive_allows
from worker.success_criteria import Verdict, workers_in_service

QUEUE_ARN = "arn:aws:sqs:ap-northeast-1:111122223333:file-processing-queue-production"
BUCKET = "cis-filesearch-storage-production"
ACCOUNT = "111122223333"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_S3 = {
    "Effect": "Allow",
    "Principal": {"Service": "s3.amazonaws.com"},
    "Action": "sqs:SendMessage",
    "Resource": QUEUE_ARN,
    "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{BUCKET}"}},
}


@pytest.mark.parametrize(
    "document",
    [
        policy(ALLOW_S3),
        # the console's wizard: Principal "*", ArnLike, a list of actions
        policy(
            {
                "Sid": "example-statement-ID",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["SQS:SendMessage", "SQS:ReceiveMessage"],
                "Resource": QUEUE_ARN,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:cis-filesearch-*"},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            }
        ),
        # Terraform modules: a Service list, sqs:*, Resource "*", a single statement as an object
        json.dumps(
            {
                "Statement": {
                    "Effect": "Allow",
                    "Principal": {"Service": ["s3.amazonaws.com", "sns.amazonaws.com"]},
                    "Action": "sqs:*",
                    "Resource": "*",
                }
            }
        ),
        # a Deny that does not concern S3 from this account
        policy(
            ALLOW_S3,
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": QUEUE_ARN,
                "Condition": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
            },
        ),
    ],
)
def test_policies_that_let_the_bucket_send(document):
    assert bucket_may_send(document, QUEUE_ARN, BUCKET, ACCOUNT)


@pytest.mark.parametrize(
    "document",
    [
        None,
        policy(),
        policy({**ALLOW_S3, "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::another-bucket"}}}),
        policy({**ALLOW_S3, "Principal": {"Service": "sns.amazonaws.com"}}),
        policy({**ALLOW_S3, "Action": "sqs:ReceiveMessage"}),
        policy({**ALLOW_S3, "Resource": QUEUE_ARN.replace("production", "staging")}),
        policy(ALLOW_S3, {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"}),
        policy({**ALLOW_S3, "Condition": {"StringEquals": {"aws:SourceAccount": "444455556666"}}}),
    ],
)
def test_policies_that_do_not(document):
    assert not bucket_may_send(document, QUEUE_ARN, BUCKET, ACCOUNT)


def test_redrive_allow_permissions():
    assert redrive_allows(None, QUEUE_ARN)  # no policy: allowAll
    assert redrive_allows({"redrivePermission": "allowAll"}, QUEUE_ARN)
    assert not redrive_allows({"redrivePermission": "denyAll"}, QUEUE_ARN)
    assert redrive_allows({"redrivePermission": "byQueue", "sourceQueueArns": [QUEUE_ARN]}, QUEUE_ARN)
    assert not redrive_allows({"redrivePermission": "byQueue", "sourceQueueArns": []}, QUEUE_ARN)


def test_missing_statements_ignore_sid_order_and_one_element_lists():
    declared = policy(
        {**ALLOW_S3, "Sid": "A", "Action": ["sqs:SendMessage"]}, {"Effect": "Deny", "Action": "*"}
    )
    reordered = policy({"Effect": "Deny", "Action": "*"}, {**ALLOW_S3, "Sid": "renamed"})
    assert missing_statements(declared, reordered) == []
    loosened = policy({"Effect": "Deny", "Action": "*"}, {**ALLOW_S3, "Condition": {}})
    assert [statement["Sid"] for statement in missing_statements(declared, loosened)] == ["A"]
    assert len(missing_statements(declared, None)) == 2


def test_workers_in_service_needs_data_when_messages_wait():
    assert workers_in_service(2, 500).verdict is Verdict.PASS
    assert workers_in_service(0, 0).verdict is Verdict.PASS
    assert workers_in_service(0, 500).verdict is Verdict.FAIL
    assert workers_in_service(None, 0).verdict is Verdict.NO_DATA
    assert workers_in_service(None, 500).verdict is Verdict.FAIL

"""Alarms, topic and dashboard, rendered under mocks; metric-math expressions evaluated here."""

from __future__ import annotations

import json
import re

import pytest

from preview.gate import evaluate, load_pack_config, load_policies
from preview.mocks import MOCK_ACCOUNT_ID
from preview.render import render_program
from tests.paths import REPO_ROOT
from tests.program.test_pipeline import one
from worker import metrics as worker_metrics

PREFIX = "cis-file-pipeline-production"
QUEUE, DLQ, GROUP = (
    "file-processing-queue-production",
    "file-processing-dlq-production",
    "cis-file-processor-production",
)


def alarms(stack) -> dict[str, dict]:
    return {
        resource.inputs["name"].removeprefix(f"{PREFIX}-"): resource.inputs
        for resource in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }


def topic_arn(stack) -> str:
    return one(stack, "aws:sns/topic:Topic", "alarms-topic").outputs["arn"]


def queries(alarm: dict) -> dict[str, dict]:
    return {query["id"]: query for query in alarm["metricQueries"]}


def test_every_alarm_acts_on_the_topic_and_says_what_to_do(production):
    found = alarms(production)
    assert set(found) == {
        "dlq-has-messages",
        "dlq-growing-fast",
        "indexing-lag",
        "delete-failures",
        "visibility-lost",
        "message-loop",
        "backlog-sustained",
        "no-workers-with-backlog",
        "success-rate-low",
    }
    for alarm in found.values():
        assert alarm["alarmActions"] == [topic_arn(production)]
        assert alarm["okActions"] == [topic_arn(production)]
        assert alarm["treatMissingData"] in ("notBreaching", "breaching")
        assert len(alarm["alarmDescription"]) > 60


@pytest.mark.parametrize(
    ("key", "namespace", "metric", "dimensions", "threshold", "periods", "period"),
    [
        ("dlq-has-messages", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": DLQ}, 0, 1, 60),
        ("indexing-lag", "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": QUEUE}, 300, 5, 60),
        ("delete-failures", "CISFileSearch/Worker", "MessageDeleteFailed", {"QueueName": QUEUE}, 0, 1, 60),
        ("visibility-lost", "CISFileSearch/Worker", "MessageVisibilityLost", {"QueueName": QUEUE}, 0, 1, 300),
        (
            "backlog-sustained",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": QUEUE},
            500,
            15,
            60,
        ),
    ],
)
def test_single_metric_alarms(production, key, namespace, metric, dimensions, threshold, periods, period):
    alarm = alarms(production)[key]
    assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == (namespace, metric, dimensions)
    assert (alarm["threshold"], alarm["evaluationPeriods"], alarm["period"]) == (threshold, periods, period)


def test_thresholds_come_from_config():
    stack = render_program(
        REPO_ROOT,
        "production",
        {
            "cis-file-pipeline:oldestMessageAgeThresholdSeconds": "600",
            "cis-file-pipeline:backlogThreshold": "50",
            "cis-file-pipeline:backlogSustainedMinutes": "30",
            "cis-file-pipeline:successRatePercentThreshold": "99",
            "cis-file-pipeline:alarmEmails": '["oncall@example.com"]',
        },
    )
    found = alarms(stack)
    assert found["indexing-lag"]["threshold"] == 600
    assert (found["backlog-sustained"]["threshold"], found["backlog-sustained"]["evaluationPeriods"]) == (
        50,
        30,
    )
    assert found["success-rate-low"]["threshold"] == 99
    subscription = one(stack, "aws:sns/topicSubscription:TopicSubscription", "alarms-email-0").inputs
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "oncall@example.com")


def _python(expression: str) -> str:
    """Translate CloudWatch metric math (IF, FILL, AND, arithmetic) to Python, IF evaluated lazily."""
    start = expression.find("IF(")
    if start < 0:
        return re.sub(r"FILL\((\w+), (\d+)\)", r"(\1 if \1 is not None else \2)", expression).replace(
            " AND ", " and "
        )
    depth, arguments, current = 0, [], ""
    for position in range(start + 3, len(expression)):
        char = expression[position]
        if char == "(":
            depth += 1
        elif char == ")" and depth == 0:
            arguments.append(current)
            end = position
            break
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            arguments.append(current)
            current = ""
        else:
            current += char
    condition, when_true, when_false = (_python(argument.strip()) for argument in arguments)
    return (
        _python(expression[:start])
        + f"(({when_true}) if ({condition}) else ({when_false}))"
        + _python(expression[end + 1 :])
    )


def evaluate_expression(expression: str, values: dict[str, float]) -> float:
    return eval(_python(expression), {}, dict(values))  # noqa: S307 - test-only, the stack's own expressions


def test_loop_detection_fires_on_the_incident_and_not_on_healthy_traffic(production):
    alarm = alarms(production)["message-loop"]
    by_id = queries(alarm)
    assert by_id["received"]["metric"]["metricName"] == "NumberOfMessagesReceived"
    assert by_id["deleted"]["metric"]["metricName"] == "NumberOfMessagesDeleted"
    assert by_id["received"]["metric"]["dimensions"] == {"QueueName": QUEUE}
    expression = by_id["loop"]["expression"]
    threshold = alarm["threshold"]
    incident = {"received": 1200, "deleted": 0}  # every message back after its visibility, never deleted
    slow_deletes = {"received": 400, "deleted": 60}
    healthy = {"received": 300, "deleted": 290}
    quiet = {"received": 8, "deleted": 0}  # too little traffic to judge
    assert evaluate_expression(expression, incident) > threshold
    assert evaluate_expression(expression, slow_deletes) > threshold
    assert evaluate_expression(expression, healthy) <= threshold
    assert evaluate_expression(expression, quiet) <= threshold


def test_no_workers_with_backlog(production):
    alarm = alarms(production)["no-workers-with-backlog"]
    by_id = queries(alarm)
    assert by_id["in_service"]["metric"]["dimensions"] == {"AutoScalingGroupName": GROUP}
    expression = by_id["stranded"]["expression"]
    assert evaluate_expression(expression, {"visible": 40, "in_service": 0}) > alarm["threshold"]
    assert evaluate_expression(expression, {"visible": 40, "in_service": None}) > alarm["threshold"]
    assert evaluate_expression(expression, {"visible": 40, "in_service": 2}) <= alarm["threshold"]
    assert evaluate_expression(expression, {"visible": 0, "in_service": 0}) <= alarm["threshold"]


def test_success_rate_and_dlq_growth(production):
    found = alarms(production)
    rate = queries(found["success-rate-low"])
    assert rate["processed"]["metric"]["namespace"] == "CISFileSearch/Worker"
    assert evaluate_expression(rate["success_rate"]["expression"], {"processed": 90, "failed": 10}) < 95
    assert evaluate_expression(rate["success_rate"]["expression"], {"processed": 99, "failed": 1}) >= 95
    assert evaluate_expression(rate["success_rate"]["expression"], {"processed": 0, "failed": 0}) >= 95
    growth = queries(found["dlq-growing-fast"])
    assert growth["dlq"]["metric"]["dimensions"] == {"QueueName": DLQ}
    assert growth["growth"]["expression"] == "DIFF(dlq)"
    assert found["dlq-growing-fast"]["threshold"] == 10


def test_rollout_alarms_feed_the_instance_refresh(production):
    preferences = one(production, "aws:autoscaling/group:Group", "workers-group").inputs["instanceRefresh"][
        "preferences"
    ]
    assert preferences["alarmSpecification"]["alarms"] == [
        f"{PREFIX}-dlq-growing-fast",
        f"{PREFIX}-delete-failures",
        f"{PREFIX}-message-loop",
    ]


AWS_METRICS = {
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    ("AWS/SQS", "ApproximateNumberOfMessagesNotVisible"),
    ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
    ("AWS/AutoScaling", "GroupInServiceInstances"),
}
WORKER_METRICS = {
    value for name, value in vars(worker_metrics).items() if name.isupper() and isinstance(value, str)
}


def test_dashboard_is_json_and_names_only_metrics_that_exist(production):
    dashboard = one(production, "aws:cloudwatch/dashboard:Dashboard", "alarms-dashboard")
    body = json.loads(dashboard.inputs["dashboardBody"])
    titles = [widget["properties"]["title"] for widget in body["widgets"]]
    assert len(titles) == 6
    named = set()
    for widget in body["widgets"]:
        assert widget["properties"]["region"] == "ap-northeast-1"
        for metric in widget["properties"]["metrics"]:
            if isinstance(metric[0], str):
                named.add((metric[0], metric[1]))
    emitted = AWS_METRICS | {("CISFileSearch/Worker", name) for name in WORKER_METRICS}
    assert named <= emitted
    assert ("CISFileSearch/Worker", "MessageDeleteFailed") in named
    assert production.outputs["dashboardName"] == PREFIX


def test_production_passes_the_gate_with_the_dlq_alarm_mandatory(production):
    policies = load_policies()
    config = load_pack_config(REPO_ROOT / "policy" / "config.production.json", policies)
    assert config["dlq-is-alarmed"]["enforcementLevel"] == "mandatory"
    result = evaluate(production.resources, policies, config)
    assert result.violations == []
    without_alarm = [r for r in production.resources if not r.name.endswith("dlq-has-messages")]
    failed = evaluate(without_alarm, policies, config).mandatory_violations
    assert [v.policy for v in failed] == ["dlq-is-alarmed"]


def test_the_alarm_topic_uses_a_customer_managed_key_that_cloudwatch_may_use(production):
    topic = one(production, "aws:sns/topic:Topic", "alarms-topic").inputs
    key = one(production, "aws:kms/key:Key", "alarms-topic-key")
    assert topic["kmsMasterKeyId"] == key.outputs["arn"]
    assert not topic["kmsMasterKeyId"].startswith("alias/aws/")  # AWS-managed keys cannot admit CloudWatch
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    cloudwatch = statements["CloudWatchAlarmsPublishToTheEncryptedTopic"]
    assert cloudwatch["Effect"] == "Allow"
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "Condition" not in cloudwatch  # a condition CloudWatch's request lacks would drop every alarm
    admin = statements["AccountAdministersTheKey"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:root"}
    assert admin["Action"] == "kms:*"
    alias = one(production, "aws:kms/alias:Alias", "alarms-topic-key-alias").inputs
    assert alias["targetKeyId"] == key.outputs["arn"]
    assert alias["name"] == f"alias/{PREFIX}-alarms"

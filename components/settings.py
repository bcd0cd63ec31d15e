"""The stack's settings: typed, validated objects built once from `pulumi.Config`.

Every number the pipeline depends on (processing time, visibility, receive count, retention) is read
here once and flows from here into resources and the workers' environment. The components take these
objects as they are, so a value is validated once. Defaults live in the config schema of
`Pulumi.yaml`, so this module holds the rules, not the values; names left empty there derive from the
project and stack (`DERIVED_NAMES`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

import pulumi

from worker import contract

# Limits that AWS itself sets (SQS and S3 API references).
SQS_MAX_VISIBILITY_TIMEOUT_SECONDS = contract.SQS_MAX_VISIBILITY_SECONDS
SQS_MIN_RETENTION_SECONDS = 60
SQS_MAX_RETENTION_SECONDS = contract.MAX_MESSAGE_RETENTION_SECONDS
SQS_MAX_RECEIVE_WAIT_SECONDS = 20
SQS_MAX_RECEIVE_COUNT = 1_000
S3_BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
SQS_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# Lambda's limits (Lambda quotas page; CreateEventSourceMapping for the SQS mapping's knobs) and its
# advice for an SQS source: visibility >= 6x the function timeout
# (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
LAMBDA_SQS_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html"
LAMBDA_MAX_TIMEOUT_SECONDS = 900
LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB = 128, 10_240
LAMBDA_VISIBILITY_FACTOR = 6
LAMBDA_MIN_MAX_RECEIVE_COUNT = 5
"""AWS: for a queue a Lambda consumes, maxReceiveCount at least 5, so a batch that was received but
throttled before an invocation does not use up a message's receives (with-sqs.html)."""
LAMBDA_MAX_BATCH_WITHOUT_WINDOW = 10
LAMBDA_MAX_BATCH_SIZE = 10_000
LAMBDA_MAX_BATCHING_WINDOW_SECONDS = 300
LAMBDA_MIN_CONCURRENCY, LAMBDA_MAX_CONCURRENCY = 2, 1_000
LAMBDA_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
COMPUTE_MODES = ("ec2", "lambda")
EGRESS_MODES = ("nat", "vpc-endpoints")
"""workerNetworkEgress: a NAT path the VPC provides, or the endpoints the stack declares
(components/worker_endpoints.py)."""


class SettingsError(ValueError):
    """A setting that cannot work; the message names the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key = key
        self.value = value
        super().__init__(f"invalid setting {key}={value!r}: {allowed}")


class UnknownSettingError(ValueError):
    """A config key in the project's namespace that the program does not read (a typo, most often)."""


NOT_IN_CONFIG = {"config": False}
"""Field metadata: the field is not a config key (the project and stack come from the engine)."""

DERIVED_NAMES: dict[str, str] = {
    "environment": "{stack}",
    "upload_bucket_name": "{project}-uploads-{stack}",
    "index_bucket_name": "{project}-index-{stack}",
    "queue_name": "{project}-queue-{stack}",
    "dead_letter_queue_name": "{project}-dlq-{stack}",
    "metric_namespace": "{project}/{stack}",
    "artifacts_bucket_name": "{project}-artifacts-{stack}",
    "worker_group_name": "{project}-workers-{stack}",
    "function_name": "{project}-worker-{stack}",
}
"""Names left empty in config derive from the project and stack, so a new stack never inherits another
stack's buckets and queues. Production sets the incident's real names in Pulumi.production.yaml."""


def _safe(value: str) -> str:
    """Lower case, runs of anything but a-z, 0-9 and '-' as one '-': valid in S3 and SQS names."""
    return re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")


def derived_name(field_name: str, project: str, stack: str) -> str:
    """The default of a name setting for this project and stack."""
    return DERIVED_NAMES[field_name].format(project=_safe(project), stack=_safe(stack))


def _config_key(name: str) -> str:
    """`visibility_timeout_seconds` -> `visibilityTimeoutSeconds`, the key in Pulumi.yaml."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class PipelineSettings:
    """The settings of one stack; field names are the config keys in snake_case."""

    environment: str
    upload_bucket_name: str
    upload_prefix: str
    index_bucket_name: str
    index_prefix: str
    queue_name: str
    dead_letter_queue_name: str
    max_processing_seconds: int
    visibility_timeout_seconds: int
    max_receive_count: int
    queue_retention_seconds: int
    dead_letter_retention_seconds: int
    receive_wait_time_seconds: int
    metric_namespace: str
    project: str = field(default="", metadata=NOT_IN_CONFIG)
    stack: str = field(default="", metadata=NOT_IN_CONFIG)

    @classmethod
    def from_config(cls, config: pulumi.Config | None = None) -> PipelineSettings:
        """Read every field from the project's config (defaults come from Pulumi.yaml) and validate."""
        settings = cls(
            **_read_fields(cls, config or pulumi.Config()),
            project=pulumi.get_project(),
            stack=pulumi.get_stack(),
        )
        settings.validate()
        return settings

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def name_prefix(self) -> str:
        """`{project}-{stack}`: the prefix of the names that have no setting (alarms, topic, dashboard)."""
        return f"{_safe(self.project)}-{_safe(self.stack)}"

    def validate(self) -> None:
        """Raise SettingsError for the first setting that AWS would reject or that brings the incident back."""
        _require_range(
            "maxProcessingSeconds", self.max_processing_seconds, 1, SQS_MAX_VISIBILITY_TIMEOUT_SECONDS
        )
        _require_range(
            "visibilityTimeoutSeconds", self.visibility_timeout_seconds, 0, SQS_MAX_VISIBILITY_TIMEOUT_SECONDS
        )
        if self.visibility_timeout_seconds < self.max_processing_seconds:
            raise SettingsError(
                "visibilityTimeoutSeconds",
                self.visibility_timeout_seconds,
                f"must be >= maxProcessingSeconds ({self.max_processing_seconds}), or messages still being "
                "processed reappear and are processed twice; raise visibilityTimeoutSeconds",
            )
        _require_range("maxReceiveCount", self.max_receive_count, 2, SQS_MAX_RECEIVE_COUNT)
        for key, value in (
            ("queueRetentionSeconds", self.queue_retention_seconds),
            ("deadLetterRetentionSeconds", self.dead_letter_retention_seconds),
        ):
            _require_range(key, value, SQS_MIN_RETENTION_SECONDS, SQS_MAX_RETENTION_SECONDS)
        if self.dead_letter_retention_seconds <= self.queue_retention_seconds:
            raise SettingsError(
                "deadLetterRetentionSeconds",
                self.dead_letter_retention_seconds,
                f"must be longer than queueRetentionSeconds ({self.queue_retention_seconds}), or a message can "
                "expire in the dead-letter queue before anyone looks at it",
            )
        _require_range(
            "receiveWaitTimeSeconds", self.receive_wait_time_seconds, 1, SQS_MAX_RECEIVE_WAIT_SECONDS
        )
        for key, name in (
            ("uploadBucketName", self.upload_bucket_name),
            ("indexBucketName", self.index_bucket_name),
        ):
            if not S3_BUCKET_NAME.match(name):
                raise SettingsError(
                    key,
                    name,
                    "must be a valid S3 bucket name (3-63 of a-z, 0-9, '.', '-'); set it in the stack's config",
                )
        for key, name in (
            ("queueName", self.queue_name),
            ("deadLetterQueueName", self.dead_letter_queue_name),
        ):
            if not SQS_QUEUE_NAME.match(name):
                raise SettingsError(
                    key, name, "must be a valid SQS queue name (1-80 of A-Z, a-z, 0-9, '-', '_')"
                )
        if self.queue_name == self.dead_letter_queue_name:
            raise SettingsError(
                "deadLetterQueueName", self.dead_letter_queue_name, "must differ from queueName"
            )
        if (
            not self.upload_prefix
            or not self.upload_prefix.endswith("/")
            or self.upload_prefix.startswith("/")
        ):
            raise SettingsError(
                "uploadPrefix",
                self.upload_prefix,
                'must be a non-empty key prefix ending with "/", e.g. "uploads/"',
            )
        if self.index_bucket_name == self.upload_bucket_name:
            raise SettingsError(
                "indexBucketName",
                self.index_bucket_name,
                "must differ from uploadBucketName, so worker output can never trigger the pipeline again",
            )


@dataclass(frozen=True)
class FleetSettings:
    """The worker fleet's settings; its timeouts and names come from PipelineSettings, not from here."""

    artifacts_bucket_name: str
    worker_group_name: str
    instance_type: str
    ami_ssm_parameter: str
    private_subnet_ids: list[str]
    private_subnet_tag: str
    worker_network_egress: str
    private_route_table_ids: list[str]
    min_workers: int
    desired_workers: int
    max_workers: int
    worker_concurrency: int
    backlog_per_instance_target: int
    canary_checkpoint_delay_seconds: int
    instance_warmup_seconds: int

    @classmethod
    def from_config(cls, config: pulumi.Config | None = None) -> FleetSettings:
        settings = cls(**_read_fields(cls, config or pulumi.Config()))
        settings.validate()
        return settings

    @property
    def subnet_tag(self) -> tuple[str, str]:
        key, _, value = self.private_subnet_tag.partition("=")
        return key, value

    @property
    def uses_vpc_endpoints(self) -> bool:
        return self.worker_network_egress == "vpc-endpoints"

    @property
    def canary_percentage(self) -> int:
        """One instance's share of the desired capacity: the first checkpoint of a refresh."""
        return max(1, math.ceil(100 / self.desired_workers))

    def validate(self) -> None:
        if not S3_BUCKET_NAME.match(self.artifacts_bucket_name):
            raise SettingsError(
                "artifactsBucketName", self.artifacts_bucket_name, "must be a valid S3 bucket name"
            )
        _require_range("minWorkers", self.min_workers, 0, 1000)
        _require_range("maxWorkers", self.max_workers, max(1, self.min_workers), 1000)
        if not self.min_workers <= self.desired_workers <= self.max_workers:
            raise SettingsError(
                "desiredWorkers",
                self.desired_workers,
                f"must lie between minWorkers ({self.min_workers}) and maxWorkers ({self.max_workers})",
            )
        _require_range("workerConcurrency", self.worker_concurrency, 1, 64)
        _require_range("backlogPerInstanceTarget", self.backlog_per_instance_target, 1, 10_000)
        _require_range("canaryCheckpointDelaySeconds", self.canary_checkpoint_delay_seconds, 0, 172_800)
        _require_range("instanceWarmupSeconds", self.instance_warmup_seconds, 0, 3_600)
        if "=" not in self.private_subnet_tag and not self.private_subnet_ids:
            raise SettingsError(
                "privateSubnetTag",
                self.private_subnet_tag,
                'must be Key=Value (e.g. "Tier=private") when privateSubnetIds is empty',
            )
        for subnet in self.private_subnet_ids:
            if not re.match(r"^subnet-[0-9a-f]{8,17}$", subnet):
                raise SettingsError(
                    "privateSubnetIds", subnet, "each entry must be a subnet id (subnet-0123abcd...)"
                )
        if self.worker_network_egress not in EGRESS_MODES:
            raise SettingsError(
                "workerNetworkEgress", self.worker_network_egress, f"must be one of {', '.join(EGRESS_MODES)}"
            )
        for route_table in self.private_route_table_ids:
            if not re.match(r"^rtb-[0-9a-f]{8,17}$", route_table):
                raise SettingsError(
                    "privateRouteTableIds",
                    route_table,
                    "each entry must be a route table id (rtb-0123abcd...)",
                )


@dataclass(frozen=True)
class ComputeSettings:
    """What consumes the work queue: the EC2 fleet (FleetSettings) or a Lambda function mapped to it.

    The Lambda knobs are read and range-checked in both modes (a typo fails early); the rules that tie
    them to the queue (visibility >= 6x the function timeout) apply only in lambda mode.
    """

    compute: str
    lambda_timeout_seconds: int
    lambda_memory_mb: int
    lambda_batch_size: int
    lambda_batching_window_seconds: int
    lambda_maximum_concurrency: int
    function_name: str = field(default="", metadata=NOT_IN_CONFIG)

    @classmethod
    def from_config(cls, pipeline: PipelineSettings, config: pulumi.Config | None = None) -> ComputeSettings:
        """Read the compute keys and validate them against the pipeline's queue settings."""
        settings = cls(
            **_read_fields(cls, config or pulumi.Config()),
            function_name=derived_name("function_name", pipeline.project, pipeline.stack),
        )
        settings.validate(pipeline)
        return settings

    @property
    def is_lambda(self) -> bool:
        return self.compute == "lambda"

    def validate(self, pipeline: PipelineSettings) -> None:
        """Raise SettingsError for the first compute setting Lambda would reject or that would loop messages."""
        if self.compute not in COMPUTE_MODES:
            raise SettingsError("compute", self.compute, f"must be one of {', '.join(COMPUTE_MODES)}")
        _require_range("lambdaTimeoutSeconds", self.lambda_timeout_seconds, 1, LAMBDA_MAX_TIMEOUT_SECONDS)
        _require_range("lambdaMemoryMb", self.lambda_memory_mb, LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB)
        _require_range(
            "lambdaBatchingWindowSeconds",
            self.lambda_batching_window_seconds,
            0,
            LAMBDA_MAX_BATCHING_WINDOW_SECONDS,
        )
        _require_range("lambdaBatchSize", self.lambda_batch_size, 1, LAMBDA_MAX_BATCH_SIZE)
        if (
            self.lambda_batch_size > LAMBDA_MAX_BATCH_WITHOUT_WINDOW
            and self.lambda_batching_window_seconds < 1
        ):
            raise SettingsError(
                "lambdaBatchSize",
                self.lambda_batch_size,
                f"a batch larger than {LAMBDA_MAX_BATCH_WITHOUT_WINDOW} needs a batching window: set "
                "lambdaBatchingWindowSeconds to 1..300, or lambdaBatchSize to 10 or less (Lambda rejects it "
                "otherwise; https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html)",
            )
        _require_range(
            "lambdaMaximumConcurrency",
            self.lambda_maximum_concurrency,
            LAMBDA_MIN_CONCURRENCY,
            LAMBDA_MAX_CONCURRENCY,
        )
        if not self.is_lambda:
            return
        if not LAMBDA_FUNCTION_NAME.match(self.function_name):
            raise SettingsError(
                "function name",
                self.function_name,
                "the name derived from the project and stack must be 1-64 of A-Z, a-z, 0-9, '-', '_'; "
                "use a shorter stack name",
            )
        if self.lambda_timeout_seconds < pipeline.max_processing_seconds:
            raise SettingsError(
                "lambdaTimeoutSeconds",
                self.lambda_timeout_seconds,
                f"must be >= maxProcessingSeconds ({pipeline.max_processing_seconds}), or the function is "
                "stopped before the longest file is done; raise lambdaTimeoutSeconds (at most "
                f"{LAMBDA_MAX_TIMEOUT_SECONDS}) or lower maxProcessingSeconds",
            )
        required = LAMBDA_VISIBILITY_FACTOR * self.lambda_timeout_seconds
        if pipeline.visibility_timeout_seconds < required:
            raise SettingsError(
                "visibilityTimeoutSeconds",
                pipeline.visibility_timeout_seconds,
                f"in lambda mode must be >= {LAMBDA_VISIBILITY_FACTOR} x lambdaTimeoutSeconds "
                f"({LAMBDA_VISIBILITY_FACTOR} x {self.lambda_timeout_seconds} = {required}), so Lambda can retry a "
                f"throttled batch before the message reappears ({LAMBDA_SQS_DOC}); set visibilityTimeoutSeconds "
                f"to {required} or more (at most {SQS_MAX_VISIBILITY_TIMEOUT_SECONDS}), or lower lambdaTimeoutSeconds",
            )
        fitting = self.lambda_timeout_seconds // pipeline.max_processing_seconds
        if self.lambda_batch_size > fitting:
            raise SettingsError(
                "lambdaBatchSize",
                self.lambda_batch_size,
                f"in lambda mode a batch must fit one invocation at the longest processing time: "
                f"{self.lambda_batch_size} x maxProcessingSeconds ({pipeline.max_processing_seconds}) is more than "
                f"lambdaTimeoutSeconds ({self.lambda_timeout_seconds}); the handler works a batch's records one "
                "by one and hands back those it could not start, and every hand-back spends one of the "
                "message's receives, so files would reach the DLQ without ever being processed; set "
                f"lambdaBatchSize to at most {fitting}, or lower maxProcessingSeconds",
            )
        if pipeline.max_receive_count < LAMBDA_MIN_MAX_RECEIVE_COUNT:
            raise SettingsError(
                "maxReceiveCount",
                pipeline.max_receive_count,
                f"in lambda mode must be >= {LAMBDA_MIN_MAX_RECEIVE_COUNT}: a message the event source mapping "
                "received but could not hand to a throttled function counts as a receive, and AWS asks for at "
                f"least {LAMBDA_MIN_MAX_RECEIVE_COUNT} so such messages are not dead-lettered unprocessed "
                f"({LAMBDA_SQS_DOC}); set maxReceiveCount to {LAMBDA_MIN_MAX_RECEIVE_COUNT} or more",
            )


@dataclass(frozen=True)
class AlarmSettings:
    """Thresholds of the alarms; each one documented in Pulumi.yaml."""

    alarm_emails: list[str]
    oldest_message_age_threshold_seconds: int
    backlog_threshold: int
    backlog_sustained_minutes: int
    dlq_growth_per_five_minutes: int
    loop_receive_to_delete_ratio: int
    loop_minimum_receives: int
    success_rate_percent_threshold: int

    @classmethod
    def from_config(cls, config: pulumi.Config | None = None) -> AlarmSettings:
        settings = cls(**_read_fields(cls, config or pulumi.Config()))
        settings.validate()
        return settings

    def validate(self) -> None:
        _require_range(
            "oldestMessageAgeThresholdSeconds",
            self.oldest_message_age_threshold_seconds,
            60,
            SQS_MAX_RETENTION_SECONDS,
        )
        _require_range("backlogThreshold", self.backlog_threshold, 1, 10_000_000)
        _require_range("backlogSustainedMinutes", self.backlog_sustained_minutes, 1, 1440)
        _require_range("dlqGrowthPerFiveMinutes", self.dlq_growth_per_five_minutes, 0, 1_000_000)
        _require_range("loopReceiveToDeleteRatio", self.loop_receive_to_delete_ratio, 2, 1000)
        _require_range("loopMinimumReceives", self.loop_minimum_receives, 1, 1_000_000)
        _require_range("successRatePercentThreshold", self.success_rate_percent_threshold, 1, 100)
        for email in self.alarm_emails:
            if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
                raise SettingsError("alarmEmails", email, "each entry must be an e-mail address")


SETTINGS_CLASSES: tuple[type, ...] = (PipelineSettings, ComputeSettings, FleetSettings, AlarmSettings)
"""Every object the program reads config into: together their fields are every key the program knows."""


def known_config_keys() -> list[str]:
    """The camelCase keys the program reads, sorted (each one declared in Pulumi.yaml's config schema)."""
    return sorted(
        _config_key(setting.name)
        for cls in SETTINGS_CLASSES
        for setting in fields(cls)
        if setting.metadata.get("config", True) is not False
    )


def given_config_keys() -> set[str]:
    """Every full config key handed to the program: set in-process (`set_all_config`, as the offline
    preview does under mocks) or in `PULUMI_CONFIG`, as the CLI's Python language host passes it."""
    return set(pulumi.runtime.config.CONFIG.get()) | set(pulumi.runtime.get_config_env())


def reject_unknown_keys(given: Iterable[str], project: str) -> None:
    """A key in the project's namespace that no setting reads is a typo or a setting of another version:
    it would silently keep the default, so it is an error naming the nearest known key. The Pulumi CLI
    refuses such a key too when Pulumi.yaml declares a config schema ("Stack uses configuration value
    which is not defined by the project configuration",
    https://www.pulumi.com/docs/iac/concepts/projects/project-file/); this check also holds where the
    program runs without the CLI, and says which key was meant. Keys of other namespaces (`aws:region`)
    belong to providers and are not the program's to judge."""
    known = known_config_keys()
    prefix = f"{project}:"
    unknown = sorted(key[len(prefix) :] for key in given if key.startswith(prefix))
    unknown = [key for key in unknown if key not in known]
    if not unknown:
        return
    hints = []
    for key in unknown:
        nearest = difflib.get_close_matches(key, known, n=1)
        hints.append(f"{prefix}{key}" + (f" (did you mean {nearest[0]}?)" if nearest else ""))
    raise UnknownSettingError(
        f"unknown setting {', '.join(hints)}: the program reads no such key and would silently keep the "
        "default; every setting is declared in Pulumi.yaml's config schema (docs/configuration.md)"
    )


def _read_fields(cls: type, config: pulumi.Config) -> dict[str, object]:
    """Each dataclass field from its camelCase config key, typed by the field's annotation; a name
    left empty (or unset) derives from the project and stack (`DERIVED_NAMES`)."""
    values: dict[str, object] = {}
    for setting in fields(cls):
        if setting.metadata.get("config", True) is False:
            continue
        key = _config_key(setting.name)
        try:
            if setting.type == "int":
                values[setting.name] = config.require_int(key)
            elif setting.type == "list[str]":
                values[setting.name] = [str(item) for item in config.require_object(key)]
            elif setting.name in DERIVED_NAMES:
                values[setting.name] = config.get(key) or derived_name(
                    setting.name, pulumi.get_project(), pulumi.get_stack()
                )
            else:
                values[setting.name] = config.require(key)
        except pulumi.ConfigTypeError as error:
            expected = "a whole number" if setting.type == "int" else "a list"
            raise SettingsError(key, config.get(key), f"must be {expected}") from error
    return values


def _require_range(key: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise SettingsError(key, value, f"allowed range is {low}..{high}")

"""Monthly cost of each compute mode for a traffic profile: line items priced from the dated prices file.

What the model assumes (docs/cost.md says the same, with the reasons):
- A month is 730 hours (AWS's billing month); traffic is steady through it (no peaks).
- ec2: instances = ceil(busy slot-seconds / (86,400 x concurrency x target utilisation)), bounded by
  the group's min and max (the backlog-per-instance policy scales between them); each instance runs
  all month with its root volume. SQS, as worker/consumer.py calls it: steady traffic leaves no
  backlog, so a receive returns the messages that arrived within about 50 ms (at most the free slots
  plus the prefetch allowance, which is none for jobs longer than PREFETCH_MAX_WAIT_SECONDS x
  concurrency) and a delete batches what finished within 50 ms: about two requests a message below
  tens of files a second per instance (bench.worker's 0.2 is the floor under a backlog); empty
  long-poll receives while an instance's receiver waits on an empty queue; at most one heartbeat
  (ChangeMessageVisibilityBatch) per instance per heartbeat interval while busy.
- lambda: one invocation per record without a batching window (at these rates a batch rarely fills),
  batches of `batch_size` with one; GB-seconds = finishing invocations x their seconds (the fitted
  mean below the timeout, rounded up to the ms as Lambda bills) x memory. The event source
  mapping's pollers are billed SQS requests: a receive and a delete per batch plus empty long polls
  of its idle pollers. Files slower than the timeout cannot finish: every attempt runs to the timeout
  until maxReceiveCount sends them to the DLQ; their share comes from a log-normal fitted to the
  mean and p99. Logs: bytes per invocation ingested into CloudWatch Logs.
- ec2 egress (the workers sit in private subnets; docs/cost.md): `nat-shared` - the VPC's NAT gateway
  exists anyway, so only its per-GB processing counts (uploads, index documents and API calls all go
  through it: the nat stack declares no S3 gateway endpoint); `nat-dedicated` - one gateway per
  Availability Zone for this fleet, hours and GB; `vpc-endpoints` - the stack's interface endpoints, per
  hour per zone, and the API calls' GB (S3 goes through the gateway endpoint, free). lambda runs outside
  a VPC and needs neither.
- Purchase option: On-Demand, or a 1-year Compute Savings Plan covering the EC2 fleet's hours and the
  function's GB-seconds (requests are not discounted).
- Relative speed: how many times faster a function processes a file than one EC2 worker slot; 1 means
  the same seconds in both modes (I/O-bound work), the vCPU ratio means CPU-bound work.
- Both: one SQS SendMessage per file (the S3 notification, payload < 64 KB), one S3 GET (the upload)
  and one S3 PUT (the index document) per file, the stack's alarms per metric they read, the worker's
  custom metrics every hour of the month.

AWS pages: SQS bills each 64 KB chunk as a request and empty receives too
(https://aws.amazon.com/sqs/pricing/, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/best-practices-using-appropriate-polling-mode.html);
the event source mapping polls the queue with the account's SQS requests
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html); Lambda bills requests and GB-seconds
(https://aws.amazon.com/lambda/pricing/); CloudWatch bills alarms per metric and custom metrics per
metric-month, pro-rated by the hour (https://aws.amazon.com/cloudwatch/pricing/).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path
from statistics import NormalDist
from typing import Any

from bench.cost_settings import Ec2Settings, LambdaSettings

PRICES_FILE = Path(__file__).with_name("prices_ap_northeast_1.json")
HOURS_PER_MONTH = 730.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
SQS_CHUNK_KB = 64
S3_EVENT_MESSAGE_KB = 2.0
"""An S3 event notification body is about 1-2 KB: one 64 KB chunk per message, ten per batch."""
SQS_MAX_BATCH = 10
SAME_CALL_WINDOW_SECONDS = 0.05
"""Messages closer together than this share a call: the worker's DeleteBatcher sends what finished
within 50 ms as one DeleteMessageBatch, and a receive (which returns as soon as a message is there)
takes what arrived during its round trip, of the same order."""
HEARTBEAT_FRACTION_OF_VISIBILITY = 1 / 3
"""The worker extends in-flight messages every third of the visibility timeout (worker/config.py)."""
ESM_IDLE_POLLERS = 5
"""Assumed: pollers an SQS event source mapping keeps long-polling an idle queue (AWS does not
publish the number; five is the batch concurrency Lambda starts with). That they are billed is AWS's:
"even if the SQS queue isn't used, [the Lambda mapping] results in empty receives and associated
charges" (https://aws.amazon.com/premiumsupport/knowledge-center/sqs-high-charges/)."""
ESM_WAIT_SECONDS = 20
LAMBDA_LOG_BYTES_PER_INVOCATION = 1500
"""Assumed: START/END/REPORT lines, one EMF metrics line and the handler's outcome log line."""
Z_99 = NormalDist().inv_cdf(0.99)
P99_SHARE = 0.01
"""Files above the p99: at least this share exceeds a timeout below the p99."""
WARN_SHARE = 0.0005
"""Files slower than the timeout are worth a warning from one in 2,000 (or whenever p99 is above it)."""
LAMBDA_MAX_TIMEOUT_SECONDS = 900
LAMBDA_ONE_VCPU_MB = 1769
"""Lambda allocates CPU in proportion to memory, one vCPU at 1,769 MB
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html)."""
"""Lambda's largest function timeout (Lambda quotas: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)."""


EGRESS_CHOICES = ("nat-shared", "nat-dedicated", "vpc-endpoints")
PURCHASE_OPTIONS = ("on-demand", "savings-plan")
ARCHITECTURES = ("x86_64", "arm64")
INDEX_DOCUMENT_KB = 64.0
"""Assumed: an index document (worker/indexer.py: the extracted text, at most 1,000,000 characters)."""
API_KB_PER_FILE = 16.0
"""Assumed: the SQS, CloudWatch and Auto Scaling request and response bytes per file (HTTPS headers,
the ~2 KB event body received, deleted, extended)."""
INSTANCE_VCPUS = {"m6i.large": 2, "m5.large": 2}
"""vCPUs of the instance types priced (https://aws.amazon.com/ec2/instance-types/m6i/, .../m5/)."""


@dataclass(frozen=True)
class Assumptions:
    """What the break-even depends on beyond the stack and the profile; each one a bench.cost flag."""

    egress: str = "nat-shared"
    lambda_architecture: str | None = None
    """None: the lambda stack's architecture."""
    relative_speed: float = 1.0
    purchase: str = "on-demand"

    def describe(self, lambda_architecture: str) -> str:
        return (
            f"egress={self.egress}, lambda={self.lambda_architecture or lambda_architecture}, "
            f"relative speed={self.relative_speed:g}, purchase={self.purchase}"
        )


def vcpu_speed_ratio(ec2: Ec2Settings, lam: LambdaSettings) -> float | None:
    """CPU-bound speed of a function over an EC2 slot: a single-threaded file gets min(1, memory/1769) of
    a vCPU in Lambda and the instance's vCPUs shared by its concurrent slots on EC2. None: type unknown."""
    vcpus = INSTANCE_VCPUS.get(ec2.instance_type)
    if vcpus is None:
        return None
    return min(1.0, lam.memory_mb / LAMBDA_ONE_VCPU_MB) / min(1.0, vcpus / ec2.concurrency)


class PriceError(Exception):
    """The prices file lacks a price the stack needs (an instance or volume type); names the fix."""


@dataclass(frozen=True)
class Profile:
    files_per_day: float
    mean_size_mb: float
    mean_seconds: float
    p99_seconds: float
    utilisation: float = 0.7

    def with_files(self, files_per_day: float) -> Profile:
        return Profile(**{**asdict(self), "files_per_day": files_per_day})


@dataclass(frozen=True)
class LineItem:
    item: str
    quantity: float
    unit: str
    unit_price_usd: float
    per: float = 1
    """How the price is quoted (per 1,000,000 requests, per 1,000, per 1): for display only."""
    source: dict[str, Any] | None = None
    """Where the price comes from: its key, status (sourced or assumed), pricing page, date and note."""

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_price_usd


@dataclass
class ModeCost:
    mode: str
    items: list[LineItem]
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def total_usd(self) -> float:
        return sum(item.monthly_usd for item in self.items)


class Prices:
    """The dated prices file: `unit(key, variant)` is USD per one unit."""

    def __init__(self, data: dict[str, Any], path: Path = PRICES_FILE) -> None:
        self.data, self.path = data, path
        self._sources: dict[tuple[str, str | None], dict[str, Any]] = {}
        """Each price's provenance, read once: the break-even search prices both modes thousands of times."""

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> Prices:
        """The file, checked: a price the model reads that is missing, not a finite non-negative number,
        or undated fails here with the file, the key and the fix, not as a KeyError mid-estimate."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise PriceError(
                f"--prices {path}: cannot be read ({error.strerror}); give the prices file, e.g. "
                f"--prices bench/{PRICES_FILE.name}"
            ) from None
        except json.JSONDecodeError as error:
            raise PriceError(
                f"{path}: not valid JSON ({error}); fix the file or give another with --prices"
            ) from None
        if not isinstance(data, dict):
            raise PriceError(
                f"{path}: the top level is not a JSON object; see {PRICES_FILE.name} for the layout"
            )
        for key in ("region", "as_of"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise PriceError(f'{path}: no {key!r}; add it (e.g. "{key}": "{_EXAMPLE[key]}")')
        _date(path, "as_of", data["as_of"])
        prices = data.get("prices")
        if not isinstance(prices, dict):
            raise PriceError(f"{path}: no 'prices' object; see {PRICES_FILE.name} for the layout")
        for key, variants in REQUIRED_PRICES.items():
            entry = prices.get(key)
            if not isinstance(entry, dict):
                raise PriceError(
                    f"{path}: no {key!r} price; add it in {data['region']} with its usd, per, unit, url and as_of"
                )
            for variant, value in entry.items() if variants else [(None, entry)]:
                _check_entry(path, key if variant is None else f"{key}[{variant}]", value)
        return cls(data, path)

    def entry(self, key: str, variant: str | None = None) -> dict[str, Any]:
        entry = self.data["prices"][key]
        if variant is None:
            return entry
        if variant not in entry:
            known = ", ".join(sorted(entry))
            raise PriceError(
                f"{self.path.name} has no {key} price for {variant!r} (it has: {known}); add an entry for "
                f"{variant} in ap-northeast-1 with its usd, unit, url and as_of"
            )
        return entry[variant]

    def unit(self, key: str, variant: str | None = None) -> float:
        entry = self.entry(key, variant)
        return float(entry["usd"]) / float(entry["per"])

    def quote(self, key: str, variant: str | None = None) -> tuple[float, float, dict[str, Any]]:
        """(USD per one unit, the quantity the page quotes it for, its source): a LineItem's last fields."""
        entry = self.entry(key, variant)
        if (key, variant) not in self._sources:
            self._sources[key, variant] = price_source(key, variant, entry)
        return self.unit(key, variant), float(entry["per"]), dict(self._sources[key, variant])


def price_source(key: str, variant: str | None, entry: dict[str, Any]) -> dict[str, Any]:
    """A price's provenance as the table and --json show it; a sourced price names the page it came from."""
    note = str(entry.get("source_note", ""))
    found = re.search(r"https?://[^\s),;']+", note)
    return {
        "price": key if variant is None else f"{key}[{variant}]",
        "status": entry.get("status", "unstated"),
        "source": found.group(0) if entry.get("status") == "sourced" and found else None,
        "as_of": entry.get("as_of"),
        "pricing_page": entry.get("url"),
        "note": note,
    }


REQUIRED_PRICES = {
    "sqs_request": False,
    "ec2_instance_hour": True,
    "ebs_gb_month": True,
    "lambda_request": False,
    "lambda_gb_second": True,
    "s3_put_request": False,
    "s3_get_request": False,
    "cloudwatch_alarm_month": False,
    "cloudwatch_metric_month": False,
    "cloudwatch_api_request": False,
    "cloudwatch_logs_ingested_gb": False,
    "ec2_instance_hour_savings_plan": True,
    "lambda_gb_second_savings_plan": True,
    "nat_gateway_hour": False,
    "nat_gateway_gb": False,
    "vpc_interface_endpoint_hour": False,
    "vpc_interface_endpoint_gb": False,
}
"""The prices the model reads; True: keyed by a variant (instance type, volume type, architecture)."""
_EXAMPLE = {"region": "ap-northeast-1", "as_of": "2026-11-29"}


def _date(path: Path, key: str, text: object) -> None:
    try:
        date.fromisoformat(str(text))
    except ValueError:
        raise PriceError(
            f"{path}: {key} {text!r} is not a date; give the day the price was read as YYYY-MM-DD"
        ) from None


def _check_entry(path: Path, key: str, entry: object) -> None:
    if not isinstance(entry, dict):
        raise PriceError(f"{path}: {key} is not an object with usd, per, unit, url and as_of")
    for field_name, low in (("usd", 0.0), ("per", 1.0)):
        value = entry.get(field_name)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < low
        ):
            raise PriceError(
                f"{path}: {key} {field_name} is {value!r}; give a finite number of at least {low:g} "
                f"(usd: the price, per: the quantity it is quoted for, e.g. 1000000 for per million)"
            )
    if entry.get("status") not in ("sourced", "assumed") or not entry.get("source_note"):
        raise PriceError(
            f'{path}: {key} status is {entry.get("status")!r}; give "status": "sourced" (with the source\'s '
            f'URL and date in source_note) or "assumed" (with the reason in source_note)'
        )
    if "as_of" not in entry:
        raise PriceError(
            f'{path}: {key} has no as_of; add the day the price was read, e.g. "as_of": "2026-11-29"'
        )
    _date(path, f"{key} as_of", entry["as_of"])


def share_above(profile: Profile, seconds: float) -> float | None:
    """Share of files slower than `seconds`, from a log-normal with the profile's mean and p99.

    None when no log-normal has that mean and p99 (p99 more than e^(z99^2/2) ~ 15 times the mean).
    """
    fit = lognormal(profile)
    if fit is None:
        return None
    mu, sigma = fit
    if sigma == 0:
        return 0.0 if seconds >= profile.mean_seconds else 1.0
    return 1 - NormalDist(mu, sigma).cdf(math.log(seconds))


def lognormal(profile: Profile) -> tuple[float, float] | None:
    """(mu, sigma) of the log-normal with the profile's mean and p99; None when none has them."""
    ratio = math.log(profile.p99_seconds / profile.mean_seconds)
    discriminant = Z_99**2 - 2 * ratio
    if discriminant < 0:
        return None
    sigma = Z_99 - math.sqrt(discriminant)
    return math.log(profile.mean_seconds) - sigma**2 / 2, sigma


def mean_below(profile: Profile, seconds: float) -> float:
    """Mean processing time of the files that finish within `seconds`: the fitted log-normal's mean
    below it (E[X | X < t] = e^(mu + sigma^2/2) Phi((ln t - mu - sigma^2)/sigma) / Phi((ln t - mu)/sigma)).

    Billing finishing files at the overall mean would bill them past the timeout when the mean is
    above it (a Lambda invocation is billed at most its timeout). Without a fit: min(mean, seconds).
    """
    fit = lognormal(profile)
    if fit is None:
        return min(profile.mean_seconds, seconds)
    mu, sigma = fit
    if sigma == 0:
        return min(profile.mean_seconds, seconds)
    below = NormalDist().cdf((math.log(seconds) - mu) / sigma)
    if below < 1e-12:
        return seconds  # (almost) nothing finishes: the figure multiplies a share of about 0
    partial = math.exp(mu + sigma**2 / 2) * NormalDist().cdf((math.log(seconds) - mu - sigma**2) / sigma)
    return min(partial / below, seconds)


def billed_seconds(seconds: float) -> float:
    """Lambda bills an invocation's duration rounded up to the millisecond (no minimum beyond that):
    https://aws.amazon.com/blogs/aws/new-for-aws-lambda-1ms-billing-granularity-adds-cost-savings/
    (rounding the mean, not each invocation: off by under 1 ms an invocation)."""
    return math.ceil(seconds * 1000 - 1e-9) / 1000


def common_items(profile: Profile, prices: Prices, alarm_metrics: int, custom_metrics: int) -> list[LineItem]:
    files = profile.files_per_day * DAYS_PER_MONTH
    return [
        LineItem("SQS SendMessage (S3 notifications)", files, "requests", *prices.quote("sqs_request")),
        LineItem("S3 GET (the upload)", files, "requests", *prices.quote("s3_get_request")),
        LineItem("S3 PUT (the index document)", files, "requests", *prices.quote("s3_put_request")),
        LineItem(
            "CloudWatch alarms", alarm_metrics, "alarm metric-months", *prices.quote("cloudwatch_alarm_month")
        ),
        LineItem(
            "CloudWatch custom metrics",
            custom_metrics,
            "metric-months",
            *prices.quote("cloudwatch_metric_month"),
        ),
    ]


def timeout_warning(
    mode: str, what: str, timeout: float, profile: Profile, fix: str
) -> tuple[float, str | None]:
    """(share of files slower than `timeout`, a warning when it matters). When no log-normal fits and
    p99 is above the timeout, the share is 1%: the least such a p99 implies (0 would price none)."""
    share = share_above(profile, timeout)
    if share is None:
        if profile.p99_seconds <= timeout:
            return 0.0, None
        return P99_SHARE, (
            f"{mode}: p99 {profile.p99_seconds:g} s is above the {what} {timeout:g} s: at least 1% of files "
            f"cannot finish, priced as 1% (no log-normal has this mean and p99, so no closer share; {fix})"
        )
    if share < WARN_SHARE and profile.p99_seconds <= timeout:
        return share, None
    return share, (
        f"{mode}: about {share:.2%} of files take longer than the {what} {timeout:g} s (log-normal fitted to "
        f"mean {profile.mean_seconds:g} s, p99 {profile.p99_seconds:g} s): every attempt runs to the timeout "
        f"and they reach the DLQ after maxReceiveCount attempts ({fix})"
    )


def egress_items(settings: Ec2Settings, profile: Profile, prices: Prices, egress: str) -> list[LineItem]:
    """What the fleet's path to the AWS APIs costs (Lambda outside a VPC needs none)."""
    files = profile.files_per_day * DAYS_PER_MONTH
    api_gb = files * API_KB_PER_FILE / 1024**2
    s3_gb = files * (profile.mean_size_mb * 1024 + INDEX_DOCUMENT_KB) / 1024**2
    zones = settings.availability_zones
    if egress == "vpc-endpoints":
        endpoints = settings.interface_endpoints
        return [
            LineItem(
                f"VPC interface endpoints ({endpoints} APIs x {zones} AZs)",
                endpoints * zones * HOURS_PER_MONTH,
                "endpoint-hours",
                *prices.quote("vpc_interface_endpoint_hour"),
            ),
            LineItem(
                "VPC endpoint data (API calls; S3 via the free gateway endpoint)",
                api_gb,
                "GB",
                *prices.quote("vpc_interface_endpoint_gb"),
            ),
        ]
    items = []
    if egress == "nat-dedicated":
        items.append(
            LineItem(
                f"NAT gateways (dedicated, one per AZ: {zones})",
                zones * HOURS_PER_MONTH,
                "gateway-hours",
                *prices.quote("nat_gateway_hour"),
            )
        )
    shared = "" if egress == "nat-dedicated" else " (shared NAT: data only)"
    items.append(
        LineItem(
            f"NAT data processed{shared}: uploads, index documents, API calls",
            s3_gb + api_gb,
            "GB",
            *prices.quote("nat_gateway_gb"),
        )
    )
    return items


def ec2_cost(
    settings: Ec2Settings, profile: Profile, prices: Prices, assumptions: Assumptions | None = None
) -> ModeCost:
    assumptions = assumptions or Assumptions(egress=default_egress(settings))
    warnings = []
    too_slow, warning = timeout_warning(
        "ec2",
        "processing timeout",
        settings.processing_timeout_seconds,
        profile,
        "raise maxProcessingSeconds and visibilityTimeoutSeconds",
    )
    warnings += [warning] if warning else []
    timed_out_seconds_per_file = (
        too_slow * settings.queue.max_receive_count * settings.processing_timeout_seconds
    )
    finishing_seconds = mean_below(profile, settings.processing_timeout_seconds)
    busy_slot_seconds_per_day = profile.files_per_day * (
        (1 - too_slow) * finishing_seconds + timed_out_seconds_per_file
    )
    needed = math.ceil(busy_slot_seconds_per_day / (86_400 * settings.concurrency * profile.utilisation))
    instances = min(max(needed, settings.min_size), settings.max_size)
    busy = min(1.0, busy_slot_seconds_per_day / (86_400 * settings.concurrency * instances))
    slots_needed = busy_slot_seconds_per_day / 86_400
    if slots_needed > settings.concurrency * settings.max_size:
        warnings.append(
            f"ec2: {slots_needed:.1f} busy slots needed on average but maxSize {settings.max_size} x "
            f"{settings.concurrency} slots is {settings.concurrency * settings.max_size}: the backlog grows "
            "(raise maxWorkers or workerConcurrency)"
        )
    elif needed > settings.max_size:
        warnings.append(
            f"ec2: {needed} instances needed at {profile.utilisation:.0%} utilisation but the group's "
            f"maxSize is {settings.max_size}: the fleet keeps up at {busy:.0%} busy, above the target "
            "(raise maxWorkers for headroom)"
        )
    receives, deletes = ec2_receives_and_deletes(settings, profile, instances)
    # a file that times out is received once per attempt and never deleted (it reaches the DLQ)
    slow_files = profile.files_per_day * DAYS_PER_MONTH * too_slow
    receives += slow_files * (settings.queue.max_receive_count - 1)
    deletes -= slow_files * deletes / (profile.files_per_day * DAYS_PER_MONTH)
    empty_receives = instances * (1 - busy) * SECONDS_PER_MONTH / max(settings.receive_wait_seconds, 1)
    heartbeat_seconds = settings.queue.visibility_timeout_seconds * HEARTBEAT_FRACTION_OF_VISIBILITY
    heartbeats = instances * busy * SECONDS_PER_MONTH / heartbeat_seconds
    # worker/metrics.py flushes only a window that recorded something: with files arriving at random,
    # a window is empty with probability e^(-files per instance in the window)
    per_window_files = profile.files_per_day / 86_400 / instances * settings.metric_flush_seconds
    flushes = instances * SECONDS_PER_MONTH / settings.metric_flush_seconds * -math.expm1(-per_window_files)
    savings_plan = assumptions.purchase == "savings-plan"
    items = [
        LineItem(
            f"EC2 {settings.instance_type} {'Savings Plan' if savings_plan else 'On-Demand'}",
            instances * HOURS_PER_MONTH,
            "instance-hours",
            *prices.quote(
                "ec2_instance_hour_savings_plan" if savings_plan else "ec2_instance_hour",
                settings.instance_type,
            ),
        ),
        LineItem(
            f"EBS {settings.root_volume_type} root volumes ({settings.root_volume_gb:g} GB each)",
            instances * settings.root_volume_gb,
            "GB-months",
            *prices.quote("ebs_gb_month", settings.root_volume_type),
        ),
        LineItem("SQS worker receives (with messages)", receives, "requests", *prices.quote("sqs_request")),
        LineItem("SQS worker deletes (batched)", deletes, "requests", *prices.quote("sqs_request")),
        LineItem("SQS empty long-poll receives", empty_receives, "requests", *prices.quote("sqs_request")),
        LineItem(
            "SQS heartbeats (visibility extensions)", heartbeats, "requests", *prices.quote("sqs_request")
        ),
        LineItem("CloudWatch PutMetricData", flushes, "requests", *prices.quote("cloudwatch_api_request")),
        *egress_items(settings, profile, prices, assumptions.egress),
        *common_items(profile, prices, settings.alarm_metrics, settings.custom_metrics),
    ]
    facts = {
        "instances": instances,
        "instances_needed": needed,
        "busy_fraction": round(busy, 4),
        "slots_needed": round(slots_needed, 3),
        "share_above_timeout": round(too_slow, 6),
        "egress": assumptions.egress,
    }
    return ModeCost("ec2", items, warnings, facts)


def default_egress(settings: Ec2Settings) -> str:
    """The stack's own choice: its endpoints if it declares them, else the VPC's (shared) NAT path."""
    return "vpc-endpoints" if settings.network_egress == "vpc-endpoints" else "nat-shared"


def ec2_receives_and_deletes(settings: Ec2Settings, profile: Profile, instances: int) -> tuple[float, float]:
    """Receives that return messages and DeleteMessageBatch calls a month, as the worker batches them."""
    files = profile.files_per_day * DAYS_PER_MONTH
    prefetch = min(
        settings.prefetch_messages,
        int(settings.prefetch_max_wait_seconds * settings.concurrency / profile.mean_seconds),
    )
    per_window = profile.files_per_day / 86_400 / instances * SAME_CALL_WINDOW_SECONDS
    per_receive = min(SQS_MAX_BATCH, 1 + prefetch, max(1.0, per_window))
    per_delete = min(SQS_MAX_BATCH, max(1.0, per_window))
    chunks = math.ceil(per_receive * S3_EVENT_MESSAGE_KB / SQS_CHUNK_KB)
    return files / per_receive * chunks, files / per_delete


def lambda_cost(
    settings: LambdaSettings, profile: Profile, prices: Prices, assumptions: Assumptions | None = None
) -> ModeCost:
    assumptions = assumptions or Assumptions()
    if assumptions.relative_speed != 1:
        profile = dataclasses.replace(
            profile,
            mean_seconds=profile.mean_seconds / assumptions.relative_speed,
            p99_seconds=profile.p99_seconds / assumptions.relative_speed,
        )
    files = profile.files_per_day * DAYS_PER_MONTH
    warnings = []
    derived = share_above(profile, settings.timeout_seconds)
    too_slow, warning = timeout_warning(
        "lambda", "function timeout", settings.timeout_seconds, profile, _timeout_fix(settings)
    )
    warnings += [warning] if warning else []
    if profile.mean_size_mb > settings.ephemeral_storage_mb:
        warnings.append(
            f"lambda: the mean upload ({profile.mean_size_mb:g} MB) is larger than the function's /tmp "
            f"({settings.ephemeral_storage_mb} MB): the indexer spools the upload to a temporary file, so "
            "configure ephemeralStorage (up to 10,240 MB; above 512 MB it is billed, not modelled here)"
        )
    if settings.memory_mb < LAMBDA_ONE_VCPU_MB and assumptions.relative_speed == 1:
        warnings.append(
            f"lambda: {settings.memory_mb} MB gives the function {settings.memory_mb / LAMBDA_ONE_VCPU_MB:.2f} "
            f"of a vCPU (one at {LAMBDA_ONE_VCPU_MB} MB): a CPU-bound file takes longer than the profile's "
            f"{profile.mean_seconds:g} s, which the estimate assumes in both modes; measure at this memory "
            "or raise lambdaMemoryMb"
        )
    records_per_invocation = settings.batch_size if settings.batching_window_seconds > 0 else 1
    finishing = files * (1 - too_slow)
    timed_out_attempts = files * too_slow * settings.queue.max_receive_count
    invocations = finishing / records_per_invocation + timed_out_attempts
    memory_gb = settings.memory_mb / 1024
    finishing_seconds = mean_below(profile, settings.timeout_seconds)
    invocation_seconds = billed_seconds(records_per_invocation * finishing_seconds)
    gb_seconds = finishing / records_per_invocation * invocation_seconds * memory_gb
    timeout_gb_seconds = timed_out_attempts * settings.timeout_seconds * memory_gb
    seconds_per_file = (1 - too_slow) * finishing_seconds + too_slow * (
        settings.queue.max_receive_count * settings.timeout_seconds
    )
    concurrency_needed = profile.files_per_day * seconds_per_file / 86_400
    if settings.maximum_concurrency is not None and concurrency_needed > settings.maximum_concurrency:
        warnings.append(
            f"lambda: {concurrency_needed:.1f} concurrent executions needed on average but the mapping's "
            f"maximum concurrency is {settings.maximum_concurrency}: the backlog grows"
        )
    busy_pollers = min(ESM_IDLE_POLLERS, concurrency_needed)
    idle_polls = (ESM_IDLE_POLLERS - busy_pollers) * SECONDS_PER_MONTH / ESM_WAIT_SECONDS
    chunks = math.ceil(records_per_invocation * S3_EVENT_MESSAGE_KB / SQS_CHUNK_KB)
    architecture = assumptions.lambda_architecture or settings.architecture
    duration_price = (
        "lambda_gb_second_savings_plan" if assumptions.purchase == "savings-plan" else "lambda_gb_second"
    )
    items = [
        LineItem("Lambda requests", invocations, "invocations", *prices.quote("lambda_request")),
        LineItem(
            f"Lambda duration ({settings.memory_mb} MB, {architecture})",
            gb_seconds,
            "GB-seconds",
            *prices.quote(duration_price, architecture),
        ),
        LineItem(
            "SQS event source mapping receives and deletes",
            # a receive per invocation (its batch's 64 KB chunks); a DeleteMessageBatch per batch that
            # finished: a timed-out attempt deletes nothing (the message returns, then goes to the DLQ)
            invocations * chunks + finishing / records_per_invocation,
            "requests",
            *prices.quote("sqs_request"),
        ),
        LineItem(
            "SQS event source mapping empty long polls", idle_polls, "requests", *prices.quote("sqs_request")
        ),
        LineItem(
            "CloudWatch Logs ingestion (function logs, EMF metrics)",
            invocations * LAMBDA_LOG_BYTES_PER_INVOCATION / 1024**3,
            "GB",
            *prices.quote("cloudwatch_logs_ingested_gb"),
        ),
        *common_items(profile, prices, settings.alarm_metrics, settings.custom_metrics),
    ]
    if timed_out_attempts:
        items.insert(
            2,
            LineItem(
                "Lambda duration of timed-out attempts",
                timeout_gb_seconds,
                "GB-seconds",
                *prices.quote(duration_price, architecture),
            ),
        )
    facts = {
        "share_above_timeout": None if derived is None else round(derived, 6),
        "concurrency_needed": round(concurrency_needed, 3),
        "records_per_invocation": records_per_invocation,
        "relative_speed": assumptions.relative_speed,
    }
    return ModeCost("lambda", items, warnings, facts)


def _timeout_fix(settings: LambdaSettings) -> str:
    if settings.timeout_seconds >= LAMBDA_MAX_TIMEOUT_SECONDS:
        return (
            f"the timeout is at Lambda's cap of {LAMBDA_MAX_TIMEOUT_SECONDS} s: such files need ec2 mode "
            "with a longer maxProcessingSeconds"
        )
    return f"raise lambdaTimeoutSeconds, up to Lambda's cap of {LAMBDA_MAX_TIMEOUT_SECONDS} s"


def log_grid(low: float, high: float, points: int) -> list[float]:
    step = (math.log(high) - math.log(low)) / (points - 1)
    return [math.exp(math.log(low) + step * n) for n in range(points)]


def break_evens(
    difference: Callable[[float], float], low: float, high: float, points: int = 400
) -> list[int]:
    """Where `difference` (ec2 minus lambda) changes sign, from low to high files/day: each the smallest
    whole number of files/day at which the other mode is the cheaper (a tie counts for ec2: the mode that
    needs no change); found on a log grid, then by bisection."""
    grid = log_grid(low, high, points)
    ec2_dearer = [difference(files) > 0 for files in grid]  # once per point: each prices both modes
    crossings = []
    for (left, right), (left_dearer, right_dearer) in zip(pairwise(grid), pairwise(ec2_dearer), strict=True):
        if left_dearer != right_dearer:
            crossings.append(_bisect(difference, math.floor(left), math.ceil(right)))
    return crossings


def _bisect(difference: Callable[[float], float], left: int, right: int) -> int:
    """The first whole number in (left, right] on `right`'s side of the sign change."""
    side = difference(right) > 0
    while right - left > 1:
        middle = (left + right) // 2
        if (difference(middle) > 0) == side:
            right = middle
        else:
            left = middle
    return right

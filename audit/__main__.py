"""`python -m audit --stack production` (`make audit`): check the deployed pipeline.

Reads the live state with read-only calls (boto3: AWS, or moto through AWS_ENDPOINT_URL), judges it
with the policy pack's own functions, reports drift and missing resources from the declared stack
and the incident plan's success metrics. Exit 0: nothing mandatory found and no success metric
failed; 1: a mandatory policy violation, a mandatory finding (drift or a missing resource) or a
FAIL; 2: the audit could not run (program, stack, policy config, endpoint, credentials, timeouts),
with one line saying why. `--watch N` repeats every N seconds with the trend;
`--fix-notifications` is the only write (see docs/audit.md). `--since WHEN` also judges the incident
plan's 1-hour, 6-hour and 24-hour windows after a rollout from CloudWatch history (audit/rollout.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from audit.baseline import read_baseline, success_checks
from audit.connect import (
    DEFAULT_TIMEOUT_SECONDS,
    Clients,
    EndpointError,
    check_endpoint,
    connect,
    endpoint_overrides,
)
from audit.consumers import declared_consumers, with_live_function
from audit.declared import DeclaredStack, declared_stack
from audit.drift import MANDATORY, Finding, find_drift
from audit.fix import fix_notifications
from audit.lambda_consumer import function_findings
from audit.live_state import LiveState, policy_resources, read_live_state
from audit.local_deviations import restore_left_out
from audit.rollout import (
    SinceError,
    join_relative_since,
    judge_rollout,
    parse_since,
    text_section,
    trend_part,
)
from audit.rollout_criteria import Verdict as RolloutVerdict
from audit.rollout_report import write_report
from audit.rollout_windows import pending_until_due
from preview.entrypoint import finite_number, run_command, whole_number
from preview.gate import (
    DEFAULT_POLICY_PACK,
    REPO_ROOT,
    PolicyConfigError,
    evaluate,
    load_pack_config,
    load_policies,
)
from preview.project import ProjectError, load_project
from preview.render import ProgramError, render_program
from worker.aws_setup import AwsSetupError, is_loopback_url, require_aws_settings, use_local_placeholders
from worker.success_criteria import Verdict

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
DEFAULT_REGION = "us-east-1"


class SetupError(Exception):
    """The audit cannot run as asked; the message is the one line the operator sees."""


MAX_TIMEOUT_SECONDS = 300
"""Longer than any AWS read answers in; a larger --timeout only hides an endpoint that is down."""
MAX_WATCH_SECONDS = 86_400
MAX_WATCH_ROUNDS = 1_000_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="production", help="a stack with a Pulumi.<stack>.yaml")
    parser.add_argument("--program", type=Path, default=REPO_ROOT)
    parser.add_argument(
        "--policy-config", type=Path, help="default: policy/config.<stack>.json, which must exist"
    )
    parser.add_argument("--region", help="default: the stack's aws:region, else AWS_DEFAULT_REGION")
    parser.add_argument(
        "--timeout",
        type=finite_number(0, MAX_TIMEOUT_SECONDS, low_exclusive=True),
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"connect and read timeout of each AWS call (above 0, at most {MAX_TIMEOUT_SECONDS}; default "
        f"{DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help="judge the incident plan's 1 h / 6 h / 24 h windows after a rollout at WHEN "
        "(2026-12-07T08:30:00Z, or -90m, -6h)",
    )
    parser.add_argument(
        "--report", type=Path, metavar="DIR", help="with --since: write DIR/report.md and DIR/depth.png"
    )
    parser.add_argument(
        "--watch",
        type=finite_number(0, MAX_WATCH_SECONDS, low_exclusive=True),
        metavar="SECONDS",
        help=f"repeat every SECONDS (above 0, at most {MAX_WATCH_SECONDS}), showing the trend",
    )
    parser.add_argument(
        "--count",
        type=whole_number(0, MAX_WATCH_ROUNDS),
        default=0,
        help="with --watch: stop after this many rounds (0: until Ctrl-C)",
    )
    parser.add_argument(
        "--fix-notifications",
        action="store_true",
        help="rewrite notifications that differ to the declared one (writes with --yes or at the prompt)",
    )
    parser.add_argument("--dry-run", action="store_true", help="with --fix-notifications: show the diff only")
    parser.add_argument("--yes", action="store_true", help="with --fix-notifications: write without asking")
    parser.add_argument(
        "--backup-dir",
        type=Path,
        default=Path("audit-backups"),
        help="where --fix-notifications saves the configuration it replaces",
    )
    return parser.parse_args(join_relative_since(sys.argv[1:] if argv is None else argv))


REGION_SHAPE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
"""An AWS region code: `ap-northeast-1`, `us-gov-west-1` (https://docs.aws.amazon.com/general/latest/gr/rande.html)."""


def check_region(region: str) -> str:
    """`region` when it is a region botocore knows, else SetupError (a bad region otherwise surfaces as
    an invalid endpoint, or as a local AWS's HTML error page)."""
    import boto3

    if not REGION_SHAPE.match(region):
        raise SetupError(f"--region {region!r} is not an AWS region code (expected e.g. ap-northeast-1)")
    session = boto3.session.Session()
    known = {
        name
        for partition in session.get_available_partitions()
        for name in session.get_available_regions("sqs", partition_name=partition)
    }
    if region not in known:
        raise SetupError(
            f"--region {region}: no such AWS region (botocore knows {len(known)}, e.g. ap-northeast-1)"
        )
    return region


def stack_region(options: argparse.Namespace, config: dict[str, str]) -> str:
    if options.region:
        return check_region(options.region)
    return config.get("aws:region") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def policy_config_path(options: argparse.Namespace) -> Path:
    """The policy config the stack is judged with: never a silent fallback to the pack's defaults."""
    if options.policy_config is not None:
        if not options.policy_config.is_file():
            raise SetupError(f"--policy-config {options.policy_config}: no such file")
        return options.policy_config
    path = DEFAULT_POLICY_PACK / f"config.{options.stack}.json"
    if not path.is_file():
        raise SetupError(
            f"no policy config for stack {options.stack!r}: expected {path}, or pass --policy-config FILE"
        )
    return path


class Auditor:
    def __init__(self, options: argparse.Namespace) -> None:
        project = load_project(options.program)
        if not (project.directory / f"Pulumi.{options.stack}.yaml").is_file():
            known = sorted(
                path.name[len("Pulumi.") : -len(".yaml")] for path in project.directory.glob("Pulumi.*.yaml")
            )
            raise SetupError(
                f"unknown stack {options.stack!r}: no Pulumi.{options.stack}.yaml in {project.directory} "
                f"(stacks: {', '.join(known) or 'none'})"
            )
        self.policies = load_policies(DEFAULT_POLICY_PACK)
        self.policy_config = load_pack_config(policy_config_path(options), self.policies)
        config = project.stack_config(options.stack)
        self.stack_name = options.stack
        self.region = region = stack_region(options, config)
        for variable, url in endpoint_overrides().items():  # a malformed endpoint is named first
            check_endpoint(variable, url)
        placeholders = use_local_placeholders(region)
        if placeholders:
            print(placeholders, file=sys.stderr)
        else:
            try:
                require_aws_settings(region)
            except AwsSetupError as error:
                raise SetupError(str(error)) from None
        self.clients: Clients = connect(region, options.timeout)
        self.declared: DeclaredStack = declared_stack(
            render_program(options.program, options.stack), config.get("aws:region") or region
        )
        self.notes: list[str] = []
        self.local_findings: list[Finding] = []
        if options.report is not None and options.since is None:
            raise SetupError("--report needs --since WHEN (the rollout the report is about)")
        try:
            self.since = parse_since(options.since, datetime.now(UTC)) if options.since else None
        except SinceError as error:
            raise SetupError(str(error)) from None
        self.report_dir: Path | None = options.report
        environment_region = os.environ.get("AWS_DEFAULT_REGION")
        if environment_region and environment_region != region:
            self.notes.append(f"AWS_DEFAULT_REGION is {environment_region}; the audit reads {region}")
        if self.clients.endpoint_url:
            self.notes.append(
                f"endpoint {self.clients.endpoint_url} is not AWS: what only AWS produces may be missing there "
                "(moto 5.2 publishes no AWS/SQS metrics, implements no DescribeInstanceRefreshes, "
                "returns no EventBridgeConfiguration and keeps no RedriveAllowPolicy)"
            )

    @property
    def s3(self) -> Any:
        return self.clients.s3

    def read(self) -> LiveState:
        live = read_live_state(
            self.clients.s3,
            self.clients.sqs,
            self.clients.cloudwatch,
            self.clients.autoscaling,
            self.region,
            buckets=list(self.declared.buckets),
            queues=list(self.declared.queues),
            alarm_prefix=self.declared.alarm_prefix,
            group_name=self.declared.group_name,
            lambda_client=self.clients.lambda_,
            function_name=self.declared.function_name,
            work_queue=self.declared.work_queue,
        )
        live.notes[:0] = self.notes
        self.local_findings = (
            restore_left_out(self.clients.s3, self.declared, live)
            if is_loopback_url(self.clients.endpoint_url)
            else []
        )
        return live

    def _live_names(self, live: LiveState) -> dict[str, str]:
        """Declared queue URL/ARN -> live one, for the consumer resources judged beside the live state."""
        names = {}
        for name, url in self.declared.queue_urls.items():
            if name in live.queue_urls:
                names[url] = live.queue_urls[name]
            live_arn = live.queues.get(name, {}).get("QueueArn")
            if live_arn and name in self.declared.queue_arns:
                names[self.declared.queue_arns[name]] = live_arn
        return names

    def audit(self) -> dict[str, Any]:
        live = self.read()
        judged = policy_resources(live, self.declared.dead_letter_targets) + with_live_function(
            declared_consumers(self.declared.consumers, self._live_names(live)), live.function
        )
        gate = evaluate(judged, self.policies, self.policy_config)
        findings = (
            self.local_findings
            + find_drift(self.declared, live)
            + function_findings(self.declared, live.function, self.region)
        )
        baseline = read_baseline(self.declared, live, self.clients.cloudwatch)
        checks = success_checks(baseline, self.declared)
        rollout = None
        if self.since is not None:
            now = datetime.now(UTC)
            checks = pending_until_due(checks, self.since, now)
            rollout = judge_rollout(self.clients.cloudwatch, self.declared, self.since, now)
        counts = {
            "mandatory_violations": len(gate.mandatory_violations),
            "mandatory_findings": sum(1 for finding in findings if finding.level == MANDATORY),
            "failed_checks": sum(1 for check in checks if check.verdict == Verdict.FAIL),
            "advisory": len(gate.violations)
            - len(gate.mandatory_violations)
            + sum(1 for finding in findings if finding.level != MANDATORY),
            "no_data_checks": sum(1 for check in checks if check.verdict == Verdict.NO_DATA),
            "pending_checks": sum(1 for check in checks if check.verdict == RolloutVerdict.PENDING),
        }
        if rollout is not None:
            judged = rollout.counts()
            counts["failed_checks"] += judged["FAIL"]
            counts["no_data_checks"] += judged["NO DATA"]
            counts["pending_checks"] += judged["PENDING"]
        report = {
            "stack": self.stack_name,
            "region": self.region,
            "endpoint": self.clients.endpoint_url,
            "passed": not (
                counts["mandatory_violations"] or counts["mandatory_findings"] or counts["failed_checks"]
            ),
            "counts": counts,
            "violations": [violation.as_json() for violation in gate.violations],
            "findings": [finding.as_json() for finding in findings],
            "notes": live.notes,
            "baseline": asdict(baseline),
            "success_metrics": [
                {"name": check.name, "verdict": check.verdict.value, "detail": check.detail}
                for check in checks
            ],
        }
        if rollout is not None:
            report["rollout"] = rollout.as_json()
            if self.report_dir is not None:
                write_report(
                    self.report_dir,
                    report,
                    rollout,
                    live.queue_urls.get(self.declared.dead_letter_queue or ""),
                    live.queue_urls.get(self.declared.work_queue or ""),
                )
        return report


def _plural(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def verdict_line(report: dict[str, Any]) -> str:
    counts = report["counts"]
    if report["passed"]:
        extra = [
            _plural(counts["advisory"], "advisory finding") if counts["advisory"] else "",
            _plural(counts["no_data_checks"], "check") + " without data" if counts["no_data_checks"] else "",
            _plural(counts.get("pending_checks", 0), "check") + " pending"
            if counts.get("pending_checks")
            else "",
        ]
        tail = "; ".join(part for part in extra if part)
        return "Audit passed" + (f" ({tail})." if tail else ".")
    parts = [
        _plural(counts["mandatory_findings"], "mandatory finding") if counts["mandatory_findings"] else "",
        _plural(counts["mandatory_violations"], "mandatory policy violation")
        if counts["mandatory_violations"]
        else "",
        _plural(counts["failed_checks"], "failed success check") if counts["failed_checks"] else "",
        _plural(counts.get("pending_checks", 0), "check") + " pending"
        if counts.get("pending_checks")
        else "",
    ]
    return "Audit FAILED: " + ", ".join(part for part in parts if part) + "."


def text_report(report: dict[str, Any]) -> str:
    where = f" at {report['endpoint']}" if report["endpoint"] else ""
    lines = [f"Audit of stack {report['stack']} in {report['region']}{where}"]
    lines.append("Policies (the pack's own rules, on the live state):")
    lines += [f"    [{v['level']}] {v['policy']}: {v['message']}" for v in report["violations"]] or [
        "    no violation"
    ]
    lines.append("Drift and missing resources (declared -> live):")
    lines += [f"    [{f['level']}] {f['resource']}: {f['message']}" for f in report["findings"]] or [
        "    none"
    ]
    if report["notes"]:
        lines.append("Notes:")
        lines += [f"    {note}" for note in report["notes"]]
    baseline = report["baseline"]
    lines.append("Baseline:")
    lines.append(
        f"    queue visible {_shown(baseline['queue_visible'])}, in flight {_shown(baseline['queue_in_flight'])}; "
        f"DLQ visible {_shown(baseline['dlq_visible'])}; oldest message age {_shown(baseline['oldest_message_age_seconds'], ' s')}; "
        f"in service {_shown(baseline['in_service_instances'])}; latest instance refresh {_shown(baseline['latest_instance_refresh'])}"
    )
    metrics = ", ".join(
        f"{name} {_shown(value)}" for name, value in baseline["worker_metrics_last_hour"].items()
    )
    lines.append(f"    worker metrics, last hour: {metrics}")
    lines.append("Success metrics:")
    lines += [f"    [{c['verdict']}] {c['name']}: {c['detail']}" for c in report["success_metrics"]]
    if "rollout" in report:
        lines += text_section(report["rollout"])
    lines.append(verdict_line(report))
    return "\n".join(lines)


def _shown(value: Any, unit: str = "") -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:g}{unit}"
    return f"{value}{unit}"


def trend_line(report: dict[str, Any], previous: dict[str, Any] | None) -> str:
    now, before = report["baseline"], (previous or {}).get("baseline", {})

    def delta(key: str) -> str:
        if before.get(key) is None or now.get(key) is None:
            return ""
        change = now[key] - before[key]
        return f" ({change:+d})"

    return (
        f"{time.strftime('%H:%M:%S')}  queue {_shown(now['queue_visible'])}{delta('queue_visible')}"
        f"  in flight {_shown(now['queue_in_flight'])}"
        f"  DLQ {_shown(now['dlq_visible'])}{delta('dlq_visible')}  success {_shown(now['success_rate_percent'], ' %')}"
        f"  findings {report['counts']['mandatory_findings']}  violations {len(report['violations'])}"
        f"  {'ok' if report['passed'] else 'FAILING'}"
        + (trend_part(report["rollout"]) if "rollout" in report else "")
    )


def _confirmer(options: argparse.Namespace):
    """--yes writes; otherwise ask on the terminal, or refuse when stdin is not one."""
    if options.yes:
        return lambda _bucket: True
    if not sys.stdin.isatty():
        return lambda _bucket: False

    def ask(bucket: str) -> bool:
        print(
            f"Write the declared notification to bucket {bucket}? [y/N] ", end="", file=sys.stderr, flush=True
        )
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    return ask


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    fixes = None
    try:
        auditor = Auditor(options)
        if options.fix_notifications:
            results = fix_notifications(
                auditor.s3,
                auditor.declared,
                auditor.read(),
                options.backup_dir,
                dry_run=options.dry_run,
                confirm=_confirmer(options),
            )
            fixes = [result.as_json() for result in results]
            if not options.json:
                for result in results:
                    print(result.text(), flush=True)
        if options.watch:
            return watch(auditor, options)
        report = auditor.audit()
    except (ProgramError, ProjectError, PolicyConfigError, SetupError, EndpointError) as error:
        return _error(options, str(error))
    except (BotoCoreError, ClientError) as error:
        where = os.environ.get("AWS_ENDPOINT_URL") or f"AWS in {options.region or 'the stack region'}"
        return _error(options, f"cannot read the live pipeline ({where}): {error}")
    if fixes is not None:
        report["fix_notifications"] = fixes
    print(
        json.dumps(report, indent=2, ensure_ascii=False, default=str) if options.json else text_report(report)
    )
    return EXIT_OK if report["passed"] else EXIT_FAILED


def _error(options: argparse.Namespace, message: str) -> int:
    """One line on stderr; with --json also a JSON document on stdout, so a pipe still parses."""
    message = " ".join(message.split())
    print(f"error: {message}", file=sys.stderr)
    if options.json:
        print(json.dumps({"error": message, "exit_code": EXIT_ERROR}))
    return EXIT_ERROR


def watch(auditor: Auditor, options: argparse.Namespace) -> int:
    """The incident plan's `watch -n 60`: one line per round with the change since the last one."""
    previous = None
    rounds = 0
    try:
        while True:
            report = auditor.audit()
            print(
                json.dumps(report, ensure_ascii=False, default=str)
                if options.json
                else trend_line(report, previous),
                flush=True,
            )
            previous, rounds = report, rounds + 1
            if options.count and rounds >= options.count:
                return EXIT_OK if report["passed"] else EXIT_FAILED
            print(f"  next check in {options.watch:g} s (Ctrl-C to stop)", file=sys.stderr, flush=True)
            time.sleep(options.watch)
    except KeyboardInterrupt:
        return EXIT_OK if previous is None or previous["passed"] else EXIT_FAILED


if __name__ == "__main__":
    run_command(main, "python -m audit")

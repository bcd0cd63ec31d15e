"""`python -m audit --stack production` (`make audit`): check the deployed pipeline.

Reads the live state with read-only calls (boto3: AWS, or moto through AWS_ENDPOINT_URL), judges it
with the policy pack's own functions, reports drift from the declared stack and the incident plan's
baseline numbers, and exits 1 on a mandatory violation or a failed success metric (2: setup error).
`--watch N` repeats every N seconds with the trend; `--fix-notifications` is the only write.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from audit.baseline import read_baseline, success_checks
from audit.declared import DeclaredStack, declared_stack
from audit.drift import find_drift
from audit.fix import fix_notifications
from audit.live_state import policy_resources, read_live_state
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

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="production")
    parser.add_argument("--program", type=Path, default=REPO_ROOT)
    parser.add_argument("--policy-config", type=Path, help="default: policy/config.<stack>.json when present")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--watch", type=float, metavar="SECONDS", help="repeat every SECONDS, showing the trend"
    )
    parser.add_argument(
        "--count", type=int, default=0, help="with --watch: stop after this many rounds (0: until Ctrl-C)"
    )
    parser.add_argument(
        "--fix-notifications", action="store_true", help="rewrite notifications to the declared one (writes!)"
    )
    parser.add_argument(
        "--backup-dir",
        type=Path,
        default=Path("audit-backups"),
        help="where --fix-notifications saves the old configuration",
    )
    return parser.parse_args(argv)


class Auditor:
    def __init__(self, options: argparse.Namespace) -> None:
        stack = render_program(options.program, options.stack)
        config = load_project(options.program).stack_config(options.stack)
        region = os.environ.get("AWS_DEFAULT_REGION") or config.get("aws:region", "us-east-1")
        self.declared: DeclaredStack = declared_stack(stack, region)
        session = boto3.session.Session(region_name=region)
        client_config = Config(retries={"mode": "standard", "max_attempts": 5})
        self.s3, self.sqs, self.cloudwatch, self.autoscaling = (
            session.client(name, config=client_config) for name in ("s3", "sqs", "cloudwatch", "autoscaling")
        )
        self.policies = load_policies(DEFAULT_POLICY_PACK)
        config_path = options.policy_config or DEFAULT_POLICY_PACK / f"config.{options.stack}.json"
        self.policy_config = load_pack_config(config_path if config_path.exists() else None, self.policies)

    def read(self):
        return read_live_state(
            self.s3,
            self.sqs,
            self.cloudwatch,
            self.autoscaling,
            self.declared.region,
            buckets=list(self.declared.notifications),
            queues=list(self.declared.queues),
            alarm_prefix=self.declared.alarm_prefix,
            group_name=self.declared.group_name,
        )

    def audit(self) -> dict[str, Any]:
        live = self.read()
        gate = evaluate(policy_resources(live), self.policies, self.policy_config)
        baseline = read_baseline(self.declared, live, self.cloudwatch)
        checks = success_checks(baseline, self.declared)
        report = {
            "violations": [violation.as_json() for violation in gate.violations],
            "drift": [drift.as_json() for drift in find_drift(self.declared, live)],
            "missing": live.missing,
            "notes": live.notes,
            "baseline": asdict(baseline),
            "success_metrics": [asdict(check) for check in checks],
        }
        report["passed"] = not gate.mandatory_violations and all(check.passed for check in checks)
        return report


def text_report(report: dict[str, Any]) -> str:
    lines = ["Policies (the pack's own rules, on the live state):"]
    lines += [f"    [{v['level']}] {v['policy']}: {v['message']}" for v in report["violations"]] or [
        "    no violation"
    ]
    lines.append("Drift (declared -> live):")
    lines += [
        f"    {d['resource']}: {d['setting']}: declared {json.dumps(d['declared'], ensure_ascii=False)}, live {json.dumps(d['live'], ensure_ascii=False)}"
        for d in report["drift"]
    ] or ["    none"]
    for missing in report["missing"]:
        lines.append(f"    not found: {missing}")
    for note in report["notes"]:
        lines.append(f"    note: {note}")
    baseline = report["baseline"]
    lines.append("Baseline:")
    lines.append(
        f"    queue {baseline['queue_visible']} visible, {baseline['queue_in_flight']} in flight; DLQ {baseline['dlq_visible']}; "
        f"oldest message {baseline['oldest_message_age_seconds']} s; in service {baseline['in_service_instances']}; "
        f"latest instance refresh {baseline['latest_instance_refresh']}"
    )
    lines.append(
        f"    worker metrics, last hour: {json.dumps(baseline['worker_metrics_last_hour'])}; success rate {baseline['success_rate_percent']} %"
    )
    lines.append("Success metrics:")
    lines += [
        f"    [{'PASS' if c['passed'] else 'FAIL'}] {c['name']}: {c['detail']}"
        for c in report["success_metrics"]
    ]
    lines.append(f"Audit {'passed' if report['passed'] else 'FAILED'}.")
    return "\n".join(lines)


def trend_line(report: dict[str, Any], previous: dict[str, Any] | None) -> str:
    now, before = report["baseline"], (previous or {}).get("baseline", {})

    def delta(key: str) -> str:
        if before.get(key) is None or now.get(key) is None:
            return ""
        change = now[key] - before[key]
        return f" ({change:+d})"

    return (
        f"{time.strftime('%H:%M:%S')}  queue {now['queue_visible']}{delta('queue_visible')}  in flight {now['queue_in_flight']}"
        f"  DLQ {now['dlq_visible']}{delta('dlq_visible')}  success {now['success_rate_percent']} %"
        f"  violations {len(report['violations'])}  {'ok' if report['passed'] else 'FAILING'}"
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        auditor = Auditor(options)
        if options.fix_notifications:
            for line in fix_notifications(auditor.s3, auditor.declared, auditor.read(), options.backup_dir):
                print(line)
        if options.watch:
            return watch(auditor, options)
        report = auditor.audit()
    except (ProgramError, ProjectError, PolicyConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except (BotoCoreError, ClientError) as error:
        print(f"error: cannot read the live pipeline: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(
        json.dumps(report, indent=2, ensure_ascii=False, default=str) if options.json else text_report(report)
    )
    return EXIT_OK if report["passed"] else EXIT_FAILED


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
    sys.exit(main())

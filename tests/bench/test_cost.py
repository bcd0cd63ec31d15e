"""`python -m bench.cost`: the settings it reads, the arithmetic of each line item (checked by hand on a
small stack with round prices), the break-even search, the dated prices file and the warnings."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import random
import re
from datetime import date

import pytest

from bench import cost
from bench.cost_model import (
    API_KB_PER_FILE,
    DAYS_PER_MONTH,
    HOURS_PER_MONTH,
    INDEX_DOCUMENT_KB,
    PRICES_FILE,
    Assumptions,
    PriceError,
    Prices,
    Profile,
    break_evens,
    ec2_cost,
    lambda_cost,
    log_grid,
    lognormal,
    mean_below,
    share_above,
)
from bench.cost_settings import (
    ALARM,
    EVENT_SOURCE_MAPPING,
    FUNCTION,
    GROUP,
    LAUNCH_TEMPLATE,
    QUEUE,
    StackSettingsError,
    ec2_settings,
    lambda_settings,
)
from preview.mocks import RecordedResource
from preview.render import RenderedStack, render_program
from tests.paths import REPO_ROOT
from worker import contract

ROUND_PRICES = {
    "as_of": "2026-11-29",
    "region": "ap-northeast-1",
    "prices": {
        "sqs_request": {"usd": 1.0, "per": 1_000_000},
        "ec2_instance_hour": {"t.test": {"usd": 1.0, "per": 1}},
        "ebs_gb_month": {"gp3": {"usd": 0.1, "per": 1}},
        "lambda_request": {"usd": 1.0, "per": 1_000_000},
        "lambda_gb_second": {"arm64": {"usd": 0.00001, "per": 1}, "x86_64": {"usd": 0.0000125, "per": 1}},
        "s3_put_request": {"usd": 0.01, "per": 1000},
        "s3_get_request": {"usd": 0.001, "per": 1000},
        "cloudwatch_alarm_month": {"usd": 0.1, "per": 1},
        "cloudwatch_metric_month": {"usd": 0.3, "per": 1},
        "cloudwatch_api_request": {"usd": 0.01, "per": 1000},
        "cloudwatch_logs_ingested_gb": {"usd": 1.0, "per": 1},
        "ec2_instance_hour_savings_plan": {"t.test": {"usd": 0.75, "per": 1}},
        "lambda_gb_second_savings_plan": {
            "arm64": {"usd": 0.000008, "per": 1},
            "x86_64": {"usd": 0.00001, "per": 1},
        },
        "nat_gateway_hour": {"usd": 0.05, "per": 1},
        "nat_gateway_gb": {"usd": 0.05, "per": 1},
        "vpc_interface_endpoint_hour": {"usd": 0.01, "per": 1},
        "vpc_interface_endpoint_gb": {"usd": 0.01, "per": 1},
    },
}


def resource(type_: str, name: str, props: dict) -> RecordedResource:
    return RecordedResource.from_properties(type_, name, props, stack="fixture")


def small_stack(*, with_lambda: bool) -> RenderedStack:
    """A stack shaped like the rendered program (camelCase inputs, floats), with round numbers."""
    user_data = base64.b64encode(
        ("#!/bin/bash\n" + contract.environment_file_block({contract.WORKER_CONCURRENCY: "2"})).encode()
    ).decode()
    redrive = json.dumps({"deadLetterTargetArn": "arn:aws:sqs:ap-northeast-1:1:dlq", "maxReceiveCount": 2})
    resources = [
        resource(
            QUEUE, "work", {"name": "work", "visibilityTimeoutSeconds": 600.0, "redrivePolicy": redrive}
        ),
        resource(QUEUE, "dlq", {"name": "dlq"}),
        resource(ALARM, "dlq-alarm", {"metricName": "ApproximateNumberOfMessagesVisible"}),
        resource(
            ALARM,
            "math-alarm",
            {
                "metricQueries": [
                    {"id": "a", "metric": {"metricName": "x"}},
                    {"id": "b", "metric": {"metricName": "y"}},
                    {"id": "c", "expression": "a + b"},
                ]
            },
        ),
    ]
    if with_lambda:
        resources += [
            resource(
                FUNCTION,
                "fn",
                {"name": "fn", "memorySize": 1024.0, "timeout": 60.0, "architectures": ["arm64"]},
            ),
            resource(
                EVENT_SOURCE_MAPPING,
                "esm",
                {
                    "batchSize": 5.0,
                    "maximumBatchingWindowInSeconds": 2.0,
                    "scalingConfig": {"maximumConcurrency": 4.0},
                },
            ),
        ]
    else:
        resources += [
            resource(GROUP, "group", {"minSize": 1.0, "desiredCapacity": 1.0, "maxSize": 3.0}),
            resource(
                LAUNCH_TEMPLATE,
                "template",
                {
                    "instanceType": "t.test",
                    "userData": user_data,
                    "blockDeviceMappings": [
                        {"deviceName": "/dev/xvda", "ebs": {"volumeSize": 10.0, "volumeType": "gp3"}}
                    ],
                },
            ),
        ]
    outputs = {"computeMode": "lambda" if with_lambda else "ec2"}
    return RenderedStack(project="fixture", stack="fixture", resources=resources, outputs=outputs)


@pytest.fixture(scope="module")
def lambda_stack() -> RenderedStack:
    """The lambda-mode stack as its file (Pulumi.lambda.yaml) configures it: what bench.cost prices."""
    return render_program(REPO_ROOT, "lambda")


@pytest.fixture
def prices() -> Prices:
    return Prices(ROUND_PRICES)


def items(mode_cost) -> dict[str, float]:
    return {item.item: item.monthly_usd for item in mode_cost.items}


# --- reading the stack ---------------------------------------------------------------------------


def test_ec2_reader_on_the_rendered_production_stack(production):
    settings = ec2_settings(production)
    template = production.of_type(LAUNCH_TEMPLATE)[0].inputs
    group = production.of_type(GROUP)[0].inputs
    environment = contract.environment_from_user_data(template["userData"])
    assert settings.instance_type == template["instanceType"]
    assert (settings.min_size, settings.max_size) == (group["minSize"], group["maxSize"])
    assert settings.concurrency == int(environment[contract.WORKER_CONCURRENCY])
    assert settings.root_volume_gb == template["blockDeviceMappings"][0]["ebs"]["volumeSize"]
    assert settings.alarms == len(production.outputs["alarmNames"])
    assert settings.alarm_metrics > settings.alarms  # metric-math alarms read several metrics
    assert settings.queue.max_receive_count >= 1
    Prices.load().entry("ec2_instance_hour", settings.instance_type)  # priced, or the estimate fails
    Prices.load().entry("ebs_gb_month", settings.root_volume_type)


def test_lambda_reader_fails_clearly_on_a_stack_without_the_function(production):
    with pytest.raises(StackSettingsError, match=r"Function and 0 .*compute: lambda"):
        lambda_settings(production)


def test_lambda_reader_reads_the_contract_resources():
    settings = lambda_settings(small_stack(with_lambda=True))
    assert (settings.memory_mb, settings.timeout_seconds, settings.architecture) == (1024, 60, "arm64")
    assert (settings.batch_size, settings.batching_window_seconds, settings.maximum_concurrency) == (5, 2, 4)
    assert (settings.alarms, settings.alarm_metrics) == (2, 3)
    assert (settings.queue.visibility_timeout_seconds, settings.queue.max_receive_count) == (600, 2)


def test_lambda_reader_on_the_rendered_lambda_stack(lambda_stack):
    settings = lambda_settings(lambda_stack)
    function = lambda_stack.of_type(FUNCTION)[0].inputs
    mapping = lambda_stack.of_type(EVENT_SOURCE_MAPPING)[0].inputs
    assert settings.function_name == function["name"]
    assert (settings.memory_mb, settings.timeout_seconds) == (function["memorySize"], function["timeout"])
    assert settings.architecture == (function.get("architectures") or ["x86_64"])[0]
    assert settings.batch_size == mapping["batchSize"]
    assert settings.batching_window_seconds == mapping["maximumBatchingWindowInSeconds"]
    assert settings.maximum_concurrency == mapping["scalingConfig"]["maximumConcurrency"]
    # the visibility the lambda stack needs (>= 6x the timeout), not production's
    assert settings.queue.visibility_timeout_seconds >= 6 * settings.timeout_seconds
    assert settings.queue.max_receive_count >= 5
    # the lambda stack's own alarms: the function's, none that read an Auto Scaling Group
    alarms = lambda_stack.of_type(ALARM)
    assert settings.alarms == len(alarms) == len(lambda_stack.outputs["alarmNames"])
    assert {alarm.inputs.get("namespace") for alarm in alarms} >= {"AWS/Lambda"}
    assert not any("AutoScaling" in json.dumps(alarm.inputs) for alarm in alarms)
    Prices.load().entry("lambda_gb_second", settings.architecture)  # priced, or the estimate fails


# --- arithmetic, by hand -------------------------------------------------------------------------


def test_ec2_line_items_by_hand(prices):
    settings = ec2_settings(small_stack(with_lambda=False))
    # 86,400 files a day x 1 s = 86,400 slot-seconds; 2 slots at 50% => 1 instance, busy half the time
    profile = Profile(files_per_day=86_400, mean_size_mb=1, mean_seconds=1, p99_seconds=2, utilisation=0.5)
    result = ec2_cost(settings, profile, prices)
    files = 86_400 * DAYS_PER_MONTH
    seconds = HOURS_PER_MONTH * 3600
    assert result.facts["instances"] == 1 and result.facts["busy_fraction"] == 0.5
    got = items(result)
    assert got["EC2 t.test On-Demand"] == pytest.approx(730.0)
    assert got["EBS gp3 root volumes (10 GB each)"] == pytest.approx(1.0)
    # one file a second: each receive and each delete carries one message
    assert got["SQS worker receives (with messages)"] == pytest.approx(files / 1e6)
    assert got["SQS worker deletes (batched)"] == pytest.approx(files / 1e6)
    assert got["SQS empty long-poll receives"] == pytest.approx(0.5 * seconds / 20 / 1e6)
    assert got["SQS heartbeats (visibility extensions)"] == pytest.approx(0.5 * seconds / 200 / 1e6)
    # 60 files a window: practically every 60 s window has data to flush
    assert got["CloudWatch PutMetricData"] == pytest.approx(seconds / 60 * 0.01 / 1000)
    assert got["S3 PUT (the index document)"] == pytest.approx(files * 0.01 / 1000)
    assert got["CloudWatch alarms"] == pytest.approx(0.3)  # 3 alarm metrics
    assert got["CloudWatch custom metrics"] == pytest.approx(10 * 0.3)  # worker/contract.py PUBLISHED_METRICS
    assert result.total_usd == pytest.approx(sum(got.values()))


def test_ec2_requests_per_message_reach_the_benchmark_floor_for_short_jobs_at_a_high_rate(prices):
    settings = ec2_settings(small_stack(with_lambda=False))
    # 2,000 files a second, 1 ms each: ten messages a receive (prefetch allowed) and a delete batch
    profile = Profile(files_per_day=2_000 * 86_400, mean_size_mb=1, mean_seconds=0.001, p99_seconds=0.002)
    got = items(ec2_cost(settings, profile, prices))
    files = profile.files_per_day * DAYS_PER_MONTH
    requests = (got["SQS worker receives (with messages)"] + got["SQS worker deletes (batched)"]) * 1e6
    assert requests / files == pytest.approx(0.2)


def test_lambda_line_items_by_hand(prices):
    settings = lambda_settings(small_stack(with_lambda=True))
    # mean 1 s, p99 2 s: no file near the 60 s timeout; a window, so batches of 5
    profile = Profile(files_per_day=86_400, mean_size_mb=1, mean_seconds=1, p99_seconds=2)
    result = lambda_cost(settings, profile, prices)
    files = 86_400 * DAYS_PER_MONTH
    got = items(result)
    assert result.facts["records_per_invocation"] == 5
    assert got["Lambda requests"] == pytest.approx(files / 5 / 1e6)
    assert got["Lambda duration (1024 MB, arm64)"] == pytest.approx(files * 1 * 1.0 * 0.00001)
    assert got["SQS event source mapping receives and deletes"] == pytest.approx(2 * files / 5 / 1e6)
    # one execution busy on average: four of the five pollers wait on an empty queue, 20 s a poll
    assert got["SQS event source mapping empty long polls"] == pytest.approx(
        4 * HOURS_PER_MONTH * 3600 / 20 / 1e6
    )
    assert "Lambda duration of timed-out attempts" not in got
    assert [warning for warning in result.warnings if "vCPU" not in warning] == []  # 1024 MB: see below


def test_a_missing_instance_price_names_the_type_and_the_fix(prices):
    settings = ec2_settings(small_stack(with_lambda=False))
    bare = Prices({**ROUND_PRICES, "prices": {**ROUND_PRICES["prices"], "ec2_instance_hour": {}}})
    with pytest.raises(PriceError, match=r"'t\.test'.*add an entry"):
        ec2_cost(settings, Profile(1000, 1, 1, 2), bare)


# --- the p99 and the timeout ---------------------------------------------------------------------


def test_the_fitted_log_normal_puts_one_percent_above_the_p99():
    profile = Profile(files_per_day=1, mean_size_mb=1, mean_seconds=60, p99_seconds=720)
    assert share_above(profile, 720) == pytest.approx(0.01, rel=1e-6)
    assert share_above(profile, 900) < 0.01
    assert share_above(Profile(1, 1, 1, 100), 50) is None  # p99 100x the mean: no log-normal fits


def test_p99_above_the_timeout_warns_and_prices_the_timed_out_attempts(prices):
    settings = lambda_settings(small_stack(with_lambda=True))
    result = lambda_cost(
        settings, Profile(files_per_day=1000, mean_size_mb=1, mean_seconds=20, p99_seconds=90), prices
    )
    assert any("longer than the function timeout 60 s" in warning for warning in result.warnings)
    assert result.facts["share_above_timeout"] > 0.01
    assert items(result)["Lambda duration of timed-out attempts"] > 0


def test_files_slower_than_the_workers_processing_timeout_warn_and_occupy_slots(prices):
    settings = ec2_settings(
        small_stack(with_lambda=False)
    )  # no PROCESSING_TIMEOUT_SECONDS: the visibility, 600 s
    profile = Profile(files_per_day=86_400, mean_size_mb=1, mean_seconds=1, p99_seconds=2, utilisation=0.5)
    slow = Profile(files_per_day=86_400, mean_size_mb=1, mean_seconds=100, p99_seconds=900, utilisation=0.5)
    result = ec2_cost(settings, slow, prices)
    assert any("longer than the processing timeout 600 s" in warning for warning in result.warnings)
    assert ec2_cost(settings, profile, prices).warnings == []
    share = result.facts["share_above_timeout"]
    # the files that finish are billed at their own mean (below the timeout), not the overall 100 s
    finishing = mean_below(slow, 600)
    assert finishing < 100
    expected = 86_400 * ((1 - share) * finishing + share * 2 * 600) / (86_400 * 2 * 0.5)
    assert result.facts["instances_needed"] == math.ceil(expected)


def test_uploads_larger_than_the_functions_tmp_warn(prices):
    settings = lambda_settings(small_stack(with_lambda=True))
    result = lambda_cost(
        settings, Profile(files_per_day=10, mean_size_mb=600, mean_seconds=1, p99_seconds=2), prices
    )
    assert any("larger than the function's /tmp (512 MB)" in warning for warning in result.warnings)


def test_p99_above_the_timeout_warns_even_when_the_share_cannot_be_derived(prices):
    settings = lambda_settings(small_stack(with_lambda=True))
    result = lambda_cost(
        settings, Profile(files_per_day=1000, mean_size_mb=1, mean_seconds=1, p99_seconds=100), prices
    )
    assert any("p99 100 s is above the function timeout 60 s" in warning for warning in result.warnings)
    assert result.facts["share_above_timeout"] is None


# --- traffic: monotonic, break-even --------------------------------------------------------------


def test_both_modes_cost_more_with_more_files(production, lambda_stack):
    prices, profile = Prices.load(), cost.DEFAULT_PROFILE
    ec2, lam = ec2_settings(production), lambda_settings(lambda_stack)
    grid = log_grid(10, 1_000_000, 60)
    ec2_totals = [ec2_cost(ec2, profile.with_files(files), prices).total_usd for files in grid]
    lambda_totals = [lambda_cost(lam, profile.with_files(files), prices).total_usd for files in grid]
    assert ec2_totals == sorted(ec2_totals) and ec2_totals[0] < ec2_totals[-1]
    assert lambda_totals == sorted(lambda_totals) and lambda_totals[0] < lambda_totals[-1]


def test_break_even_is_found_where_two_lines_cross():
    assert break_evens(lambda files: files - 1234.5, 10, 100_000) == [1235]
    assert break_evens(lambda files: 1234.0 - files, 10, 100_000) == [1234]  # a tie counts for ec2
    assert break_evens(lambda files: (files - 100) * (files - 5000), 10, 100_000) == [100, 5001]
    assert break_evens(lambda files: 5.0, 10, 100_000) == []


def test_the_cheaper_mode_changes_at_the_reported_break_even(production, lambda_stack):
    prices, profile = Prices.load(), cost.DEFAULT_PROFILE
    ec2, lam = ec2_settings(production), lambda_settings(lambda_stack)
    result = cost.estimate(ec2, lam, profile, prices, 10, 1_000_000)
    crossing = result["break_evens"][0]
    below, above = profile.with_files(crossing - 1), profile.with_files(crossing)
    cheaper_below = ec2_cost(ec2, below, prices).total_usd < lambda_cost(lam, below, prices).total_usd
    cheaper_above = ec2_cost(ec2, above, prices).total_usd < lambda_cost(lam, above, prices).total_usd
    assert cheaper_below != cheaper_above


# --- the prices file -----------------------------------------------------------------------------


def price_entries(prices: dict) -> list[tuple[str, dict]]:
    found = []
    for key, entry in prices.items():
        if "usd" in entry:
            found.append((key, entry))
        else:
            found += [(f"{key}[{variant}]", value) for variant, value in entry.items()]
    return found


def test_every_price_has_a_unit_a_pricing_page_a_date_and_says_whether_it_was_sourced():
    data = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    assert data["region"] == "ap-northeast-1" and date.fromisoformat(data["as_of"])
    entries = price_entries(data["prices"])
    assert len(entries) >= 11
    for key, entry in entries:
        assert entry["usd"] > 0 and entry["per"] >= 1 and entry["unit"], key
        assert re.match(r"^https://aws\.amazon\.com/\w+/pricing/", entry["url"]), key
        assert date.fromisoformat(entry["as_of"]) <= date.fromisoformat(data["as_of"]), key
        assert entry["status"] in {"sourced", "assumed"} and entry["source_note"], key


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--files-per-day", "many"], "--files-per-day 'many' is not a number; give uploads per day"),
        (["--mean-seconds", "-3"], "--mean-seconds '-3' must be a positive number"),
        (["--files-per-day", "nan"], "--files-per-day 'nan' must be a positive number"),
        (["--p99-seconds", "inf"], "--p99-seconds 'inf' must be a positive number"),
        # these overflowed to inf inside the model (ceil(inf): OverflowError traceback)
        (["--files-per-day", "1e308"], "--files-per-day '1e308' is outside the 0 to 1e+10"),
        (["--utilisation", "1e-320"], "--utilisation '1e-320' is outside the 0.01 to 1"),
        (["--mean-seconds", "1e300", "--p99-seconds", "1e300"], "--mean-seconds '1e300' is outside"),
        (["--range", "10", "1e300"], "--range '1e300' is outside"),
    ],
)
def test_a_bad_flag_names_the_value_and_the_fix(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cost.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_p99_below_the_mean_is_refused_before_anything_renders(capsys):
    assert cost.main(["--mean-seconds", "60", "--p99-seconds", "30"]) == 2
    assert "--p99-seconds 30 is below --mean-seconds 60" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "flag", "renders"),
    [
        (["--lambda-stack", "production"], "--lambda-stack production", "'ec2'"),
        (["--stack", "lambda"], "--stack lambda", "'lambda'"),
    ],
)
def test_a_stack_of_the_wrong_mode_exits_2_naming_the_flag(
    argv, flag, renders, monkeypatch, tmp_path, capsys
):
    def render(program, stack):
        rendered = small_stack(with_lambda=stack == "lambda")
        rendered.stack = stack
        return rendered

    monkeypatch.setattr(cost, "render_stack", render)
    assert cost.main([*argv, "--chart", str(tmp_path / "cost.svg")]) == 2
    error = capsys.readouterr().err
    assert f"{flag}: the stack renders compute {renders} (" in error and "compute: " in error


def test_a_lambda_stack_without_a_stack_file_says_so(capsys, tmp_path):
    assert cost.main(["--lambda-stack", "no-such-stack", "--chart", str(tmp_path / "cost.svg")]) == 2
    error = capsys.readouterr().err
    assert "stack 'no-such-stack': there is no Pulumi.no-such-stack.yaml" in error
    assert "lambda, production" in error


def test_an_ec2_stack_without_a_stack_file_is_refused_not_rendered_from_the_defaults(capsys, tmp_path):
    # the project's default compute is ec2: without this check --stack nope priced the defaults silently
    assert cost.main(["--stack", "nope", "--chart", str(tmp_path / "cost.svg")]) == 2
    error = capsys.readouterr().err
    assert "stack 'nope': there is no Pulumi.nope.yaml" in error and error.count("error:") == 1


def test_an_unwritable_chart_path_exits_2_naming_the_flag(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(
        cost, "render_stack", lambda program, stack: small_stack(with_lambda=stack == "lambda")
    )
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    chart = blocker / "sub" / "cost.svg"  # a directory under a file: cannot be created
    monkeypatch.setattr(cost.Prices, "load", classmethod(lambda cls, path: cls(ROUND_PRICES)))
    assert cost.main(["--chart", str(chart), "--mean-seconds", "1", "--p99-seconds", "2"]) == 2
    error = capsys.readouterr().err
    assert f"--chart {chart}: cannot be written" in error and "Traceback" not in error


def test_each_mode_is_read_from_its_own_stack(monkeypatch, tmp_path, capsys):
    rendered = []

    def render(program, stack):
        rendered.append(stack)
        return small_stack(with_lambda=stack == "fn-stack")

    monkeypatch.setattr(cost, "render_stack", render)
    monkeypatch.setattr(cost.Prices, "load", classmethod(lambda cls, path: cls(ROUND_PRICES)))
    argv = ["--json", "--chart", str(tmp_path / "cost.svg"), "--mean-seconds", "1", "--p99-seconds", "2"]
    assert cost.main([*argv, "--stack", "fleet-stack", "--lambda-stack", "fn-stack"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert rendered == ["fleet-stack", "fn-stack"]
    assert report["stacks"] == {"ec2": "fleet-stack", "lambda": "fn-stack"}
    assert report["modes"]["lambda"]["items"][1]["item"] == "Lambda duration (1024 MB, arm64)"


def test_json_output_and_chart(tmp_path, capsys):
    chart = tmp_path / "cost.svg"
    assert cost.main(["--json", "--chart", str(chart)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["modes"]) == {"ec2", "lambda"}
    for mode in report["modes"].values():
        assert mode["total_usd"] == pytest.approx(
            sum(item["monthly_usd"] for item in mode["items"]), abs=1e-3
        )
    assert report["prices"]["as_of"] == json.loads(PRICES_FILE.read_text())["as_of"]
    assert all(math.isfinite(value) for value in report["break_even_files_per_day"])
    # what the text shows is in the JSON too: which side is cheaper, the sentence, the range, the prices
    assert report["cheaper_below_break_even"] in {"ec2", "lambda"}
    assert report["break_even_text"].startswith(f"break-even at {report['break_even_files_per_day'][0]:,}")
    assert report["search_range_files_per_day"] == [10, 1_000_000]
    assert report["modes"]["ec2"]["items"][0]["price_quoted"] == "0.124"
    assert all(mode["warnings"] for mode in report["modes"].values())  # the default profile's timeouts
    assert chart.read_text(encoding="utf-8").lstrip().startswith("<?xml") and "<svg" in chart.read_text()


def test_the_cost_page_shows_every_price_of_the_file_with_its_date():
    page = (REPO_ROOT / "docs" / "cost.md").read_text(encoding="utf-8")
    data = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    for key, entry in price_entries(data["prices"]):
        usd = f"{entry['usd']:.10f}".rstrip("0").rstrip(".")
        row = next((line for line in page.splitlines() if line.startswith(f"| `{key}` |")), None)
        assert row is not None, f"docs/cost.md has no row for {key}"
        assert f"| {usd} |" in row and entry["as_of"] in row and entry["status"] in row, row
    assert "](cost.svg)" in page and (REPO_ROOT / "docs" / "cost.svg").exists()


def test_the_cost_page_shows_the_default_profiles_current_figures(production, lambda_stack):
    """The page's tables are bench.cost's output; regenerate them when the stacks or prices change:
    `.venv/bin/python -m bench.cost --chart docs/cost.svg`."""
    page = (REPO_ROOT / "docs" / "cost.md").read_text(encoding="utf-8")
    result = cost.estimate(
        ec2_settings(production),
        lambda_settings(lambda_stack),
        cost.DEFAULT_PROFILE,
        Prices.load(),
        10,
        1e6,
    )
    shown_totals = [float(total.replace(",", "")) for total in re.findall(r"^total\s+([\d,.]+)$", page, re.M)]
    assert shown_totals == [round(mode.total_usd, 2) for mode in result["costs"]], "docs/cost.md is stale"
    assert f"break-even at {result['break_evens'][0]:,} files/day" in page, "docs/cost.md is stale"


def _prices_file(tmp_path, change) -> str:
    data = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["prices"].pop("sqs_request"), "no 'sqs_request' price; add it"),
        (lambda d: d["prices"]["sqs_request"].update(usd=-0.4), "sqs_request usd is -0.4; give a finite"),
        (lambda d: d["prices"]["ebs_gb_month"]["gp3"].update(usd="NaN"), "ebs_gb_month[gp3] usd is 'NaN'"),
        (lambda d: d["prices"]["lambda_request"].update(per=0), "lambda_request per is 0"),
        (lambda d: d.pop("as_of"), "no 'as_of'; add it"),
        (lambda d: d["prices"]["s3_get_request"].pop("as_of"), "s3_get_request has no as_of"),
        (lambda d: d.update(as_of="last week"), "as_of 'last week' is not a date"),
    ],
)
def test_a_bad_prices_file_exits_2_naming_the_price_and_the_fix(change, message, tmp_path, capsys):
    path = _prices_file(tmp_path, change)
    assert cost.main(["--prices", path, "--chart", str(tmp_path / "c.svg")]) == 2
    error = capsys.readouterr().err
    assert message in error and path in error and "Traceback" not in error
    assert error.count("\n") == 1  # one line


def test_malformed_or_missing_prices_json_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert cost.main(["--prices", str(bad)]) == 2
    assert f"{bad}: not valid JSON" in capsys.readouterr().err
    assert cost.main(["--prices", str(tmp_path / "none.json")]) == 2
    assert "cannot be read" in capsys.readouterr().err


# --- billed duration: never past the timeout, rounded up to the millisecond -----------------------


def test_files_that_finish_are_billed_below_the_timeout_when_the_mean_is_above_it(prices):
    """Mean 100 s, p99 150 s against the fixture's 60 s timeout: most files time out, and the ones that
    finish took under 60 s; billing them at the 100 s mean billed invocations past their timeout."""
    settings = lambda_settings(small_stack(with_lambda=True))  # 1 GB, timeout 60 s, batches of 5
    profile = Profile(files_per_day=86_400, mean_size_mb=1, mean_seconds=100, p99_seconds=150)
    result = lambda_cost(settings, profile, prices)
    share = result.facts["share_above_timeout"]
    assert 0.5 < share < 1
    finishing_invocations = 86_400 * DAYS_PER_MONTH * (1 - share) / 5
    per_invocation = items(result)["Lambda duration (1024 MB, arm64)"] / 0.00001 / finishing_invocations
    assert per_invocation <= 5 * 60  # five records, each under the timeout
    # and the fitted distribution's own mean below the timeout (checked by sampling it)
    mu, sigma = lognormal(profile)
    rng = random.Random(7)
    draws = [math.exp(rng.gauss(mu, sigma)) for _ in range(200_000)]
    below = [x for x in draws if x < 60]
    assert per_invocation / 5 == pytest.approx(sum(below) / len(below), rel=0.01)


def test_lambda_duration_is_billed_at_least_one_millisecond_an_invocation(prices):
    settings = lambda_settings(small_stack(with_lambda=True))
    profile = Profile(files_per_day=86_400, mean_size_mb=1, mean_seconds=1e-6, p99_seconds=1e-6)
    got = items(lambda_cost(settings, profile, prices))
    invocations = 86_400 * DAYS_PER_MONTH / 5
    assert got["Lambda duration (1024 MB, arm64)"] == pytest.approx(invocations * 0.001 * 1.0 * 0.00001)


def test_a_p99_above_the_timeout_without_a_fit_prices_at_least_one_percent(prices):
    settings = lambda_settings(small_stack(with_lambda=True))  # timeout 60 s, maxReceiveCount 2
    result = lambda_cost(
        settings, Profile(files_per_day=1000, mean_size_mb=1, mean_seconds=1, p99_seconds=100), prices
    )
    files = 1000 * DAYS_PER_MONTH
    assert items(result)["Lambda duration of timed-out attempts"] == pytest.approx(
        files * 0.01 * 2 * 60 * 0.00001
    )
    assert any("at least 1% of files cannot finish, priced as 1%" in warning for warning in result.warnings)


def test_a_function_below_one_vcpu_warns_that_the_profiles_seconds_are_optimistic(prices):
    """128 MB gets 128/1769 of a vCPU: at the same seconds it looked 16x cheaper than 2048 MB."""
    settings = lambda_settings(small_stack(with_lambda=True))  # 1024 MB
    result = lambda_cost(settings, Profile(1000, 1, 1, 2), prices)
    assert any("1024 MB gives the function 0.58 of a vCPU" in warning for warning in result.warnings)
    big = dataclasses.replace(settings, memory_mb=10240)
    assert not any("vCPU" in warning for warning in lambda_cost(big, Profile(1000, 1, 1, 2), prices).warnings)


def test_the_ec2_backlog_grows_only_past_every_slot_of_max_size_not_past_the_target(prices):
    """maxSize 3 x 2 slots: 5 busy slots need 8 instances at 60% but the 3 keep up (83% busy); 7 do not.
    The lambda side compares average concurrency with its maximum, at 100%: the same test for both."""
    settings = ec2_settings(small_stack(with_lambda=False))
    keeps_up = ec2_cost(settings, Profile(5 * 86_400, 1, 1, 1, utilisation=0.6), prices)
    assert keeps_up.facts["instances"] == 3 and keeps_up.facts["slots_needed"] == pytest.approx(5)
    assert not any("backlog grows" in warning for warning in keeps_up.warnings)
    assert any("keeps up at 83% busy" in warning for warning in keeps_up.warnings)
    falls_behind = ec2_cost(settings, Profile(7 * 86_400, 1, 1, 1, utilisation=0.6), prices)
    assert any("7.0 busy slots needed" in w and "backlog grows" in w for w in falls_behind.warnings)


def test_a_fixed_size_group_reports_where_its_slots_run_out(prices):
    """min = max (no scaling): the fleet is the same at every traffic; the capacity mark sits where its
    slots are all busy."""
    fixed = dataclasses.replace(ec2_settings(small_stack(with_lambda=False)), min_size=3, max_size=3)
    lam = lambda_settings(small_stack(with_lambda=True))
    profile = Profile(1000, 1, 1, 1)
    result = cost.estimate(fixed, lam, profile, prices, 10, 1_000_000)
    assert {ec2_cost(fixed, profile.with_files(f), prices).facts["instances"] for f in (10, 1e5, 1e6)} == {3}
    assert result["limits"]["ec2 fleet at maxSize"] == pytest.approx(6 * 86_400, rel=0.05)


def test_a_range_below_one_file_a_day_is_printed_as_given_not_rounded_to_zero(production, lambda_stack):
    prices = Prices.load()
    result = cost.estimate(
        ec2_settings(production), lambda_settings(lambda_stack), cost.DEFAULT_PROFILE, prices, 0.001, 0.01
    )
    text = cost.break_even_text(result, 0.001, 0.01)
    assert text == "no break-even between 0.001 and 0.01 files/day: lambda is cheaper throughout"
    assert cost.files_text(1_000_000) == "1,000,000" and cost.files_text(10) == "10"


def test_put_metric_data_is_billed_only_for_windows_with_data(prices):
    """worker/metrics.py skips an empty flush: at a file a day, one instance makes about 30 calls a
    month, not the 43,800 of a flush every 60 s."""
    settings = ec2_settings(small_stack(with_lambda=False))
    got = items(
        ec2_cost(settings, Profile(files_per_day=1, mean_size_mb=1, mean_seconds=1, p99_seconds=2), prices)
    )
    windows = HOURS_PER_MONTH * 3600 / 60
    assert got["CloudWatch PutMetricData"] == pytest.approx(windows * -math.expm1(-60 / 86_400) * 0.01 / 1000)
    assert got["CloudWatch PutMetricData"] * 1000 / 0.01 == pytest.approx(DAYS_PER_MONTH, rel=0.01)


def test_timed_out_attempts_are_received_again_and_never_deleted(prices):
    settings = lambda_settings(small_stack(with_lambda=True))  # maxReceiveCount 2, batches of 5
    profile = Profile(files_per_day=1000, mean_size_mb=1, mean_seconds=20, p99_seconds=90)
    result = lambda_cost(settings, profile, prices)
    files, share = 1000 * DAYS_PER_MONTH, result.facts["share_above_timeout"]
    finishing_batches, slow_attempts = files * (1 - share) / 5, files * share * 2
    requests = items(result)["SQS event source mapping receives and deletes"] * 1e6
    assert requests == pytest.approx(finishing_batches + slow_attempts + finishing_batches)
    ec2 = ec2_settings(small_stack(with_lambda=False))
    slow = Profile(files_per_day=1000, mean_size_mb=1, mean_seconds=100, p99_seconds=900)
    fleet = ec2_cost(ec2, slow, prices)
    ec2_share = fleet.facts["share_above_timeout"]
    got = items(fleet)
    assert got["SQS worker receives (with messages)"] * 1e6 == pytest.approx(files * (1 + ec2_share))
    assert got["SQS worker deletes (batched)"] * 1e6 == pytest.approx(files * (1 - ec2_share))


# --- egress, purchase option, architecture, relative speed: the assumptions the band spans ---------


def egress_cost(prices, egress: str, **settings_changes) -> dict[str, float]:
    settings = dataclasses.replace(ec2_settings(small_stack(with_lambda=False)), **settings_changes)
    profile = Profile(files_per_day=1_000, mean_size_mb=2, mean_seconds=1, p99_seconds=2)
    return items(ec2_cost(settings, profile, prices, Assumptions(egress=egress)))


def test_a_shared_nat_bills_only_the_data_through_it(prices):
    got = egress_cost(prices, "nat-shared")
    files = 1_000 * DAYS_PER_MONTH
    gigabytes = files * (2 * 1024 + INDEX_DOCUMENT_KB + API_KB_PER_FILE) / 1024**2
    [(name, usd)] = [(name, usd) for name, usd in got.items() if name.startswith("NAT")]
    assert "shared" in name and usd == pytest.approx(gigabytes * 0.05)


def test_a_dedicated_nat_bills_a_gateway_per_zone_all_month_and_the_data(prices):
    got = egress_cost(prices, "nat-dedicated", availability_zones=3)
    assert got["NAT gateways (dedicated, one per AZ: 3)"] == pytest.approx(3 * HOURS_PER_MONTH * 0.05)
    assert any(name.startswith("NAT data processed:") for name in got)


def test_endpoints_bill_each_api_in_each_zone_and_only_the_api_bytes(prices):
    got = egress_cost(prices, "vpc-endpoints", availability_zones=2, interface_endpoints=6)
    assert got["VPC interface endpoints (6 APIs x 2 AZs)"] == pytest.approx(12 * HOURS_PER_MONTH * 0.01)
    files = 1_000 * DAYS_PER_MONTH
    data = got["VPC endpoint data (API calls; S3 via the free gateway endpoint)"]
    assert data == pytest.approx(files * API_KB_PER_FILE / 1024**2 * 0.01)  # the uploads are not in it
    assert not any(name.startswith("NAT") for name in got)


def test_lambda_outside_a_vpc_pays_for_no_egress_whatever_the_fleet_uses(prices):
    settings = lambda_settings(small_stack(with_lambda=True))
    profile = Profile(files_per_day=1_000, mean_size_mb=2, mean_seconds=1, p99_seconds=2)
    totals = {
        egress: lambda_cost(settings, profile, prices, Assumptions(egress=egress)).total_usd
        for egress in ("nat-shared", "nat-dedicated", "vpc-endpoints")
    }
    assert len(set(totals.values())) == 1


def test_a_savings_plan_prices_the_instances_and_the_duration_not_the_requests(prices):
    profile = Profile(files_per_day=86_400, mean_size_mb=1, mean_seconds=1, p99_seconds=2)
    ec2 = ec2_settings(small_stack(with_lambda=False))
    lam = lambda_settings(small_stack(with_lambda=True))
    plan = Assumptions(purchase="savings-plan")
    assert items(ec2_cost(ec2, profile, prices, plan))["EC2 t.test Savings Plan"] == pytest.approx(730 * 0.75)
    on_demand, saved = (
        items(lambda_cost(lam, profile, prices)),
        items(lambda_cost(lam, profile, prices, plan)),
    )
    duration = "Lambda duration (1024 MB, arm64)"
    assert saved[duration] == pytest.approx(on_demand[duration] * 0.8)
    assert saved["Lambda requests"] == on_demand["Lambda requests"]


def test_a_faster_function_bills_fewer_seconds_and_fewer_files_past_the_timeout(prices):
    lam = lambda_settings(small_stack(with_lambda=True))  # timeout 60 s
    profile = Profile(files_per_day=10_000, mean_size_mb=1, mean_seconds=10, p99_seconds=90)
    same = lambda_cost(lam, profile, prices)
    twice = lambda_cost(lam, profile, prices, Assumptions(relative_speed=2))
    assert twice.facts["share_above_timeout"] < same.facts["share_above_timeout"]
    duration = "Lambda duration (1024 MB, arm64)"
    assert items(twice)[duration] < items(same)[duration]
    no_tail = Profile(files_per_day=10_000, mean_size_mb=1, mean_seconds=1, p99_seconds=2)
    assert items(lambda_cost(lam, no_tail, prices, Assumptions(relative_speed=2)))[duration] == pytest.approx(
        items(lambda_cost(lam, no_tail, prices))[duration] / 2
    )


def test_the_architecture_assumption_prices_the_other_architecture(prices):
    lam = lambda_settings(small_stack(with_lambda=True))  # arm64
    profile = Profile(files_per_day=1_000, mean_size_mb=1, mean_seconds=1, p99_seconds=2)
    arm = items(lambda_cost(lam, profile, prices))["Lambda duration (1024 MB, arm64)"]
    x86 = items(lambda_cost(lam, profile, prices, Assumptions(lambda_architecture="x86_64")))
    assert x86["Lambda duration (1024 MB, x86_64)"] == pytest.approx(arm * 1.25)


@pytest.fixture(scope="module")
def default_result():
    ec2, lam = cost.read_settings(REPO_ROOT, "production", "lambda")  # with the endpoints counted
    assert ec2.interface_endpoints == 6 and ec2.network_egress == "nat"
    return ec2, lam, cost.estimate(ec2, lam, cost.DEFAULT_PROFILE, Prices.load(), 10, 1e6)


def test_the_band_holds_the_defaults_point_and_each_end_is_the_break_even_of_its_assumptions(default_result):
    ec2, lam, result = default_result
    (low, low_at), (high, high_at) = result["band"]["low"], result["band"]["high"]
    [default, *_] = result["break_evens"]
    assert low <= default <= high and low < high
    assert result["band"]["combinations"] == 3 * 2 * len(result["band"]["tried"]["relative_speed"]) * 2
    for point, assumptions in ((low, low_at), (high, high_at)):
        again = cost.estimate(ec2, lam, cost.DEFAULT_PROFILE, Prices.load(), 10, 1e6, assumptions)
        assert again["break_evens"][0] == pytest.approx(point, rel=0.01)


def test_the_band_tries_each_named_alternative(default_result):
    ec2, lam, result = default_result
    tried = result["band"]["tried"]
    assert tried["egress"] == ["nat-shared", "nat-dedicated", "vpc-endpoints"]
    assert tried["lambda_architecture"] == ["x86_64", "arm64"]
    assert tried["purchase"] == ["on-demand", "savings-plan"]
    # the vCPU ratio: 2048 MB is more than one vCPU, so a file gets one; an m6i.large slot gets 2 / 4
    assert tried["relative_speed"] == [1.0, 2.0]


def test_the_default_egress_is_the_stacks_own(production):
    assert cost_model_default(production) == "nat-shared"
    endpoints = render_program(
        REPO_ROOT, "production", {"cis-file-pipeline:workerNetworkEgress": "vpc-endpoints"}
    )
    settings = ec2_settings(endpoints)
    assert (settings.interface_endpoints, settings.availability_zones) == (6, 2)
    assert cost_model_default(endpoints) == "vpc-endpoints"


def cost_model_default(stack) -> str:
    from bench.cost_model import default_egress

    return default_egress(ec2_settings(stack))


def test_the_text_names_the_band_its_ends_and_each_prices_status(tmp_path, capsys):
    assert cost.main(["--chart", str(tmp_path / "c.svg")]) == 0
    out = capsys.readouterr().out
    band = re.search(r"^break-even band: between ([\d,]+) and ([\d,]+) files/day", out, re.M)
    assert band, out
    assert re.search(r"^  low end:  egress=\S+, lambda=\S+, relative speed=\S+, purchase=\S+$", out, re.M)
    assert re.search(r"^  high end: egress=", out, re.M)
    assert re.search(r"^  default:  egress=nat-shared, .* -> [\d,]+ files/day$", out, re.M)
    header = next(line for line in out.splitlines() if line.startswith("item "))
    assert "price " in header  # the status column
    assert re.search(r"^NAT data processed .* sourced +[\d.]+$", out, re.M)
    assert re.search(r"^prices: \d+ of \d+ sourced, \d+ assumed$", out, re.M)
    assert re.search(r"^  sourced  nat_gateway_gb: https://\S+ \(read \d{4}-\d\d-\d\d\)$", out, re.M)
    assert re.search(r"^  assumed  sqs_request: \S", out, re.M)
    assert re.search(r"break_even_band=\d+-\d+$", out.strip())


def test_json_says_for_each_price_whether_it_is_sourced_or_assumed(tmp_path, capsys):
    assert cost.main(["--json", "--egress", "vpc-endpoints", "--chart", str(tmp_path / "c.svg")]) == 0
    report = json.loads(capsys.readouterr().out)
    for mode in report["modes"].values():
        for item in mode["items"]:
            source = item["price_source"]
            assert source["status"] in {"sourced", "assumed"} and source["note"], item
            assert (source["source"] or "").startswith("https://") == (source["status"] == "sourced"), item
    names = [item["item"] for item in report["modes"]["ec2"]["items"]]
    assert "VPC interface endpoints (6 APIs x 2 AZs)" in names
    assert report["assumptions"]["egress"] == "vpc-endpoints"
    band = report["break_even_band"]
    assert (
        band["low"]["files_per_day"] <= report["break_even_files_per_day"][0] <= band["high"]["files_per_day"]
    )
    assert set(band["low"]["assumptions"]) == {"egress", "lambda_architecture", "relative_speed", "purchase"}
    assert {price["price"] for price in report["prices_used"]} >= {
        "vpc_interface_endpoint_hour",
        "ec2_instance_hour[m6i.large]",
    }


def test_a_price_without_its_status_is_refused(tmp_path, capsys):
    path = _prices_file(tmp_path, lambda d: d["prices"]["nat_gateway_gb"].pop("status"))
    assert cost.main(["--prices", path, "--chart", str(tmp_path / "c.svg")]) == 2
    assert "nat_gateway_gb status is None; give" in capsys.readouterr().err


def test_a_program_without_endpoints_leaves_them_out_of_the_band_and_refuses_the_flag(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setattr(
        cost, "render_stack", lambda program, stack: small_stack(with_lambda=stack == "lambda")
    )
    monkeypatch.setattr(cost.Prices, "load", classmethod(lambda cls, path: cls(ROUND_PRICES)))
    fast = ["--mean-seconds", "1", "--p99-seconds", "2", "--chart", str(tmp_path / "c.svg")]
    assert cost.main(["--json", *fast]) == 0
    assert json.loads(capsys.readouterr().out)["break_even_band_tried"]["egress"] == [
        "nat-shared",
        "nat-dedicated",
    ]
    assert cost.main(["--egress", "vpc-endpoints", *fast]) == 2
    assert (
        "--egress vpc-endpoints: stack production declares no interface VPC endpoints"
        in capsys.readouterr().err
    )

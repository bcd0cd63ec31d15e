"""Cost: each compute mode's monthly cost from the stack's settings and a traffic profile, and where they cross.

Renders two stacks offline, each as its stack file configures it: the ec2 mode from `--stack`
(production) and the lambda mode from `--lambda-stack` (Pulumi.lambda.yaml: a lambda stack needs its
own visibility timeout and maxReceiveCount, so production with `compute=lambda` is not a valid
stack). Reads each mode's settings from its resources (bench.cost_settings), prices them with bench/prices_ap_northeast_1.json
(each price with its source URL and date; bench.cost_model says what is assumed), prints a table per
mode, searches files/day for the traffic where the cheaper mode changes, and writes a chart (SVG).

Last line, machine-readable: `files_per_day=<n> ec2_usd=<f> lambda_usd=<f> break_even_files_per_day=<n|none>`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from bench.cost_chart import write_chart
from bench.cost_model import (
    PRICES_FILE,
    LineItem,
    ModeCost,
    PriceError,
    Prices,
    Profile,
    break_evens,
    ec2_cost,
    lambda_cost,
    log_grid,
)
from bench.cost_settings import (
    Ec2Settings,
    LambdaSettings,
    StackSettingsError,
    ec2_settings,
    lambda_settings,
)
from preview.entrypoint import run_command
from preview.project import ProjectError, load_project
from preview.render import ProgramError, RenderedStack, render_program

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPUTE_OUTPUT = "computeMode"
"""The stack output that says which compute mode a stack declares (both modes export it)."""
DEFAULT_PROFILE = Profile(files_per_day=5_000, mean_size_mb=4, mean_seconds=60, p99_seconds=720)
"""Illustrative, not measured: most uploads small, the large ones 10-15 minutes (the incident)."""


MAX_FILES_PER_DAY = 1e10
"""About 115,000 files a second: far beyond both stacks' capacity; above it the sums overflow."""
MAX_SECONDS = 7 * 86_400
"""A week per file: far beyond any timeout the stacks allow (Lambda's 900 s, the worker's hours)."""
MIN_UTILISATION = 0.01


def positive(name: str, fix: str, least: float = 0.0, most: float = math.inf) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r} is not a number; {fix}") from None
        if not value > 0 or value == math.inf:
            raise argparse.ArgumentTypeError(f"{name} {text!r} must be a positive number; {fix}")
        if value < least or value > most:
            raise argparse.ArgumentTypeError(
                f"{name} {text!r} is outside the {least:g} to {most:g} the estimate handles; {fix}"
            )
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stack",
        default="production",
        help="the ec2-mode stack, rendered as its stack file configures it (default production)",
    )
    parser.add_argument(
        "--lambda-stack",
        default="lambda",
        help="the lambda-mode stack, rendered as its stack file configures it (default lambda)",
    )
    parser.add_argument("--program", type=Path, default=REPO_ROOT, help="the Pulumi program directory")
    parser.add_argument(
        "--files-per-day",
        type=positive(
            "--files-per-day", "give uploads per day, e.g. --files-per-day 5000", most=MAX_FILES_PER_DAY
        ),
        default=DEFAULT_PROFILE.files_per_day,
    )
    parser.add_argument(
        "--mean-size-mb",
        type=positive("--mean-size-mb", "give the mean upload size in MB, e.g. --mean-size-mb 4"),
        default=DEFAULT_PROFILE.mean_size_mb,
    )
    parser.add_argument(
        "--mean-seconds",
        type=positive(
            "--mean-seconds",
            "give the mean processing time in seconds, e.g. --mean-seconds 60",
            most=MAX_SECONDS,
        ),
        default=DEFAULT_PROFILE.mean_seconds,
    )
    parser.add_argument(
        "--p99-seconds",
        type=positive(
            "--p99-seconds",
            "give the 99th-percentile processing time, e.g. --p99-seconds 720",
            most=MAX_SECONDS,
        ),
        default=DEFAULT_PROFILE.p99_seconds,
    )
    parser.add_argument(
        "--utilisation",
        type=positive(
            "--utilisation",
            "give the share of worker slots kept busy, e.g. --utilisation 0.7",
            least=MIN_UTILISATION,
            most=1,
        ),
        default=DEFAULT_PROFILE.utilisation,
        help="target share of the ec2 workers' slots kept busy (default 0.7)",
    )
    parser.add_argument(
        "--range",
        nargs=2,
        type=positive(
            "--range",
            "give the lowest and highest files/day, e.g. --range 10 1000000",
            most=MAX_FILES_PER_DAY,
        ),
        default=(10.0, 1_000_000.0),
        metavar=("LOW", "HIGH"),
        help="files/day searched for the break-even and charted (default 10 1000000)",
    )
    parser.add_argument("--prices", type=Path, default=PRICES_FILE, help="the dated prices file")
    parser.add_argument(
        "--chart", type=Path, default=REPO_ROOT / "build" / "cost.svg", help="where the SVG chart goes"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    return parser


def render_stack(program: Path, stack: str) -> RenderedStack:
    """The stack as its file configures it; a name without a file would render the project's defaults,
    which is not a stack anyone deploys (and for --stack would pass as ec2 silently)."""
    project = load_project(program)
    stack_file = project.stack_file(stack)
    if not stack_file.exists():
        known = sorted(
            path.name[len("Pulumi.") : -len(".yaml")] for path in stack_file.parent.glob("Pulumi.*.yaml")
        )
        raise StackSettingsError(
            f"stack {stack!r}: there is no {stack_file.name} in {stack_file.parent}; give --stack or "
            f"--lambda-stack a stack that has a stack file ({', '.join(known) or 'none found'})"
        )
    return render_program(program, stack)


def require_compute(program: Path, rendered: RenderedStack, mode: str, flag: str, example: str) -> None:
    """Each flag names a stack of one mode; a stack of the other mode would price the wrong resources."""
    found = rendered.outputs.get(COMPUTE_OUTPUT)
    if found != mode:
        stack_file = Path(program) / f"Pulumi.{rendered.stack}.yaml"
        missing = "" if stack_file.exists() else f" (there is no {stack_file.name}: the project's defaults)"
        raise StackSettingsError(
            f"{flag} {rendered.stack}: the stack renders compute {found!r}{missing} ({COMPUTE_OUTPUT} "
            f"output), but {flag} names the {mode} mode's stack; give a stack whose file sets "
            f"{rendered.project}:compute: {mode}, e.g. {flag} {example}"
        )


def read_settings(program: Path, stack: str, lambda_stack: str) -> tuple[Ec2Settings, LambdaSettings]:
    ec2_stack = render_stack(program, stack)
    require_compute(program, ec2_stack, "ec2", "--stack", "production")
    ec2 = ec2_settings(ec2_stack)
    rendered_lambda = render_stack(program, lambda_stack)
    require_compute(program, rendered_lambda, "lambda", "--lambda-stack", "lambda")
    return ec2, lambda_settings(rendered_lambda)


def validate(profile: Profile, low: float, high: float) -> None:
    if profile.p99_seconds < profile.mean_seconds:
        raise ValueError(
            f"--p99-seconds {profile.p99_seconds:g} is below --mean-seconds {profile.mean_seconds:g}: "
            "a 99th percentile cannot be below the mean of a right-skewed processing time; raise it"
        )
    if profile.utilisation > 1:
        raise ValueError(f"--utilisation {profile.utilisation:g} is above 1; give a share such as 0.7")
    if low >= high:
        raise ValueError(
            f"--range {low:g} {high:g}: the first must be below the second, e.g. --range 10 1000000"
        )


def estimate(
    ec2: Ec2Settings, lam: LambdaSettings, profile: Profile, prices: Prices, low: float, high: float
) -> dict[str, Any]:
    costs = [ec2_cost(ec2, profile, prices), lambda_cost(lam, profile, prices)]

    def difference(files: float) -> float:
        at = profile.with_files(files)
        return ec2_cost(ec2, at, prices).total_usd - lambda_cost(lam, at, prices).total_usd

    crossings = break_evens(difference, low, high)
    curve, limits = [], {}
    for files in log_grid(low, high, 200):
        ec2_at, lambda_at = (
            ec2_cost(ec2, profile.with_files(files), prices),
            lambda_cost(lam, profile.with_files(files), prices),
        )
        curve.append((files, ec2_at.total_usd, lambda_at.total_usd))
        if (
            ec2_at.facts["slots_needed"] > ec2.concurrency * ec2.max_size
        ):  # as lambda's: at 100%, not the target
            limits.setdefault("ec2 fleet at maxSize", files)
        if lam.maximum_concurrency and lambda_at.facts["concurrency_needed"] > lam.maximum_concurrency:
            limits.setdefault("lambda at maximum concurrency", files)
    return {
        "costs": costs,
        "break_evens": crossings,
        "curve": curve,
        "limits": limits,
        "difference": difference,
    }


def cheaper_below(result: dict[str, Any], low: float) -> str:
    return "lambda" if result["difference"](low) > 0 else "ec2"


def table(cost: ModeCost) -> str:
    rows = [("item", "quantity", "unit", "price USD", "monthly USD")]
    rows += [
        (item.item, f"{item.quantity:,.2f}", item.unit, price_text(item), f"{item.monthly_usd:,.2f}")
        for item in cost.items
    ]
    rows.append(("total", "", "", "", f"{cost.total_usd:,.2f}"))
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2])]
        cells += [row[3].rjust(widths[3]), row[4].rjust(widths[4])]
        lines.append("  ".join(cells).rstrip())
        if number in (0, len(rows) - 2):
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def price_text(item: LineItem) -> str:
    """The price as the pricing page quotes it: "0.40 / 1,000,000", "0.124"."""
    price = f"{item.unit_price_usd * item.per:.10f}".rstrip("0").rstrip(".")
    return price if item.per == 1 else f"{price} / {item.per:,.0f}"


def files_text(files: float) -> str:
    """Files/day as read: 1,000,000 for large figures, 0.001 (not 0) for a fraction of a file a day."""
    return f"{files:,.0f}" if files >= 100 else f"{files:g}"


def break_even_text(result: dict[str, Any], low: float, high: float) -> str:
    crossings = result["break_evens"]
    first = cheaper_below(result, low)
    if not crossings:
        return (
            f"no break-even between {files_text(low)} and {files_text(high)} files/day: {first} is cheaper "
            "throughout"
        )
    other = "ec2" if first == "lambda" else "lambda"
    text = f"break-even at {crossings[0]:,.0f} files/day: {first} is cheaper below, {other} above"
    if len(crossings) > 1:
        text += " (the lines cross again at " + ", ".join(f"{c:,.0f}" for c in crossings[1:]) + " files/day:"
        text += " ec2 cost steps with each instance added)"
    return text


def as_json(
    result: dict[str, Any],
    profile: Profile,
    prices: Prices,
    chart: Path | None,
    stacks: dict[str, str],
    search: tuple[float, float],
) -> dict[str, Any]:
    """Everything the text shows: the tables (with each price as quoted), warnings, the break-even and
    which mode is cheaper below it, the capacity marks, the range searched and the chart."""
    low, high = search
    return {
        "profile": profile.__dict__,
        "stacks": stacks,
        "prices": {"file": prices.path.name, "as_of": prices.data["as_of"], "region": prices.data["region"]},
        "modes": {
            cost.mode: {
                "total_usd": round(cost.total_usd, 4),
                "items": [
                    {
                        "item": item.item,
                        "quantity": item.quantity,
                        "unit": item.unit,
                        "unit_price_usd": item.unit_price_usd,
                        "price_quoted": price_text(item),
                        "monthly_usd": round(item.monthly_usd, 4),
                    }
                    for item in cost.items
                ],
                "warnings": cost.warnings,
                "facts": cost.facts,
            }
            for cost in result["costs"]
        },
        "break_even_files_per_day": result["break_evens"],
        "cheaper_below_break_even": cheaper_below(result, low),
        "break_even_text": break_even_text(result, low, high),
        "search_range_files_per_day": [low, high],
        "capacity_limits_files_per_day": {name: round(files) for name, files in result["limits"].items()},
        "chart": str(chart) if chart else None,
    }


def main(argv: list[str] | None = None) -> int:
    options = parser().parse_args(argv)
    profile = Profile(
        files_per_day=options.files_per_day,
        mean_size_mb=options.mean_size_mb,
        mean_seconds=options.mean_seconds,
        p99_seconds=options.p99_seconds,
        utilisation=options.utilisation,
    )
    low, high = options.range
    try:
        validate(profile, low, high)
        prices = Prices.load(options.prices)
        if not options.json:
            print(
                f"cost: rendering stacks {options.stack} (ec2) and {options.lambda_stack} (lambda) ...",
                file=sys.stderr,
                flush=True,
            )
        ec2, lam = read_settings(options.program, options.stack, options.lambda_stack)
        result = estimate(ec2, lam, profile, prices, low, high)
    except (ValueError, PriceError, StackSettingsError, ProgramError, ProjectError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        chart = write_chart(result["curve"], result["break_evens"], result["limits"], options.chart, profile)
    except OSError as error:
        print(
            f"error: --chart {options.chart}: cannot be written ({error.strerror or error}); give a path in a "
            "writable directory, e.g. --chart build/cost.svg",
            file=sys.stderr,
        )
        return 2
    ec2_total, lambda_total = (cost.total_usd for cost in result["costs"])
    crossing = result["break_evens"][0] if result["break_evens"] else "none"
    stacks = {"ec2": options.stack, "lambda": options.lambda_stack}
    if options.json:
        report = as_json(result, profile, prices, chart, stacks, (low, high))
        print(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False))
        return 0
    print(
        f"Profile: {profile.files_per_day:,.0f} files/day, mean {profile.mean_size_mb:g} MB, processing mean "
        f"{profile.mean_seconds:g} s, p99 {profile.p99_seconds:g} s; prices {prices.data['region']} as of "
        f"{prices.data['as_of']} ({prices.path.name}; free tiers not modelled)"
    )
    for cost in result["costs"]:
        facts = ", ".join(f"{k}={v}" for k, v in cost.facts.items())
        print(f"\n{cost.mode} mode, stack {stacks[cost.mode]}  ({facts})")
        print(table(cost))
        for warning in cost.warnings:
            print(f"warning: {warning}")
    print(f"\n{break_even_text(result, low, high)}")
    for name, files in result["limits"].items():
        print(
            f"capacity: {name} from about {files:,.0f} files/day (beyond it the backlog grows: the estimate there is not a steady state)"
        )
    print(f"chart: {chart}")
    print(
        f"files_per_day={profile.files_per_day:g} ec2_usd={ec2_total:.2f} lambda_usd={lambda_total:.2f} "
        f"break_even_files_per_day={crossing}"
    )
    return 0


if __name__ == "__main__":
    run_command(main, "python -m bench.cost")

"""Cost: each compute mode's monthly cost from the stack's settings and a traffic profile, and where they cross.

Renders two stacks offline, each as its stack file configures it: the ec2 mode from `--stack`
(production) and the lambda mode from `--lambda-stack` (Pulumi.lambda.yaml: a lambda stack needs its
own visibility timeout and maxReceiveCount, so production with `compute=lambda` is not a valid
stack). Reads each mode's settings from its resources (bench.cost_settings), prices them with bench/prices_ap_northeast_1.json
(each price with its source URL and date; bench.cost_model says what is assumed), prints a table per
mode, searches files/day for the traffic where the cheaper mode changes, and writes a chart (SVG).

The break-even depends on assumptions beyond the stack and the profile - the fleet's egress, Lambda's
architecture, the relative speed of a function and an EC2 slot, the purchase option - each a flag (the
default: the stacks' own choices, the same seconds in both modes, On-Demand); the estimate prints the
band of break-evens over all of them, naming the assumptions at each end, with the default's point.

Last line, machine-readable: `files_per_day=<n> ec2_usd=<f> lambda_usd=<f> break_even_files_per_day=<n|none>
break_even_band=<low>-<high>`.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any

from bench.cost_chart import write_chart
from bench.cost_model import (
    ARCHITECTURES,
    EGRESS_CHOICES,
    PRICES_FILE,
    PURCHASE_OPTIONS,
    Assumptions,
    LineItem,
    ModeCost,
    PriceError,
    Prices,
    Profile,
    break_evens,
    default_egress,
    ec2_cost,
    lambda_cost,
    log_grid,
    vcpu_speed_ratio,
)
from bench.cost_settings import (
    Ec2Settings,
    LambdaSettings,
    StackSettingsError,
    ec2_settings,
    interface_endpoint_count,
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
    parser.add_argument(
        "--egress",
        choices=EGRESS_CHOICES,
        help="how the ec2 workers reach AWS: the VPC's NAT (shared: data only), a NAT gateway per AZ for the "
        "fleet (dedicated), or the stack's VPC endpoints (default: the ec2 stack's workerNetworkEgress, nat "
        "priced as nat-shared)",
    )
    parser.add_argument(
        "--lambda-architecture",
        choices=ARCHITECTURES,
        help="the function's architecture (default: the lambda stack's)",
    )
    parser.add_argument(
        "--relative-speed",
        type=positive(
            "--relative-speed",
            "give how many times faster a function processes a file than an EC2 slot, e.g. 1",
            least=0.01,
            most=100,
        ),
        default=1.0,
        help="how many times faster a function processes a file than one EC2 worker slot (default 1: the "
        "same seconds; CPU-bound work runs at the vCPU ratio the band also tries)",
    )
    parser.add_argument(
        "--purchase",
        choices=PURCHASE_OPTIONS,
        default="on-demand",
        help="On-Demand, or a 1-year Compute Savings Plan for both modes (default on-demand)",
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
    if not ec2.interface_endpoints:  # nat: count what vpc-endpoints mode would declare, to price it too
        ec2 = dataclasses.replace(ec2, interface_endpoints=_endpoints_if_chosen(program, ec2_stack))
    rendered_lambda = render_stack(program, lambda_stack)
    require_compute(program, rendered_lambda, "lambda", "--lambda-stack", "lambda")
    return ec2, lambda_settings(rendered_lambda)


def _endpoints_if_chosen(program: Path, rendered: RenderedStack) -> int:
    """The interface endpoints the stack declares with workerNetworkEgress=vpc-endpoints (0 for a program
    that has no such setting: the band then leaves vpc-endpoints out, and --egress vpc-endpoints is refused)."""
    key = f"{rendered.project}:workerNetworkEgress"
    if not load_project(program).stack_file(rendered.stack).exists():
        return 0
    try:
        return interface_endpoint_count(render_program(program, rendered.stack, {key: "vpc-endpoints"}))
    except ProgramError:
        return 0


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
    ec2: Ec2Settings,
    lam: LambdaSettings,
    profile: Profile,
    prices: Prices,
    low: float,
    high: float,
    assumptions: Assumptions | None = None,
) -> dict[str, Any]:
    assumptions = assumptions or Assumptions(egress=default_egress(ec2))
    costs = [ec2_cost(ec2, profile, prices, assumptions), lambda_cost(lam, profile, prices, assumptions)]
    difference = _difference(ec2, lam, profile, prices, assumptions)
    crossings = break_evens(difference, low, high)
    curve, limits = [], {}
    for files in log_grid(low, high, 200):
        ec2_at, lambda_at = (
            ec2_cost(ec2, profile.with_files(files), prices, assumptions),
            lambda_cost(lam, profile.with_files(files), prices, assumptions),
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
        "assumptions": assumptions,
        "band": band(ec2, lam, profile, prices, low, high, assumptions),
    }


def _difference(
    ec2: Ec2Settings, lam: LambdaSettings, profile: Profile, prices: Prices, assumptions: Assumptions
) -> Any:
    def difference(files: float) -> float:
        at = profile.with_files(files)
        return (
            ec2_cost(ec2, at, prices, assumptions).total_usd
            - lambda_cost(lam, at, prices, assumptions).total_usd
        )

    return difference


def alternatives(ec2: Ec2Settings, lam: LambdaSettings, chosen: Assumptions) -> dict[str, list[Any]]:
    """Each assumption's values the band tries: the chosen one and its named alternatives."""
    speeds = [chosen.relative_speed, 1.0]
    ratio = vcpu_speed_ratio(ec2, lam)
    if ratio is not None:
        speeds.append(round(ratio, 3))
    return {
        # a program that declares no endpoints in either mode cannot price them
        "egress": [e for e in EGRESS_CHOICES if e != "vpc-endpoints" or ec2.interface_endpoints],
        "lambda_architecture": list(ARCHITECTURES),
        "relative_speed": sorted(set(speeds)),
        "purchase": list(PURCHASE_OPTIONS),
    }


def band(
    ec2: Ec2Settings,
    lam: LambdaSettings,
    profile: Profile,
    prices: Prices,
    low: float,
    high: float,
    chosen: Assumptions,
) -> dict[str, Any]:
    """The first break-even under every combination of the assumptions' values: its lowest and highest,
    each with the assumptions that give it. A combination with no break-even in the range counts as below
    `low` (ec2 cheaper throughout) or above `high` (lambda cheaper throughout)."""
    options = alternatives(ec2, lam, chosen)
    points = []
    for values in itertools.product(*options.values()):
        assumptions = Assumptions(**dict(zip(options, values, strict=True)))
        difference = _difference(ec2, lam, profile, prices, assumptions)
        crossings = break_evens(difference, low, high, points=120)
        if crossings:
            point = float(crossings[0])
        else:
            point = 0.0 if difference(low) <= 0 else math.inf
        points.append((point, assumptions))
    lowest, highest = min(points, key=lambda p: p[0]), max(points, key=lambda p: p[0])
    return {"low": lowest, "high": highest, "tried": options, "combinations": len(points)}


def cheaper_below(result: dict[str, Any], low: float) -> str:
    return "lambda" if result["difference"](low) > 0 else "ec2"


def table(cost: ModeCost) -> str:
    rows = [("item", "quantity", "unit", "price USD", "price", "monthly USD")]
    rows += [
        (
            item.item,
            f"{item.quantity:,.2f}",
            item.unit,
            price_text(item),
            (item.source or {}).get("status", ""),
            f"{item.monthly_usd:,.2f}",
        )
        for item in cost.items
    ]
    rows.append(("total", "", "", "", "", f"{cost.total_usd:,.2f}"))
    widths = [max(len(row[column]) for row in rows) for column in range(6)]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2])]
        cells += [row[3].rjust(widths[3]), row[4].ljust(widths[4]), row[5].rjust(widths[5])]
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


def band_end_text(point: float, low: float, high: float) -> str:
    if point == 0:
        return f"below {files_text(low)}"
    if math.isinf(point):
        return f"above {files_text(high)}"
    return f"{point:,.0f}"


def band_text(result: dict[str, Any], lam: str, low: float, high: float) -> str:
    """ "between X and Y files/day", the assumptions at each end, and where the default's point lies."""
    found = result["band"]
    (low_point, low_at), (high_point, high_at) = found["low"], found["high"]
    default = result["break_evens"][0] if result["break_evens"] else None
    default_text = f"{default:,.0f}" if default is not None else "none in the range"
    return (
        f"break-even band: between {band_end_text(low_point, low, high)} and "
        f"{band_end_text(high_point, low, high)} files/day over {found['combinations']} combinations of "
        f"the assumptions\n  low end:  {low_at.describe(lam)}\n  high end: {high_at.describe(lam)}\n"
        f"  default:  {result['assumptions'].describe(lam)} -> {default_text} files/day"
    )


def prices_used(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every price the estimate read, once, with its status: sourced (the source and its date) or assumed
    (the reason)."""
    seen: dict[str, dict[str, Any]] = {}
    for cost in result["costs"]:
        for item in cost.items:
            if item.source:
                seen.setdefault(item.source["price"], item.source)
    return list(seen.values())


def price_lines(result: dict[str, Any]) -> list[str]:
    used = prices_used(result)
    sourced = sum(1 for source in used if source["status"] == "sourced")
    lines = [f"prices: {sourced} of {len(used)} sourced, {len(used) - sourced} assumed"]
    for source in used:
        if source["status"] == "sourced":
            lines.append(f"  sourced  {source['price']}: {source['source']} (read {source['as_of']})")
        else:
            reason = source["note"].split(". ")[0].rstrip(".")
            lines.append(f"  assumed  {source['price']}: {reason}")
    return lines


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
                        "price_source": item.source,
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
        "assumptions": dataclasses.asdict(result["assumptions"]),
        "break_even_band": {
            end: {
                "files_per_day": None if math.isinf(point) or point == 0 else point,
                "beyond_range": "below" if point == 0 else "above" if math.isinf(point) else None,
                "assumptions": dataclasses.asdict(at),
            }
            for end, (point, at) in (("low", result["band"]["low"]), ("high", result["band"]["high"]))
        },
        "break_even_band_tried": result["band"]["tried"],
        "prices_used": prices_used(result),
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
        if options.egress == "vpc-endpoints" and not ec2.interface_endpoints:
            raise StackSettingsError(
                f"--egress vpc-endpoints: stack {options.stack} declares no interface VPC endpoints, even with "
                "workerNetworkEgress=vpc-endpoints; give --egress nat-shared or nat-dedicated"
            )
        assumptions = Assumptions(
            egress=options.egress or default_egress(ec2),
            lambda_architecture=options.lambda_architecture or lam.architecture,
            relative_speed=options.relative_speed,
            purchase=options.purchase,
        )
        result = estimate(ec2, lam, profile, prices, low, high, assumptions)
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
    band_ends = "-".join(
        band_end_text(point, low, high).replace(",", "").replace(" ", "_")
        for point, _ in (result["band"]["low"], result["band"]["high"])
    )
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
    print(band_text(result, lam.architecture, low, high))
    print("\n".join(price_lines(result)))
    for name, files in result["limits"].items():
        print(
            f"capacity: {name} from about {files:,.0f} files/day (beyond it the backlog grows: the estimate there is not a steady state)"
        )
    print(f"chart: {chart}")
    print(
        f"files_per_day={profile.files_per_day:g} ec2_usd={ec2_total:.2f} lambda_usd={lambda_total:.2f} "
        f"break_even_files_per_day={crossing} break_even_band={band_ends}"
    )
    return 0


if __name__ == "__main__":
    run_command(main, "python -m bench.cost")

"""The cost chart: monthly USD of both modes against files/day (log scale), break-evens marked, as SVG.

matplotlib is a pinned dev dependency (sandbox.drill_report draws with it too); the SVG carries no
date and fixed element ids, so the committed chart changes only when the figures do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.cost_model import Profile


def write_chart(
    curve: Sequence[tuple[float, float, float]],
    crossings: Sequence[float],
    limits: Mapping[str, float],
    path: Path,
    profile: Profile,
) -> Path:
    import matplotlib  # noqa: PLC0415 - only the chart needs it

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "bench.cost"
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axis = plt.subplots(figsize=(8, 4.5))
    files = [point[0] for point in curve]
    axis.plot(files, [point[1] for point in curve], label="ec2 (Auto Scaling Group)")
    axis.plot(files, [point[2] for point in curve], label="lambda (event source mapping)")
    for number, crossing in enumerate(crossings):
        label = "break-even" if number == 0 else None
        axis.axvline(crossing, color="grey", linestyle="--", linewidth=1, label=label)
        axis.annotate(
            f"break-even\n{crossing:,.0f} files/day",
            (crossing, _cost_at(curve, crossing)),
            xytext=(8, -28),
            textcoords="offset points",
            fontsize=9,
        )
    for name, limit in limits.items():
        colour = "tab:blue" if name.startswith("ec2") else "tab:orange"
        axis.axvline(limit, color=colour, linestyle="-.", linewidth=1, label=f"{name} (backlog grows)")
    axis.axvline(
        profile.files_per_day, color="black", linestyle=":", linewidth=1, label="the profile's traffic"
    )
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("files per day")
    axis.set_ylabel("USD per month (log)")
    axis.set_title(
        f"Monthly cost by mode (mean {profile.mean_seconds:g} s, p99 {profile.p99_seconds:g} s per file)"
    )
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    return path


def _cost_at(curve: Sequence[tuple[float, float, float]], files: float) -> float:
    """The ec2 line's cost at the grid point nearest `files` (where the two lines meet)."""
    return min(curve, key=lambda point: abs(point[0] - files))[1]

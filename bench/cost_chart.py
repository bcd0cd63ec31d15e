"""The cost chart: monthly USD of both modes against files/day (log scale), break-evens marked, as SVG.

matplotlib is a pinned dev dependency (sandbox.drill_report draws with it too); the SVG carries no
date and fixed element ids, so the committed chart changes only when the figures do.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.cost_model import Profile


def write_chart(
    curve: Sequence[tuple[float, float, float]], crossings: Sequence[float], path: Path, profile: Profile
) -> Path:
    import matplotlib  # noqa: PLC0415 - only the chart needs it

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "bench.cost"
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axis = plt.subplots(figsize=(8, 4.5))
    files = [point[0] for point in curve]
    axis.plot(files, [point[1] for point in curve], label="ec2 (Auto Scaling Group)")
    axis.plot(files, [point[2] for point in curve], label="lambda (event source mapping)")
    for crossing in crossings:
        axis.axvline(crossing, color="grey", linestyle="--", linewidth=1)
        axis.annotate(
            f"{crossing:,.0f}/day", (crossing, axis.get_ylim()[1]), rotation=90, va="top", ha="right"
        )
    axis.axvline(profile.files_per_day, color="black", linestyle=":", linewidth=1, label="profile")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("files per day")
    axis.set_ylabel("USD per month (log)")
    axis.set_title(
        f"Monthly cost by mode (mean {profile.mean_seconds:g} s, p99 {profile.p99_seconds:g} s per file)"
    )
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    return path

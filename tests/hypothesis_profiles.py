"""Hypothesis settings profiles: `ci` (the default, and what `make test` and `make test-fast` load)
runs every property test with the example count it declares; `dev` (`--hypothesis-profile=dev`, for
iterating on one part) runs a fifth of them. Both drop the per-example deadline and the too-slow health
check: on a loaded two-core machine a slow example is the machine, not the code.
https://hypothesis.readthedocs.io/en/latest/reference/api.html#settings-profiles
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

CI, DEV = "ci", "dev"
DEV_FRACTION = 0.2
"""The share of each declared example count that the `dev` profile runs."""

DEFAULT_EXAMPLES = 100
"""Hypothesis's own default, for the property tests that declare no count."""

settings.register_profile(
    CI,
    max_examples=DEFAULT_EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    DEV,
    max_examples=round(DEFAULT_EXAMPLES * DEV_FRACTION),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(CI)


def examples(declared: int) -> int:
    """`max_examples` for a test that declares `declared`: all of them, except under the `dev` profile."""
    if settings.get_current_profile_name().startswith(DEV):
        return max(1, round(declared * DEV_FRACTION))
    return declared

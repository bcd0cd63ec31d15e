"""One botocore data loader per test process, instead of one per boto3 session.

Each `boto3.session.Session` builds its own `botocore.loaders.Loader`, and a loader caches what it
parsed only for itself: the tests build hundreds of sessions (every deployment, audit, worker and
dlq run makes its own clients, as the commands do), and each parsed botocore's JSON service models
again (EC2's alone is megabytes): a quarter of the audit tests' CPU. Sharing one loader is what
botocore already does for every client of one session (the same cached model objects), widened to
the process; `AWS_DATA_PATH` still picks the loader (one per distinct value).
"""

from __future__ import annotations

import functools

import botocore.loaders
import botocore.session


def share_one_loader_per_process() -> None:
    if getattr(botocore.session.create_loader, "shared_by_tests", False):
        return
    shared = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)
    shared.shared_by_tests = True  # type: ignore[attr-defined]
    botocore.session.create_loader = shared  # type: ignore[assignment]

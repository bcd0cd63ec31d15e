"""Where the repository is, for tests that render its program or run its commands."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

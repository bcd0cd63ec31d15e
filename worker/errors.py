"""The exceptions of the processor contract (DESIGN.md, contract 3)."""

from __future__ import annotations


class PermanentError(Exception):
    """A file that can never succeed: the message goes to the dead-letter queue at once, with the reason."""


class ObjectGone(Exception):
    """The object no longer exists (NoSuchKey): nothing to index; the message is deleted with a warning."""


class ProcessingTimedOut(Exception):
    """The processor ran past PROCESSING_TIMEOUT_SECONDS; treated as a transient failure."""


class ConfigurationError(Exception):
    """The worker's environment is incomplete or invalid; the message names the variable and the fix."""

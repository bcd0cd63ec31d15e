"""The CIS pipeline's policies, importable without starting a policy server.

`policy/__main__.py` assembles them into a `PolicyPack` for the Pulumi CLI; the offline gate
(`preview/gate.py`) and the tests call them directly.
"""

from .alarms import ALARM_POLICIES
from .batch_failures import BATCH_FAILURE_POLICIES
from .incident import INCIDENT_POLICIES
from .security import SECURITY_POLICIES
from .throttling import THROTTLING_POLICIES

PACK_NAME = "cis-file-pipeline-policies"
POLICIES = [
    *INCIDENT_POLICIES,
    *ALARM_POLICIES,
    *THROTTLING_POLICIES,
    *BATCH_FAILURE_POLICIES,
    *SECURITY_POLICIES,
]

__all__ = ["PACK_NAME", "POLICIES"]

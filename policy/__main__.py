"""The CrossGuard policy pack, as the Pulumi CLI runs it: `pulumi preview --policy-pack policy`."""

from pipeline_policies import PACK_NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.ADVISORY, policies=POLICIES)

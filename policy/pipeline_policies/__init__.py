"""The CIS pipeline's policies, importable without starting a policy server.

`policy/__main__.py` assembles them into a `PolicyPack` for the Pulumi CLI; the offline gate
(`preview/gate.py`) and the tests call them directly. The stack's model lives in `analysis/`, the rules
that query it in `rules/`.
"""

from .rules.alarms import alarms_reach_someone, dlq_is_alarmed
from .rules.consumers import consumer_can_delete, consumer_can_run, consumer_may_be_paused
from .rules.dead_letters import dead_letter_queue_required
from .rules.delivery import delivery_authorised
from .rules.egress import egress_endpoints_complete
from .rules.lambda_consumers import (
    lambda_consumer_not_throttled,
    lambda_reports_batch_item_failures,
    lambda_visibility_covers_batching_window,
)
from .rules.notifications import aws_delivery_constraints, no_recursive_trigger, one_notification_per_bucket
from .rules.security_defaults import aws_secure_defaults_relied_on
from .rules.security_ec2 import launch_template_imdsv2, no_open_ingress
from .rules.security_s3 import s3_public_access_blocked, s3_tls_only
from .rules.security_sqs import (
    queue_policy_source_conditions,
    sqs_encryption_at_rest,
    work_queue_long_polling,
)
from .rules.undecided import cannot_decide_from_stack
from .rules.visibility import visibility_covers_processing

PACK_NAME = "cis-file-pipeline-policies"
POLICIES = [
    one_notification_per_bucket,
    visibility_covers_processing,
    dead_letter_queue_required,
    consumer_can_delete,
    no_recursive_trigger,
    dlq_is_alarmed,
    cannot_decide_from_stack,
    alarms_reach_someone,
    lambda_consumer_not_throttled,
    lambda_reports_batch_item_failures,
    sqs_encryption_at_rest,
    s3_public_access_blocked,
    s3_tls_only,
    queue_policy_source_conditions,
    launch_template_imdsv2,
    no_open_ingress,
    work_queue_long_polling,
    aws_secure_defaults_relied_on,
    delivery_authorised,
    aws_delivery_constraints,
    consumer_can_run,
    consumer_may_be_paused,
    lambda_visibility_covers_batching_window,
    egress_endpoints_complete,
]

__all__ = ["PACK_NAME", "POLICIES"]

# Trimmed from pulumi/examples aws-py-langserve/__main__.py (its docker image left out): the execution
# role's inline policy is built by `Output.all(a, b).apply(lambda a, b: ...)`, a callback taking two
# arguments where the SDK passes one list. `pulumi preview` never runs it (both ARNs are unknown until
# the key and the parameter exist) and renders; the plausible-value pass runs it, it fails, and the
# report names this file's line.
import json

import pulumi
import pulumi_aws as aws

project = pulumi.get_project()
stack = pulumi.get_stack()
account_id = aws.get_caller_identity_output().account_id

key = aws.kms.Key(
    "langserve-key",
    description="Key for encrypting secrets",
    enable_key_rotation=True,
    policy=account_id.apply(
        lambda account_id: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                        "Action": ["kms:Create*", "kms:Describe*", "kms:Get*", "kms:Put*"],
                        "Resource": "*",
                    }
                ],
            }
        )
    ),
)
parameter = aws.ssm.Parameter(
    "langserve-ssm-parameter",
    type="SecureString",
    value="CHANGEME",
    key_id=key.key_id,
    name=f"/pulumi/{project}/{stack}/OPENAI_API_KEY",
)
execution_role = aws.iam.Role(
    "langserve-execution-role",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "sts:AssumeRole",
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                }
            ],
        }
    ),
    inline_policies=[
        aws.iam.RoleInlinePolicyArgs(
            name=f"{project}-{stack}-service-secrets-policy",
            policy=pulumi.Output.all(parameter.arn, key.arn).apply(
                lambda parameter_arn, key_arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Action": ["ssm:GetParameters"], "Effect": "Allow", "Resource": [parameter_arn]},
                            {"Action": ["kms:Decrypt"], "Effect": "Allow", "Resource": [key_arn]},
                        ],
                    }
                )
            ),
        )
    ],
)
pulumi.export("executionRoleName", execution_role.name)

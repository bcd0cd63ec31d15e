"""A database password from secure config stored in SSM and Secrets Manager; a token read in plain."""

import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
db_user = config.get("dbUser") or "app"
db_password = config.require_secret("dbPassword")
api_token = config.get("apiToken")  # plain on purpose: only set in the `leaky` stack

aws.ssm.Parameter("db-password", type="SecureString", name="/app/db/password", value=db_password)
secret = aws.secretsmanager.Secret("db-credentials", name="app/db")
aws.secretsmanager.SecretVersion(
    "db-credentials",
    secret_id=secret.id,
    secret_string=db_password.apply(lambda password: json.dumps({"username": db_user, "password": password})),
)
webhook_key = pulumi.Output.secret("static-webhook-signing-key")
aws.ssm.Parameter("webhook-key", type="SecureString", value=webhook_key)
if api_token:
    aws.ssm.Parameter("api-token", type="String", value=api_token)

pulumi.export("dbUser", db_user)
pulumi.export("dbPassword", db_password)
pulumi.export("webhookKey", webhook_key)
pulumi.export("secretArn", secret.arn)

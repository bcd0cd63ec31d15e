"""A Lambda function behind an API Gateway REST API (the shape of pulumi/examples aws-py-apigateway-lambda-serverless)."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
stage_name = config.get("stage") or "v1"

assume_role = aws.iam.get_policy_document(
    statements=[
        aws.iam.GetPolicyDocumentStatementArgs(
            effect="Allow",
            principals=[
                aws.iam.GetPolicyDocumentStatementPrincipalArgs(
                    type="Service", identifiers=["lambda.amazonaws.com"]
                )
            ],
            actions=["sts:AssumeRole"],
        )
    ]
)

role = aws.iam.Role("lambda-role", assume_role_policy=assume_role.json)
aws.iam.RolePolicyAttachment(
    "lambda-logs",
    role=role.name,
    policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
)

fn = aws.lambda_.Function(
    "hello",
    runtime="python3.12",
    handler="handler.handler",
    role=role.arn,
    code=pulumi.FileArchive("./app"),
    timeout=10,
)

api = aws.apigateway.RestApi("hello-api", description="hello API")
resource = aws.apigateway.Resource(
    "hello-resource", rest_api=api.id, parent_id=api.root_resource_id, path_part="hello"
)
method = aws.apigateway.Method(
    "hello-get", rest_api=api.id, resource_id=resource.id, http_method="GET", authorization="NONE"
)
integration = aws.apigateway.Integration(
    "hello-integration",
    rest_api=api.id,
    resource_id=resource.id,
    http_method=method.http_method,
    integration_http_method="POST",
    type="AWS_PROXY",
    uri=fn.invoke_arn,
)
deployment = aws.apigateway.Deployment(
    "hello-deployment",
    rest_api=api.id,
    opts=pulumi.ResourceOptions(depends_on=[integration]),
)
stage = aws.apigateway.Stage("hello-stage", rest_api=api.id, deployment=deployment.id, stage_name=stage_name)
aws.lambda_.Permission(
    "apigw-invoke",
    action="lambda:InvokeFunction",
    function=fn.name,
    principal="apigateway.amazonaws.com",
    source_arn=api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
)

pulumi.export("functionArn", fn.arn)
pulumi.export("url", stage.invoke_url.apply(lambda url: url + "/hello"))
pulumi.export("assumeRolePolicy", assume_role.json)

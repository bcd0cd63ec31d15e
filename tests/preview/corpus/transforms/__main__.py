# Tags with the SDK-side `register_stack_transformation` (autotag.py), and retention with the
# engine-side `register_resource_transform` of the transforms docs
# (https://www.pulumi.com/docs/iac/concepts/options/transforms/): the engine calls the second back
# for every resource registered after it, so the queue is planned with 14 days of retention.
import autotag
import pulumi
import pulumi_aws as aws

config = pulumi.Config()
autotag.register({"user:Project": pulumi.get_project(), "user:Cost Center": config.require("costCenter")})


def retention(args: pulumi.ResourceTransformArgs):
    if args.type_ == "aws:sqs/queue:Queue":
        args.props["messageRetentionSeconds"] = 1209600
        return pulumi.ResourceTransformResult(props=args.props, opts=args.opts)
    return None


pulumi.runtime.register_resource_transform(retention)

dlq = aws.sqs.Queue("jobs-dlq", sqs_managed_sse_enabled=True)
queue = aws.sqs.Queue(
    "jobs",
    sqs_managed_sse_enabled=True,
    redrive_policy=dlq.arn.apply(
        lambda arn: pulumi.Output.json_dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
    ),
)
pulumi.export("queueName", queue.name)

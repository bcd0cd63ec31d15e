"""Two private buckets built by the sibling module `buckets`."""

import pulumi
from buckets import private_bucket

prefix = pulumi.Config().require("prefix")
logs = private_bucket("logs", f"{prefix}-logs")
assets = private_bucket("assets", f"{prefix}-assets")

pulumi.export("logsBucket", logs.bucket)
pulumi.export("assetsArn", assets.arn)

"""A bucket whose name carries a random suffix from the random provider."""

import pulumi
import pulumi_aws as aws
import pulumi_random as random

suffix = random.RandomId("suffix", byte_length=4)
bucket = aws.s3.Bucket("data", bucket=suffix.hex.apply(lambda hex_: f"acme-data-{hex_}"))
pulumi.export("bucketName", bucket.bucket)

"""Bucket helpers shared by the program (a sibling module of __main__.py)."""

import pulumi
import pulumi_aws as aws


def private_bucket(name: str, bucket_name: str) -> aws.s3.Bucket:
    bucket = aws.s3.Bucket(name, bucket=bucket_name)
    aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketObject(
        f"{name}-robots", bucket=bucket.id, key="robots.txt", source=pulumi.FileAsset("files/robots.txt")
    )
    return bucket

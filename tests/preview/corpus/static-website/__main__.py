"""Static website: private S3 bucket, CloudFront with an origin access control, ACM certificate in
us-east-1 validated by DNS in the Route 53 zone looked up by name, and an alias record."""

import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
domain = config.require("domain")
zone_name = config.require("zone")

# CloudFront only accepts certificates from us-east-1.
us_east_1 = aws.Provider("us-east-1", region="us-east-1")

zone = aws.route53.get_zone(name=zone_name, private_zone=False)

bucket = aws.s3.Bucket("site", bucket=domain)
aws.s3.BucketPublicAccessBlock(
    "site-public-access",
    bucket=bucket.id,
    block_public_acls=True,
    block_public_policy=True,
    ignore_public_acls=True,
    restrict_public_buckets=True,
)
aws.s3.BucketObject(
    "index.html",
    bucket=bucket.id,
    key="index.html",
    source=pulumi.FileAsset("www/index.html"),
    content_type="text/html",
)

certificate = aws.acm.Certificate(
    "certificate",
    domain_name=domain,
    validation_method="DNS",
    opts=pulumi.ResourceOptions(provider=us_east_1),
)
validation_record = aws.route53.Record(
    "certificate-validation",
    zone_id=zone.zone_id,
    name=certificate.domain_validation_options[0].resource_record_name,
    type=certificate.domain_validation_options[0].resource_record_type,
    records=[certificate.domain_validation_options[0].resource_record_value],
    ttl=60,
)
validation = aws.acm.CertificateValidation(
    "certificate-validation",
    certificate_arn=certificate.arn,
    validation_record_fqdns=[validation_record.fqdn],
    opts=pulumi.ResourceOptions(provider=us_east_1),
)

oac = aws.cloudfront.OriginAccessControl(
    "site-oac",
    origin_access_control_origin_type="s3",
    signing_behavior="always",
    signing_protocol="sigv4",
)
distribution = aws.cloudfront.Distribution(
    "cdn",
    enabled=True,
    aliases=[domain],
    default_root_object="index.html",
    price_class=config.get("priceClass"),
    origins=[
        aws.cloudfront.DistributionOriginArgs(
            origin_id="s3",
            domain_name=bucket.bucket_regional_domain_name,
            origin_access_control_id=oac.id,
        )
    ],
    default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
        target_origin_id="s3",
        viewer_protocol_policy="redirect-to-https",
        allowed_methods=["GET", "HEAD"],
        cached_methods=["GET", "HEAD"],
        cache_policy_id="658327ea-f89d-4fab-a63d-7e88639e58f6",
    ),
    restrictions=aws.cloudfront.DistributionRestrictionsArgs(
        geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
    ),
    viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(
        acm_certificate_arn=validation.certificate_arn,
        ssl_support_method="sni-only",
        minimum_protocol_version="TLSv1.2_2021",
    ),
)

aws.s3.BucketPolicy(
    "site-policy",
    bucket=bucket.id,
    policy=pulumi.Output.all(bucket.arn, distribution.arn).apply(
        lambda args: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudfront.amazonaws.com"},
                        "Action": "s3:GetObject",
                        "Resource": f"{args[0]}/*",
                        "Condition": {"StringEquals": {"AWS:SourceArn": args[1]}},
                    }
                ],
            }
        )
    ),
)

aws.route53.Record(
    "alias",
    zone_id=zone.zone_id,
    name=domain,
    type="A",
    aliases=[
        aws.route53.RecordAliasArgs(
            name=distribution.domain_name,
            zone_id=distribution.hosted_zone_id,
            evaluate_target_health=False,
        )
    ],
)

pulumi.export("bucketName", bucket.bucket)
pulumi.export("zoneId", zone.zone_id)
pulumi.export("cdnDomain", distribution.domain_name)
pulumi.export("url", f"https://{domain}")

"""The web app on AWS: a private bucket behind CloudFront (origin access control), SPA
routing by a CloudFront Function, the build deployed with its config, and CORS for its origin
on the media bucket and the HTTP API."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template


def _web_bucket(dev: Template) -> tuple[str, dict[str, Any]]:
    buckets = dev.find_resources(
        "AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": {"LogFilePrefix": "web/"}}}
    )
    assert len(buckets) == 1
    return next(iter(buckets.items()))


def test_app_bucket_is_private_and_read_only_by_the_distribution(dev: Template) -> None:
    """Given the web bucket, then public access is blocked and its policy lets only
    CloudFront (this distribution, SigV4 via OAC) read objects."""
    logical_id, bucket = _web_bucket(dev)
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    dev.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": logical_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "s3:GetObject",
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudfront.amazonaws.com"},
                                "Condition": {"StringEquals": {"AWS:SourceArn": Match.any_value()}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_distribution_uses_origin_access_control_https_and_spa_rewrite(dev: Template) -> None:
    """Given the distribution, then its S3 origin signs with an OAC (no legacy OAI), viewers
    are redirected to HTTPS, and a viewer-request function routes pages to index.html."""
    dev.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    dev.has_resource_properties(
        "AWS::CloudFront::OriginAccessControl",
        {
            "OriginAccessControlConfig": Match.object_like(
                {"OriginAccessControlOriginType": "s3", "SigningBehavior": "always"}
            )
        },
    )
    dev.resource_count_is("AWS::CloudFront::CloudFrontOriginAccessIdentity", 0)
    dev.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "DefaultRootObject": "index.html",
                    "Origins": [Match.object_like({"OriginAccessControlId": Match.any_value()})],
                    "DefaultCacheBehavior": Match.object_like(
                        {
                            "ViewerProtocolPolicy": "redirect-to-https",
                            "FunctionAssociations": [
                                Match.object_like({"EventType": "viewer-request"})
                            ],
                        }
                    ),
                }
            )
        },
    )
    functions = dev.find_resources("AWS::CloudFront::Function")
    (function,) = functions.values()
    assert "request.uri = '/index.html'" in function["Properties"]["FunctionCode"]


def test_build_is_deployed_with_its_api_config_and_shell_invalidated(dev: Template) -> None:
    """Given the deployment, then the assets are cached a year, the shell revalidated and
    invalidated on deploy, and config.json names the API."""
    deployments = dev.find_resources("Custom::CDKBucketDeployment")
    assert len(deployments) == 2
    props = [d["Properties"] for d in deployments.values()]
    assets = next(p for p in props if "DistributionId" not in p)
    shell = next(p for p in props if "DistributionId" in p)
    assert "max-age=31536000" in str(assets["SystemMetadata"])
    assert "no-cache" in str(shell["SystemMetadata"])
    assert "/index.html" in shell["DistributionPaths"]
    assert len(shell["SourceObjectKeys"]) == 2  # the build's shell files and config.json
    assert "HttpApi" in json.dumps(shell["SourceMarkers"])  # {"apiUrl": <the API endpoint>}


def test_media_bucket_and_api_allow_the_apps_origin(dev: Template) -> None:
    """Given the app's CloudFront origin, then the media bucket's CORS allows presigned POST
    and GET from it, and the HTTP API's preflight allows it."""
    origin = {
        "Fn::Join": [
            "",
            ["https://", {"Fn::GetAtt": [Match.any_value(), "DomainName"]}],
        ]
    }
    dev.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "CorsConfiguration": {
                "CorsRules": [
                    Match.object_like(
                        {
                            "AllowedMethods": ["POST", "GET", "HEAD"],
                            "AllowedOrigins": [origin],
                            "AllowedHeaders": ["*"],
                        }
                    )
                ]
            }
        },
    )
    dev.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {"CorsConfiguration": Match.object_like({"AllowOrigins": [origin]})},
    )

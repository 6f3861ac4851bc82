"""API Gateway HTTP API -> api Lambda: routes, CORS, throttling, access logs."""

from __future__ import annotations

import json
import math

import pytest
from aws_cdk.assertions import Match, Template
from infra_cfn import Synth, render

pytestmark = pytest.mark.infra


def test_http_api_proxies_everything_to_the_api_function(synth: Synth, dev: Template) -> None:
    """Given the HTTP API, then the $default route integrates the api Lambda (payload 2.0)."""
    (integration,) = synth.resources("dev", "AWS::ApiGatewayV2::Integration").values()
    props = integration["Properties"]
    assert props["IntegrationType"] == "AWS_PROXY"
    assert props["PayloadFormatVersion"] == "2.0"
    assert render(props["IntegrationUri"]).startswith("<ApiFunction")
    dev.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": "$default"})


def test_cors_allows_the_apps_bearer_header(dev: Template) -> None:
    """Given the HTTP API, then CORS preflight allows the Authorization header."""
    dev.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {
            "ProtocolType": "HTTP",
            "CorsConfiguration": Match.object_like(
                {
                    "AllowHeaders": Match.array_with(["authorization"]),
                    "AllowOrigins": [
                        {
                            "Fn::Join": [
                                "",
                                ["https://", {"Fn::GetAtt": [Match.any_value(), "DomainName"]}],
                            ]
                        }
                    ],
                }
            ),
        },
    )


def test_stage_throttles_and_writes_json_access_logs(synth: Synth) -> None:
    """Given the default stage in both stages, then throttling defaults are set (higher in
    prod) and access logs go, as JSON with the request id, to a log group."""
    limits = {}
    for stage in ("dev", "prod"):
        (api_stage,) = synth.resources(stage, "AWS::ApiGatewayV2::Stage").values()
        props = api_stage["Properties"]
        settings = props["DefaultRouteSettings"]
        assert settings["ThrottlingRateLimit"] > 0
        assert settings["ThrottlingBurstLimit"] > 0
        limits[stage] = settings["ThrottlingRateLimit"]
        log_format = json.loads(props["AccessLogSettings"]["Format"])
        assert log_format["requestId"] == "$context.requestId"
        assert render(props["AccessLogSettings"]["DestinationArn"]).startswith("<HttpApiAccessLogs")
    assert limits["prod"] > limits["dev"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_body_the_api_accepts_reaches_it_through_lambda(synth: Synth, stage: str) -> None:
    """Given the api function, then it refuses bodies over FINDME_MAX_REQUEST_BODY_BYTES, a
    figure whose base64 form (API Gateway encodes binary bodies) plus 64 KiB of event stays
    under Lambda's 6 MB synchronous payload: a body over the limit gets the app's 413, never
    the gateway's error for an invocation Lambda refused."""
    (api,) = (
        f["Properties"]
        for f in synth.resources(stage, "AWS::Lambda::Function").values()
        if f["Properties"].get("FunctionName") == f"findme-{stage}-api"
    )
    limit = int(api["Environment"]["Variables"]["FINDME_MAX_REQUEST_BODY_BYTES"])
    assert limit >= 3_000_000
    assert math.ceil(limit / 3) * 4 + 64 * 1024 <= 6 * 1024 * 1024

"""API Gateway HTTP API in front of the api function: throttling, CORS, access logs, domain."""

from __future__ import annotations

import json

from aws_cdk import (
    Duration,
    aws_apigatewayv2,
    aws_apigatewayv2_integrations,
    aws_certificatemanager,
    aws_lambda,
    aws_logs,
)
from constructs import Construct

from findme_infra.stage import StageConfig

#: Access log line (JSON); fields from the HTTP API ``$context`` variables.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
    },
    separators=(",", ":"),
)


class Api(Construct):
    """``ANY /{proxy+}`` (the ``$default`` route) -> api Lambda (payload format 2.0, Mangum).

    Authentication is the app's own (HS256 bearer tokens checked in ``findme.web.deps``).

    Attributes:
        http_api: the HTTP API; ``http_api.api_endpoint`` is the base URL.
        access_logs: the access log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        handler: aws_lambda.IFunction,
        cors_origins: list[str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        domain = None
        if config.domain_name and config.certificate_arn:
            domain = aws_apigatewayv2.DomainName(
                self,
                "Domain",
                domain_name=config.domain_name,
                certificate=aws_certificatemanager.Certificate.from_certificate_arn(
                    self, "Certificate", config.certificate_arn
                ),
            )
        self.http_api = aws_apigatewayv2.HttpApi(
            self,
            "HttpApi",
            api_name=f"{config.prefix}api",
            default_integration=aws_apigatewayv2_integrations.HttpLambdaIntegration(
                "Api", handler, timeout=Duration.seconds(29)
            ),
            cors_preflight=aws_apigatewayv2.CorsPreflightOptions(
                allow_origins=list(cors_origins or config.cors_origins),
                allow_methods=[aws_apigatewayv2.CorsHttpMethod.ANY],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id"],
                max_age=Duration.hours(1),
            ),
            default_domain_mapping=(
                aws_apigatewayv2.DomainMappingOptions(domain_name=domain) if domain else None
            ),
        )
        self.access_logs = aws_logs.LogGroup(
            self,
            "AccessLogs",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        stage = self.http_api.default_stage
        assert stage is not None
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, aws_apigatewayv2.CfnStage)
        cfn_stage.access_log_settings = aws_apigatewayv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn, format=ACCESS_LOG_FORMAT
        )
        cfn_stage.default_route_settings = aws_apigatewayv2.CfnStage.RouteSettingsProperty(
            throttling_rate_limit=config.api_throttle_rate,
            throttling_burst_limit=config.api_throttle_burst,
        )

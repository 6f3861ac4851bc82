"""The web app (``web/``, built by ``make web``): a private S3 bucket behind CloudFront.

CloudFront reaches the bucket through **origin access control** (SigV4-signed requests; the
bucket policy allows only this distribution), so the bucket stays private with every public
access blocked. A viewer-request CloudFront Function sends the app's pages
(``/e/{invite_code}``, ``/me``, ``/o/...``: paths whose last segment has no dot) to
``/index.html``; files keep their paths and a missing one is a real 404 (error responses are
not rewritten). Content-hashed ``assets/`` are cached for a year, the shell (``index.html``,
``sw.js``, the manifest, ``config.json``) is revalidated on every load and invalidated on
deploy. ``config.json`` tells the app where the API is (``{"apiUrl": ...}``).

The app's origin (``https://<distribution domain>``) is what the media bucket's CORS rule and
the HTTP API's CORS preflight allow (:mod:`findme_infra.storage`, :mod:`findme_infra.api`).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import (
    Duration,
    aws_cloudfront,
    aws_cloudfront_origins,
    aws_logs,
    aws_s3,
    aws_s3_deployment,
)
from constructs import Construct

from findme_infra.stage import StageConfig

#: Built app directory, unless the ``web_dist`` context names another.
DEFAULT_WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"

#: Pages route to the app's shell; files (a dot in the last segment) are served as they are.
SPA_REWRITE = """function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}"""


class WebApp(Construct):
    """Bucket + CloudFront (OAC) for the app; :meth:`deploy` uploads the build.

    Attributes:
        bucket: the private bucket holding the build.
        distribution: the CloudFront distribution serving it.
        origin: ``https://<distribution domain name>``, the app's browser origin.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        access_logs: aws_s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.bucket = aws_s3.Bucket(
            self,
            "Bucket",
            block_public_access=aws_s3.BlockPublicAccess.BLOCK_ALL,
            encryption=aws_s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=aws_s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="web/",
            removal_policy=config.removal_policy,
            auto_delete_objects=False,
        )
        rewrite = aws_cloudfront.Function(
            self,
            "SpaRewrite",
            code=aws_cloudfront.FunctionCode.from_inline(SPA_REWRITE),
            runtime=aws_cloudfront.FunctionRuntime.JS_2_0,
            comment="FindMe web app: pages -> /index.html",
        )
        self.distribution = aws_cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"FindMe web app ({config.stage})",
            default_root_object="index.html",
            http_version=aws_cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=aws_cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=aws_cloudfront.BehaviorOptions(
                origin=aws_cloudfront_origins.S3BucketOrigin.with_origin_access_control(
                    self.bucket
                ),
                viewer_protocol_policy=aws_cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=aws_cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=aws_cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=aws_cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
                compress=True,
                function_associations=[
                    aws_cloudfront.FunctionAssociation(
                        function=rewrite,
                        event_type=aws_cloudfront.FunctionEventType.VIEWER_REQUEST,
                    )
                ],
            ),
        )
        self.origin = f"https://{self.distribution.distribution_domain_name}"

    def deploy(self, web_dist: Path, *, api_url: str) -> None:
        """Upload the build: hashed assets (1 year), then the shell and ``config.json``.

        Raises:
            FileNotFoundError: ``web_dist`` has no ``index.html`` (run ``make web``).
        """
        if not (web_dist / "index.html").is_file():
            raise FileNotFoundError(f"no built web app in {web_dist}: run `make web` first")
        year = aws_s3_deployment.CacheControl.max_age(Duration.days(365))
        logs = aws_logs.LogGroup(
            self,
            "DeployLogs",
            retention=self._config.log_retention,
            removal_policy=self._config.removal_policy,
        )
        assets = aws_s3_deployment.BucketDeployment(
            self,
            "Assets",
            sources=[aws_s3_deployment.Source.asset(str(web_dist), exclude=["*", "!assets/**"])],
            destination_bucket=self.bucket,
            cache_control=[year, aws_s3_deployment.CacheControl.immutable()],
            prune=False,  # old tabs still load the assets of the build they started with
            memory_limit=256,
            log_group=logs,
        )
        shell = aws_s3_deployment.BucketDeployment(
            self,
            "Shell",
            sources=[
                aws_s3_deployment.Source.asset(str(web_dist), exclude=["assets/**"]),
                aws_s3_deployment.Source.json_data("config.json", {"apiUrl": api_url}),
            ],
            destination_bucket=self.bucket,
            cache_control=[aws_s3_deployment.CacheControl.no_cache()],
            prune=False,
            distribution=self.distribution,
            distribution_paths=["/index.html", "/sw.js", "/config.json", "/manifest.webmanifest"],
            memory_limit=256,
            log_group=logs,
        )
        shell.node.add_dependency(assets)  # the new shell never points at missing assets

"""The local stack's moto server, plus what moto leaves out: S3 POST policy enforcement.

moto (5.2.5) stores a browser-form POST upload without reading its policy: no signature
check, no expiry, no ``content-length-range``, no ``key`` or ``Content-Type`` conditions
(see ``moto/s3/responses.py::_bucket_response_post``). On AWS those uploads are refused, so
a local stack that accepted them would hide bugs. :class:`PostPolicyMiddleware` checks a POST
form as S3 does (AWS S3 API reference, "Authenticating Requests in Browser-Based Uploads
Using POST (AWS Signature Version 4)" and "Creating a POST Policy"):

- the signature of the base64 policy with the stack's secret key (SigV4, or legacy SigV2),
- ``expiration``,
- every condition: exact match (``{"f": v}`` / ``["eq", "$f", v]``), ``starts-with``,
  ``content-length-range`` (on the file's size in bytes),
- every form field except ``policy``, ``x-amz-signature``, ``file`` and ``x-ignore-*`` is
  covered by a condition.

Refusals use S3's codes: 403 ``AccessDenied`` (policy, signature, expiry), 400
``EntityTooLarge`` / ``EntityTooSmall`` (size). Anything else passes to moto unchanged.

Browsers: moto's server would answer every origin's preflight (flask-cors on the whole app),
which would hide a bucket whose CORS rules are wrong. It is switched off
(``MOTO_DISABLE_GLOBAL_CORS``), so moto answers preflights from the bucket's own CORS rules as
S3 does; :class:`BucketCorsMiddleware` adds what moto leaves out, the
``Access-Control-Allow-Origin`` of the POST upload's answer (and of a refused policy's).

With ``--state-dir DIR`` moto's state is durable under ``DIR``
(:mod:`findme.local.persistence`): restored at start, and every state-changing request is on
disk before it is answered.

Throughput: moto's service lookup is memoised per host (:func:`cached_dispatcher`) and
objects up to :data:`KEY_BUFFER_BYTES` stay in memory; both were among the largest items
in a profile of the server under the ZIP builder's GetObject and UploadPart load
(docs/local-stack.md).

Run: ``python -m findme.local.moto_server --port PORT [--state-dir DIR]`` (binds 127.0.0.1).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import hmac
import io
import json
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.formparser import parse_form_data

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_EXEMPT_FIELDS = {"policy", "x-amz-signature", "file", "signature", "awsaccesskeyid"}
#: moto keeps an object (or multipart part) in memory up to this size and spills a bigger one
#: to a temporary file (``MOTO_S3_DEFAULT_KEY_BUFFER_SIZE``; moto's default is just under
#: 5 MiB). 16 MiB keeps photos and the 8 MiB parts of ``S3ObjectStore``'s multipart writer
#: in memory: spilling each part cost ~270 ms of writes, the largest item in a profile of
#: the server under the ZIP benchmark's uploads. Whole archives still spill to disk.
KEY_BUFFER_BYTES = 16 * 1024 * 1024


class PolicyError(Exception):
    """An upload S3 would refuse: HTTP status, S3 error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4 signing key: HMAC chain over date, region, service, ``aws4_request``."""
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check_post_policy(
    form: dict[str, str],
    file_size: int,
    bucket: str,
    secret_key: str,
    now: datetime | None = None,
) -> None:
    """Check a POST upload form against its policy as S3 does.

    Args:
        form: form fields (names as sent), without the file.
        file_size: bytes of the uploaded file.
        bucket: bucket named by the request path.
        secret_key: the secret access key the stack's clients sign with.

    Raises:
        PolicyError: the upload would be refused by S3.
    """
    fields = {k.lower(): v for k, v in form.items()}
    fields["bucket"] = bucket
    policy_b64 = fields.get("policy")
    if not policy_b64:
        raise PolicyError(403, "AccessDenied", "anonymous POST uploads are not allowed")
    if "x-amz-signature" in fields:
        _check_sigv4(fields, policy_b64, secret_key)
    elif "signature" in fields:  # SigV2 forms (legacy, still accepted by S3)
        expected_v2 = base64.b64encode(
            hmac.new(secret_key.encode(), policy_b64.encode(), hashlib.sha1).digest()
        ).decode()
        if not hmac.compare_digest(expected_v2, fields["signature"]):
            raise PolicyError(403, "SignatureDoesNotMatch", "the POST policy signature is invalid")
    else:
        raise PolicyError(403, "AccessDenied", "the POST form is not signed")
    try:
        policy = json.loads(base64.b64decode(policy_b64))
        expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        conditions = policy["conditions"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise PolicyError(400, "InvalidPolicyDocument", "malformed POST policy") from exc
    if (now or datetime.now(UTC)) >= expiration:
        raise PolicyError(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    covered: set[str] = set()
    for condition in conditions:
        covered |= _check_condition(condition, fields, file_size)
    for name in fields:
        exempt = name in _EXEMPT_FIELDS or name == "bucket" or name.startswith("x-ignore-")
        if not exempt and name not in covered:
            raise PolicyError(
                403,
                "AccessDenied",
                f"Invalid according to Policy: Extra input fields: {name}",
            )


def _check_sigv4(fields: dict[str, str], policy_b64: str, secret_key: str) -> None:
    parts = fields.get("x-amz-credential", "").split("/")
    if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256" or len(parts) != 5:
        raise PolicyError(403, "AccessDenied", "the POST form's SigV4 fields are malformed")
    _, date, region, service, _ = parts
    expected = hmac.new(
        _signing_key(secret_key, date, region, service), policy_b64.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, fields["x-amz-signature"]):
        raise PolicyError(403, "SignatureDoesNotMatch", "the POST policy signature is invalid")


def _check_condition(condition: Any, fields: dict[str, str], file_size: int) -> set[str]:
    """Check one policy condition; return the field names it covers."""
    failed = PolicyError(
        403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {condition}"
    )
    if isinstance(condition, dict):
        covered = set()
        for name, value in condition.items():
            if fields.get(name.lower()) != value:
                raise failed
            covered.add(name.lower())
        return covered
    if not isinstance(condition, list) or len(condition) != 3:
        raise PolicyError(400, "InvalidPolicyDocument", f"bad condition {condition}")
    op, name, value = condition
    op = str(op).lower()
    if op == "content-length-range":
        low, high = int(name), int(value)
        if file_size > high:
            raise PolicyError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum")
        if file_size < low:
            raise PolicyError(400, "EntityTooSmall", "Your proposed upload is below the minimum")
        return set()
    field = str(name).lstrip("$").lower()
    actual = fields.get(field)
    if actual is None:
        raise failed
    if op == "eq" and actual != value:
        raise failed
    if op == "starts-with" and not actual.startswith(str(value)):
        raise failed
    if op not in ("eq", "starts-with"):
        raise PolicyError(400, "InvalidPolicyDocument", f"unknown condition {op}")
    return {field}


def _error_xml(error: PolicyError) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        "</Error>"
    ).encode()


class PostPolicyMiddleware:
    """WSGI middleware: check S3 browser-form POST uploads before moto stores them."""

    def __init__(self, app: WsgiApp, secret_key: str) -> None:
        self._app = app
        self._secret_key = secret_key

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        content_type = environ.get("CONTENT_TYPE", "")
        path = environ.get("PATH_INFO", "").strip("/")
        is_form_upload = (
            environ.get("REQUEST_METHOD") == "POST"
            and content_type.startswith("multipart/form-data")
            and path
            and "/" not in path  # path-style POST to the bucket itself
        )
        if not is_form_upload:
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        parse_env = dict(environ, **{"wsgi.input": io.BytesIO(body)})
        _, form, files = parse_form_data(parse_env)
        upload = files.get("file")
        size = len(upload.read()) if upload is not None else 0
        try:
            check_post_policy(dict(form.items()), size, path, self._secret_key)
        except PolicyError as error:
            payload = _error_xml(error)
            start_response(
                f"{error.status} {'Forbidden' if error.status == 403 else 'Bad Request'}",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        environ["wsgi.input"] = io.BytesIO(body)
        return self._app(environ, start_response)


class BucketCorsMiddleware:
    """WSGI middleware: CORS headers from the bucket's rules on answers moto leaves bare."""

    def __init__(self, app: WsgiApp, rules: Callable[[str], list[Any]]) -> None:
        self._app = app
        self._rules = rules  # bucket name -> moto's CORS rules (empty: unknown bucket)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        origin = environ.get("HTTP_ORIGIN")
        method = environ.get("REQUEST_METHOD", "")
        bucket = environ.get("PATH_INFO", "").strip("/").split("/")[0]
        if not origin or method == "OPTIONS" or not bucket:
            return self._app(environ, start_response)
        extra = self._headers(bucket, origin, method)

        def respond(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            if not any(name.lower() == "access-control-allow-origin" for name, _ in headers):
                headers = [*headers, *extra]
            return start_response(status, headers, *args)

        return self._app(environ, respond)

    def _headers(self, bucket: str, origin: str, method: str) -> list[tuple[str, str]]:
        from moto.s3.utils import cors_matches_origin

        for rule in self._rules(bucket):
            if method in (rule.allowed_methods or []) and cors_matches_origin(
                origin, rule.allowed_origins or []
            ):
                headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
                if rule.exposed_headers:
                    exposed = ", ".join(rule.exposed_headers)
                    headers.append(("Access-Control-Expose-Headers", exposed))
                return headers
        return []


def _moto_bucket_cors(bucket: str) -> list[Any]:
    """The CORS rules moto keeps for ``bucket`` (empty when there is no such bucket)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    try:
        return list(s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(bucket).cors)
    except Exception:  # MissingBucket, or a path that is no bucket (SQS, SNS, ...)
        return []


def cached_dispatcher(create_app: Callable[[Any], Any]) -> WsgiApp:
    """moto's ``DomainDispatcherApplication`` with its host -> service lookup memoised.

    moto (5.2.5) resolves the service of every request under one process-wide lock, and each
    resolution lists moto's package directory (``os.listdir`` plus an ``isdir`` per service,
    about 180) and tries its ~1,000 URL patterns: about 4 ms of CPU per request, serialised,
    which capped the server near 250 requests/s (cProfile of the server under
    ``benchmarks/s3_ceiling.py``). The answer depends only on the host string (the request's
    ``Host``, or the ``{service}.{region}.amazonaws.com`` inferred from its signature), so it is
    computed once per host.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    class _CachedDispatcher(DomainDispatcherApplication):
        def __init__(self, factory: Callable[[Any], Any]) -> None:
            super().__init__(factory)
            self._backend_by_host: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            try:
                return self._backend_by_host[host]
            except KeyError:
                backend = super().get_backend_for_host(host)
                self._backend_by_host[host] = backend
                return backend

    return _CachedDispatcher(create_app)


def main(argv: list[str] | None = None) -> None:
    """Serve moto (all services) with POST policy checks on ``--host``:``--port``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, default=None, help="keep moto's state here")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    # CORS as S3 answers it: from each bucket's rules, not flask-cors for every origin.
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    # Objects and parts up to this size stay in memory (see KEY_BUFFER_BYTES).
    os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(KEY_BUFFER_BYTES))
    # moto is imported late: MOTO_PORT must be set before it builds queue URLs.
    from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "test")
    app: WsgiApp = cached_dispatcher(create_backend_app)
    with contextlib.ExitStack() as stack:
        if args.state_dir is not None:
            from findme.local.persistence import DurabilityMiddleware, durable

            app = DurabilityMiddleware(app, stack.enter_context(durable(args.state_dir)))
        app = BucketCorsMiddleware(PostPolicyMiddleware(app, secret), _moto_bucket_cors)
        run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()

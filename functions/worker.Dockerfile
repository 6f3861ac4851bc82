# FindMe worker functions without the face engine: cluster and zip, one Dockerfile, the
# function chosen by `--build-arg FUNCTION=cluster|zip` (the CDK app passes it). AWS Lambda
# Python 3.12 base image (multi-arch: arm64 and x86_64). Built by `cdk deploy` with the
# repository root as context (infra/findme_infra/functions.py stages only pyproject.toml,
# README.md, functions/requirements/, functions/findme/, this file and
# functions/${FUNCTION}/).
ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.12

FROM ${BASE_IMAGE} AS build
ARG FUNCTION
RUN test "$FUNCTION" = cluster || test "$FUNCTION" = zip \
 || { echo "build with --build-arg FUNCTION=cluster or FUNCTION=zip" >&2; exit 1; }
WORKDIR /build
COPY pyproject.toml README.md ./
COPY functions/requirements/ functions/requirements/
COPY functions/findme/ functions/findme/
# The core package with the function's extra (its name), every transitive version pinned,
# with its sha256, by functions/requirements/${FUNCTION}.lock.
RUN pip install --no-cache-dir --require-hashes --no-deps \
      --target /opt/site -r functions/requirements/${FUNCTION}.lock \
 && pip install --no-cache-dir --no-deps --target /opt/site ".[${FUNCTION}]"

FROM ${BASE_IMAGE}
ARG FUNCTION
COPY --from=build /opt/site ${LAMBDA_TASK_ROOT}
COPY functions/${FUNCTION}/handler.py ${LAMBDA_TASK_ROOT}/
CMD ["handler.handler"]

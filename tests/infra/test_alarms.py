"""CloudWatch alarms on the SMS budgets of the api function (SMS pumping)."""

from __future__ import annotations

import fnmatch

import pytest
from aws_cdk.assertions import Match, Template
from findme.services.sms_budget import BUDGET_EXHAUSTED_METRIC, COUNTRY_LIMITED_METRIC
from infra_cfn import Synth, as_list, render

pytestmark = pytest.mark.infra


def _api_service(synth: Synth, stage: str) -> str:
    """The api function's FINDME_SERVICE_NAME: the ``service`` dimension of its metrics."""
    (api,) = (
        f["Properties"]
        for f in synth.resources(stage, "AWS::Lambda::Function").values()
        if f["Properties"].get("FunctionName") == f"findme-{stage}-api"
    )
    service: str = api["Environment"]["Variables"]["FINDME_SERVICE_NAME"]
    return service


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize(
    ("metric", "name"),
    [
        (BUDGET_EXHAUSTED_METRIC, "sms-budget-exhausted"),
        (COUNTRY_LIMITED_METRIC, "sms-country-limit"),
    ],
)
def test_a_refused_sms_raises_an_alarm_on_the_alarm_topic(
    synth: Synth, stage: str, metric: str, name: str
) -> None:
    """Given the api's SMS refusal metrics (namespace FindMe, dimension service = the api
    function's service name, as findme.observability.emit_count writes them), then each has
    an alarm that fires on one refusal in 5 minutes and notifies the alarm topic."""
    template: Template = synth.templates[stage]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"findme-{stage}-{name}",
            "Namespace": "FindMe",
            "MetricName": metric,
            "Dimensions": [{"Name": "service", "Value": _api_service(synth, stage)}],
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": Match.string_like_regexp("StorageAlarms")}],
        },
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cloudwatch_may_publish_this_stacks_alarms_to_the_alarm_topic(
    synth: Synth, stage: str
) -> None:
    """Given the alarm topic's policy (enforce_ssl makes one, holding only the TLS deny), then
    it allows cloudwatch.amazonaws.com to sns:Publish, only for alarms of this account whose
    ARN matches findme-<stage>-*, and every alarm that notifies the topic matches that ARN
    (otherwise CloudWatch's publish is refused and no alarm ever reaches anyone)."""
    ((topic_id, _),) = synth.resources(stage, "AWS::SNS::Topic").items()
    (policy,) = synth.resources(stage, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    allows = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
        and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and "sns:Publish" in as_list(s["Action"])
    ]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Resource"] == {"Ref": topic_id}
    source = render(allow["Condition"]["ArnLike"]["aws:SourceArn"])
    assert source == (
        f"arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:findme-{stage}-*"
    )
    assert render(allow["Condition"]["StringEquals"]["aws:SourceAccount"]) == "<AWS::AccountId>"
    notifying = [
        a["Properties"]
        for a in synth.resources(stage, "AWS::CloudWatch::Alarm").values()
        if {"Ref": topic_id} in a["Properties"].get("AlarmActions", [])
    ]
    assert len(notifying) == 3  # the DLQ and the two SMS budget alarms
    for alarm in notifying:
        assert fnmatch.fnmatchcase(alarm["AlarmName"], f"findme-{stage}-*")

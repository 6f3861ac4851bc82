"""Alarms on the api's SMS budgets: SMS pumping shows as refused codes (``docs/rate-limits.md``).

The api function publishes ``SmsCountryLimitReached`` and ``SmsBudgetExhausted`` (namespace
``FindMe``, dimension ``service``) as CloudWatch Embedded Metric Format lines, one per code
refused by :class:`findme.services.sms_budget.SmsBudget`; each alarm fires on the first
refusal in a 5-minute period and notifies the alarm topic.
"""

from __future__ import annotations

from aws_cdk import Duration, aws_cloudwatch, aws_cloudwatch_actions, aws_sns
from constructs import Construct
from findme.config import Settings
from findme.observability import METRICS_NAMESPACE
from findme.services.sms_budget import BUDGET_EXHAUSTED_METRIC, COUNTRY_LIMITED_METRIC

from findme_infra.stage import StageConfig

#: Period over which refusals are summed, minutes.
PERIOD_MIN = 5
_DEFAULTS = Settings.model_fields
_DESCRIPTIONS = {
    BUDGET_EXHAUSTED_METRIC: (
        "The service-wide hourly SMS budget (FINDME_SMS_BUDGET_PER_HOUR, default "
        f"{_DEFAULTS['sms_budget_per_hour'].default}) is spent: every sign-in code is refused "
        "until the hour ends. Likely SMS pumping; check the api logs for "
        "'SMS country limit reached' and the countries involved."
    ),
    COUNTRY_LIMITED_METRIC: (
        "A destination country calling code reached its hourly SMS limit "
        f"(FINDME_SMS_PER_COUNTRY_PER_HOUR, default "
        f"{_DEFAULTS['sms_per_country_per_hour'].default}); codes to it are refused. "
        "SMS pumping, or a big event there (raise it in FINDME_SMS_COUNTRY_LIMITS)."
    ),
}
_NAMES = {
    BUDGET_EXHAUSTED_METRIC: "sms-budget-exhausted",
    COUNTRY_LIMITED_METRIC: "sms-country-limit",
}


class SmsAlarms(Construct):
    """One alarm per SMS refusal metric of the api function.

    Args:
        config: the stage (alarm names ``findme-<stage>-sms-...``).
        service: the api function's ``FINDME_SERVICE_NAME`` (the metrics' dimension).
        topic: where the alarms notify.

    Attributes:
        alarms: metric name -> alarm.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        service: str,
        topic: aws_sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: dict[str, aws_cloudwatch.Alarm] = {}
        for metric_name, description in _DESCRIPTIONS.items():
            alarm = aws_cloudwatch.Alarm(
                self,
                metric_name,
                alarm_name=f"{config.prefix}{_NAMES[metric_name]}",
                alarm_description=description,
                metric=aws_cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=metric_name,
                    dimensions_map={"service": service},
                    statistic="Sum",
                    period=Duration.minutes(PERIOD_MIN),
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=aws_cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=aws_cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(aws_cloudwatch_actions.SnsAction(topic))
            self.alarms[metric_name] = alarm

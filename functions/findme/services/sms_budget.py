"""SMS pumping defences: hourly SMS limits per destination country and for the whole service.

SMS pumping (toll fraud) requests codes for numbers whose operators pay the attacker a share
of each message; it is defended by what an attacker cannot multiply, never by client IP
(an attendee crowd shares one venue address). Before an OTP is texted:

1. per phone: ``Settings.otp_sends_per_hour`` (:meth:`findme.services.auth.OtpService.send`);
2. per destination country calling code (:func:`findme.domain.phones.country_calling_code`):
   ``Settings.sms_per_country_per_hour``, or the code's entry in ``sms_country_limits``;
3. the whole service: ``Settings.sms_budget_per_hour``.

Counters 2 and 3 are one-hour fixed windows in the api's shared
:class:`~findme.ports.RateLimiter` (DynamoDB ``ADD`` in AWS, so every Lambda instance spends
one budget; memory on the local stack). A refusal counts too, so the counters say how hard
the limit is being pushed. Each refusal is logged and published as a CloudWatch metric
(:data:`COUNTRY_LIMITED_METRIC`, :data:`BUDGET_EXHAUSTED_METRIC`) that the CDK app alarms on
(``infra/findme_infra/alarms.py``).
"""

from __future__ import annotations

from findme.config import Settings
from findme.domain.phones import country_calling_code
from findme.errors import RateLimitedError
from findme.observability import emit_count, logger
from findme.ports import RateLimiter

#: Length of the SMS budget windows, seconds (the settings are "per hour").
SMS_WINDOW_S = 3600
#: Metric counted (namespace FindMe, dimension service) per SMS refused by a country limit.
COUNTRY_LIMITED_METRIC = "SmsCountryLimitReached"
#: Metric counted per SMS refused because the service-wide hourly budget is spent.
BUDGET_EXHAUSTED_METRIC = "SmsBudgetExhausted"
#: Counter key of the service-wide budget (country keys are ``sms | country:+44``).
BUDGET_KEY = "sms | all"


class SmsBudget:
    """Spends the hourly SMS budgets of a destination's country and of the whole service.

    Args:
        counters: the shared fixed-window counters (see module docstring).
        settings: ``sms_per_country_per_hour``, ``sms_country_limits`` and
            ``sms_budget_per_hour`` (SMS per hour).
    """

    def __init__(self, counters: RateLimiter, settings: Settings) -> None:
        self._counters = counters
        self._settings = settings

    def country_limit(self, calling_code: str) -> int:
        """SMS per hour allowed to ``calling_code`` (``"+44"``)."""
        return self._settings.sms_country_limits.get(
            calling_code, self._settings.sms_per_country_per_hour
        )

    def spend(self, phone_number: str) -> None:
        """Count one SMS to ``phone_number`` (E.164) against its country and the service.

        The country is checked first, so a refused country does not spend the shared budget.

        Raises:
            RateLimitedError: ``sms_country_limited`` (with ``calling_code``) when the country
                has had its SMS this hour; ``sms_budget_exhausted`` when the service has;
                ``retry_after_s`` is the time left in the hour.
        """
        code = country_calling_code(phone_number)
        limit = self.country_limit(code)
        state = self._counters.hit(f"sms | country:{code}", limit, SMS_WINDOW_S)
        if not state.allowed:
            logger.warning(
                "SMS country limit reached",
                extra={
                    "calling_code": code,
                    "limit_per_hour": limit,
                    "metric": COUNTRY_LIMITED_METRIC,
                },
            )
            emit_count(COUNTRY_LIMITED_METRIC)
            raise RateLimitedError(
                f"Too many sign-in codes sent to {code} numbers this hour; try again later",
                retry_after_s=state.retry_after_s,
                code="sms_country_limited",
                calling_code=code,
            )
        budget = self._settings.sms_budget_per_hour
        state = self._counters.hit(BUDGET_KEY, budget, SMS_WINDOW_S)
        if not state.allowed:
            logger.error(
                "SMS budget exhausted",
                extra={"limit_per_hour": budget, "metric": BUDGET_EXHAUSTED_METRIC},
            )
            emit_count(BUDGET_EXHAUSTED_METRIC)
            raise RateLimitedError(
                "Sign-in codes are paused: the service's hourly SMS budget is spent; "
                "try again later",
                retry_after_s=state.retry_after_s,
                code="sms_budget_exhausted",
            )

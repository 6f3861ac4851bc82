"""SMS pumping defences (issue 11, item 4): per phone (``otp_sends_per_hour``, see
test_api_auth_service), per destination country calling code and a service-wide hourly SMS
budget with an alarm; counters shared by every api Lambda instance."""

from __future__ import annotations

import json

import boto3
import pytest
from fakes import World, build_api, make_settings
from findme.adapters.ratelimit import DynamoRateLimiter
from findme.config import Settings
from findme.web.ratelimit import MemoryRateLimiter
from pydantic import ValidationError

T0 = 1_800_000_000.0  # starts a 1-hour window (epoch seconds)
#: The CloudWatch metrics the infra alarms watch (findme.services.sms_budget).
BUDGET_EXHAUSTED_METRIC = "SmsBudgetExhausted"
COUNTRY_LIMITED_METRIC = "SmsCountryLimitReached"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


_numbers = iter(range(1_000_000, 9_999_999))


def phone(calling_code: str) -> str:
    """A fresh, valid E.164 number under ``calling_code`` ("+44")."""
    return f"{calling_code}7{next(_numbers):07d}"


def emitted_metrics(stdout: str) -> list[tuple[str, str, str]]:
    """(namespace, metric, service) of the CloudWatch EMF lines printed to stdout."""
    found = []
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.append((directive["Namespace"], metric["Name"], record.get("service", "")))
    return found


def test_a_spent_sms_budget_is_a_clear_429_and_raises_the_alarm(
    stores: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a service-wide budget of 3 SMS an hour, when a 4th code is asked for (any
    phone, any address), then it is 429 ``sms_budget_exhausted`` in the shared error shape
    with Retry-After to the end of the hour, no SMS leaves, and the alarm metric is emitted;
    the next hour codes flow again."""
    clock = Clock()
    api = build_api(stores, rate_limiter=MemoryRateLimiter(clock=clock), sms_budget_per_hour=3)
    sent = [
        api.client_at(f"192.0.2.{i}").post("/auth/otp", json={"phone_number": phone("+1")})
        for i in range(3)
    ]
    assert [r.status_code for r in sent] == [200, 200, 200]
    clock.now = T0 + 600
    capsys.readouterr()
    refused = api.client_at("192.0.2.200").post("/auth/otp", json={"phone_number": phone("+33")})
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "sms_budget_exhausted"
    assert "SMS budget" in body["detail"]
    assert int(refused.headers["retry-after"]) == 3000  # the rest of the hour
    assert len(api.sms.sent) == 3
    assert ("FindMe", BUDGET_EXHAUSTED_METRIC, "findme") in emitted_metrics(capsys.readouterr().out)
    # When the hour ends, codes are sent again
    clock.now = T0 + 3600
    again = api.client.post("/auth/otp", json={"phone_number": phone("+1")})
    assert again.status_code == 200


def test_each_destination_country_has_its_own_hourly_limit(
    stores: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given 2 SMS an hour per country calling code, 3 for +33 (an override) and a budget
    of 6, when codes go to +44, +33 and +1 numbers, then the third +44 number is refused
    (``sms_country_limited``, naming +44) while +33 gets 3 and +1 is unaffected, and refused
    codes do not spend the service-wide budget."""
    clock = Clock()
    api = build_api(
        stores,
        rate_limiter=MemoryRateLimiter(clock=clock),
        sms_per_country_per_hour=2,
        sms_country_limits={"+33": 3},
        sms_budget_per_hour=6,
    )

    def ask(number: str) -> tuple[int, str]:
        response = api.client.post("/auth/otp", json={"phone_number": number})
        return response.status_code, response.json().get("code", "")

    assert [ask(phone("+44"))[0] for _ in range(2)] == [200, 200]
    capsys.readouterr()
    assert [ask(phone("+44")) for _ in range(2)] == [(429, "sms_country_limited")] * 2
    refused = api.client.post("/auth/otp", json={"phone_number": phone("+44")})
    assert refused.json()["calling_code"] == "+44"
    metrics = emitted_metrics(capsys.readouterr().out)
    assert [m[1] for m in metrics] == [COUNTRY_LIMITED_METRIC] * 3
    assert [ask(phone("+33"))[0] for _ in range(4)] == [200, 200, 200, 429]
    # 2 (+44) + 3 (+33) sent: one SMS of the budget of 6 is left, for +1
    assert ask(phone("+1")) == (200, "")
    assert ask(phone("+1")) == (429, "sms_budget_exhausted")


def test_sms_budgets_are_shared_by_every_lambda_instance(stores: World) -> None:
    """Given two api instances (two Lambdas) counting in the DynamoDB rate-limits table,
    when they send codes in turn, then the hourly budget is spent once between them."""
    table = stores.settings.table_name("rate-limits")
    assert table in boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]
    clock = Clock()
    instances = [
        build_api(
            stores,
            rate_limiter=DynamoRateLimiter(stores.settings, clock=clock),
            sms_budget_per_hour=3,
        )
        for _ in range(2)
    ]
    clock.now = T0 + 7 * 3600  # a window no other test of the module counted in
    statuses = [
        instances[i % 2].client.post("/auth/otp", json={"phone_number": phone("+1")}).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_budget_settings_have_production_defaults_and_are_checked() -> None:
    """Given no environment, then the budgets have their documented defaults; a country
    override must name a calling code, and trusted proxies must be addresses."""
    defaults = Settings()
    assert defaults.sms_per_country_per_hour == 1000
    assert defaults.sms_budget_per_hour == 3000
    assert defaults.sms_country_limits == {}
    assert defaults.trusted_proxies == []
    assert make_settings(sms_country_limits={"+1": 5000}).sms_country_limits == {"+1": 5000}
    for bad in ({"44": 10}, {"+0": 10}, {"+4412": 10}, {"+44": -1}):
        with pytest.raises(ValidationError):
            make_settings(sms_country_limits=bad)
    assert make_settings(trusted_proxies="10.0.0.1, 10.1.0.0/16").trusted_proxies == [
        "10.0.0.1",
        "10.1.0.0/16",
    ]
    assert make_settings(trusted_proxies='["::1"]').trusted_proxies == ["::1"]
    with pytest.raises(ValidationError):
        make_settings(trusted_proxies="localhost")

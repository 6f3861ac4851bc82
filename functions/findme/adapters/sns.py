"""SMS via Amazon SNS ``Publish`` to a phone number (transactional)."""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from findme.config import Settings
from findme.errors import DependencyError, InvalidInputError


class SnsNotifier:
    """:class:`findme.ports.Notifier` over SNS (on the local stack, wiring wraps it in
    :class:`findme.local.outbox.RecordingNotifier`, which keeps each message for
    ``findme local otp``)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client = boto3.session.Session().client(
            "sns", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
        )

    def send_sms(self, phone_number: str, message: str) -> None:
        """Send ``message`` to ``phone_number`` (E.164).

        Raises:
            InvalidInputError: SNS rejected the number.
            DependencyError: SNS failed.
        """
        try:
            self._client.publish(
                PhoneNumber=phone_number,
                Message=message,
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
                },
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"InvalidParameter", "InvalidParameterValue"}:
                raise InvalidInputError("invalid phone number", field="phone_number") from exc
            raise DependencyError("SNS publish failed", sns_code=code) from exc
        except BotoCoreError as exc:
            raise DependencyError("SNS publish failed", cause=str(exc)) from exc

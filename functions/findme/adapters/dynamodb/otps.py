"""OTP challenges over DynamoDB (TTL covers the one-hour send window)."""

from __future__ import annotations

from datetime import timedelta

from findme.adapters.dynamodb.base import DynamoBase, _from_model, _to_model
from findme.domain.records import OtpChallenge
from findme.errors import ConflictError

#: One hour: the OTP send-rate window (``Settings.otp_sends_per_hour``).
OTP_SEND_WINDOW = timedelta(hours=1)


class DynamoOtps(DynamoBase):
    """:class:`findme.ports.OtpRepository`: one challenge per phone number."""

    def put_otp(self, otp: OtpChallenge) -> None:
        """Replace the phone's challenge.

        The item's TTL is the later of the code's expiry and the end of its one-hour send
        window, so the send-rate count survives the code; readers compare ``expires_at``.
        """
        ttl = max(otp.expires_at, otp.window_started_at + OTP_SEND_WINDOW)
        self._call(lambda: _to_model(self.otps, otp, ttl=ttl).save(), "put otp")

    def take_otp_attempt(self, phone_number: str, code_hash: str, max_attempts: int) -> bool:
        """Count one guess at the phone's current code, atomically (one conditional
        UpdateItem ``ADD attempts 1`` if ``attempts < max_attempts`` and the code is still
        ``code_hash``). True: the guess may be compared; False: the limit is reached or the
        code changed meanwhile. Concurrent guesses can never pass the limit together."""
        model = self.otps
        item = model(phone_number=phone_number)
        condition = (model.attempts < max_attempts) & (model.code_hash == code_hash)
        try:
            self._call(
                lambda: item.update([model.attempts.add(1)], condition=condition),
                "count otp attempt",
            )
        except ConflictError:
            return False
        return True

    def get_otp(self, phone_number: str) -> OtpChallenge | None:
        item = self._get_or_none(self.otps, "otp", phone_number)
        return None if item is None else _from_model(OtpChallenge, item)

    def delete_otp(self, phone_number: str) -> None:
        self._call(lambda: self.otps(phone_number=phone_number).delete(), "delete otp")

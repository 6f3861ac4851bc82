"""Country calling codes of E.164 numbers (the key of the per-country SMS limit)."""

from __future__ import annotations

import pytest
from findme.domain.phones import ONE_DIGIT_CODES, TWO_DIGIT_CODES, country_calling_code


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("+14155550123", "+1"),  # NANP
        ("+18765550123", "+1"),  # Jamaica is NANP too
        ("+79161234567", "+7"),
        ("+447911123456", "+44"),
        ("+33612345678", "+33"),
        ("+353861234567", "+353"),  # 35x is three digits
        ("+420601123456", "+420"),  # 42x is three digits
        ("+8613812345678", "+86"),
        ("+85291234567", "+852"),
        ("+882161234567", "+882"),  # international networks: a premium-rate favourite
        ("+97150123456", "+971"),
        ("+2348031234567", "+234"),
    ],
)
def test_country_calling_codes_follow_the_e164_assignments(number: str, code: str) -> None:
    assert country_calling_code(number) == code


def test_the_code_table_is_prefix_free() -> None:
    """E.164 codes are prefix-free: no one-digit code starts a two-digit one."""
    assert all(len(c) == 1 for c in ONE_DIGIT_CODES)
    assert all(len(c) == 2 and c[0] not in ONE_DIGIT_CODES for c in TWO_DIGIT_CODES)

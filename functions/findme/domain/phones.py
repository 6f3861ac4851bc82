"""Phone numbers: the country calling code of an E.164 number (SMS limits per country).

ITU-T E.164 country calling codes are 1 to 3 digits and prefix-free (no code is the start of
another), so the first digits of a number name its code without a numbering-plan database.
Source: ITU-T, *List of ITU-T Recommendation E.164 assigned country codes* (complement to
E.164). Only +1 (the North American Numbering Plan: the US, Canada and many Caribbean
countries and territories) and +7 (Russia, Kazakhstan) have one digit; the
two-digit codes are :data:`TWO_DIGIT_CODES`; every other code has three digits (spare codes
too, so an unassigned prefix is still one bucket).
"""

from __future__ import annotations

#: One-digit country calling codes (ITU-T E.164): NANP and Russia/Kazakhstan.
ONE_DIGIT_CODES = frozenset({"1", "7"})
#: Two-digit country calling codes (ITU-T E.164), zones 2 to 9.
TWO_DIGIT_CODES = frozenset(
    {
        "20", "27",
        "30", "31", "32", "33", "34", "36", "39",
        "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58",
        "60", "61", "62", "63", "64", "65", "66",
        "81", "82", "84", "86",
        "90", "91", "92", "93", "94", "95", "98",
    }
)  # fmt: skip


def country_calling_code(e164: str) -> str:
    """The country calling code of a normalised E.164 number, with its ``+``.

    Args:
        e164: ``+`` and 8-15 digits, as :func:`findme.services.auth.normalize_phone` returns.

    Returns:
        ``"+1"`` for ``+14155550123``, ``"+44"`` for ``+447911123456``, ``"+353"`` for
        ``+353861234567`` (see the module docstring for the rule and its source).
    """
    digits = e164.removeprefix("+")
    if digits[:1] in ONE_DIGIT_CODES:
        return f"+{digits[:1]}"
    if digits[:2] in TWO_DIGIT_CODES:
        return f"+{digits[:2]}"
    return f"+{digits[:3]}"

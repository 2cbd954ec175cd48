"""Personal data masking: e-mail addresses, phone numbers, card numbers, IBANs and account
numbers are replaced by a tag before text leaves for an external language model and before a
log line is written.

Masking is by pattern and checksum, not by a model: a card number must pass the Luhn check and
an IBAN the mod-97 check, so an order number or an amount is left alone. It errs towards
masking a long run of digits (an account number looks like any other 8 to 18 digits); a date
written as 2026-12-04 is kept.
"""

from __future__ import annotations

import logging
import re
import traceback

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card number]"
IBAN = "[IBAN]"
ACCOUNT = "[account number]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Country, check digits, then the account in groups of four as people write it (or unspaced);
# a following word may be caught as a last group, so the check decides where the IBAN ends.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,8}(?: ?[A-Z0-9]{1,3})?\b", re.I)
# A run of digits with the separators people type inside numbers (spaces, dashes, dots,
# brackets), optionally after a + (an international phone number).
_DIGITS = re.compile(r"(?<![\w+])(?:\+|\()?\d(?:[\d\- .()]*\d)?(?!\w)")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN (spaces ignored)."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _digits_mask(match: re.Match[str]) -> str:
    run = match.group(0)
    stripped = run.strip(" .-")
    digits = re.sub(r"\D", "", stripped)
    if _DATE.match(stripped):
        return run
    international = stripped.startswith("+") or (stripped.startswith("00") and len(digits) > 9)
    if international and 8 <= len(digits) <= 15:
        return run.replace(stripped, PHONE)
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return run.replace(stripped, CARD)
    grouped = bool(re.search(r"[\s\-.()]", stripped))
    national = stripped.startswith(("(", "0"))
    if national and grouped and 9 <= len(digits) <= 12:
        return run.replace(stripped, PHONE)
    if 8 <= len(digits) <= 18:
        return run.replace(stripped, ACCOUNT)
    return run


def _iban_mask(match: re.Match[str]) -> str:
    found = match.group(0)
    for end in range(len(found), 14, -1):
        boundary = found[end - 1] != " " and (end == len(found) or found[end] == " ")
        if boundary and iban_valid(found[:end]):
            return IBAN + found[end:]
    return found


def pii_mask(text: str) -> str:
    """`text` with e-mail addresses, phone, card, IBAN and account numbers replaced by tags."""
    if not text:
        return text
    text = _EMAIL.sub(EMAIL, text)
    text = _IBAN.sub(_iban_mask, text)
    return _DIGITS.sub(_digits_mask, text)


class PiiMaskingFilter(logging.Filter):
    """A logging filter that masks personal data in the message and the traceback of every
    record it sees (settings.LOGGING puts it on every handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as usual
            return True
        record.msg = pii_mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            formatted = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = pii_mask(formatted.rstrip("\n"))
        return True

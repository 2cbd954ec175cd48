"""Personal data masking: before text goes to an external language model, and in logs."""

from __future__ import annotations

import logging
import sys

import pytest

from apps.core.pii import PiiMaskingFilter, iban_valid, luhn_valid, pii_mask


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("write to jane.doe+bank@mail.example.co.uk", "write to [email]"),
        ("call me on +44 20 7946 0958", "call me on [phone]"),
        ("or on (555) 123-4567 tonight", "or on [phone] tonight"),
        ("my mobile is 07700 900123.", "my mobile is [phone]."),
        ("card 4111 1111 1111 1111 was charged", "card [card number] was charged"),
        ("card 4111-1111-1111-1111", "card [card number]"),
        ("IBAN GB82 WEST 1234 5698 7654 32 thanks", "IBAN [IBAN] thanks"),
        ("pay BE68 5390 0754 7034 then", "pay [IBAN] then"),
        ("de89370400440532013000", "[IBAN]"),
        ("account 12345678 please", "account [account number] please"),
    ],
)
def test_personal_data_is_masked(text, masked):
    assert pii_mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Cards arrive in 5 to 7 working days and cost 9 EUR.",
        "I paid 12.50 on 2026-12-04 and again on 04.12.2026",
        "order 1234 of 3 items, 1,000,000 points",
        "my card ends in 1111",
    ],
)
def test_ordinary_numbers_and_dates_are_kept(text):
    assert pii_mask(text) == text


def test_a_number_that_fails_the_luhn_check_is_no_card_but_still_masked():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert pii_mask("4111 1111 1111 1112") == "[account number]"


def test_an_iban_with_a_wrong_check_is_not_called_an_iban():
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert not iban_valid("GB83 WEST 1234 5698 7654 32")
    assert "[IBAN]" not in pii_mask("GB83 WEST 1234 5698 7654 32")


def test_log_records_are_masked_in_message_arguments_and_traceback():
    record_filter = PiiMaskingFilter()
    try:
        raise ValueError("bad address jane@example.com")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "apps.support", logging.ERROR, __file__, 1, "customer %s wrote %s", None, exc_info
    )
    record.args = ("jane@example.com", "card 4111 1111 1111 1111")

    kept = record_filter.filter(record)
    line = logging.Formatter("%(message)s").format(record)

    assert kept
    assert "jane@example.com" not in line and "4111" not in line
    assert "customer [email] wrote card [card number]" in line
    assert "bad address [email]" in line


def test_the_configured_log_handler_masks_personal_data():
    masking = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, PiiMaskingFilter) for f in h.filters)
    ]

    assert masking, "settings.LOGGING puts the masking filter on the console handler"


def test_a_celery_worker_keeps_the_masking_on_its_own_handlers():
    from config.celery import pii_masking_install

    logger = logging.getLogger("test-worker-logger")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        pii_masking_install(logger)
        pii_masking_install(logger)
    finally:
        logger.removeHandler(handler)

    assert [type(f) for f in handler.filters] == [PiiMaskingFilter]

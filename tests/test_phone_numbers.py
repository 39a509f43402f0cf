"""Phone numbers: caller ID, keyed-in UK numbers, masking and reading back."""

import pytest

from ivr import phone


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("07700900123", "+447700900123"),
        ("+447700900123", "+447700900123"),
        ("0044 7700 900123", "+447700900123"),
        ("020 7946 0000", "+442079460000"),
        ("0113 496 0000", "+441134960000"),
        ("0800 123 4567", "+448001234567"),
        ("03001234567", "+443001234567"),
    ],
)
def test_callable_uk_numbers_are_accepted(raw, expected):
    assert phone.normalise_uk(raw) == expected


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("", "empty"),
        ("0770090", "too_short"),
        ("077009001234", "too_long"),
        ("00000000000", "all_zeros"),
        ("0033142685300", "international"),
        ("+33142685300", "international"),
        ("09098790000", "premium"),
        ("08712345678", "premium"),
        ("07012345678", "not_callable"),
        ("12*45", "not_digits"),
        ("1234", "too_short"),
    ],
)
def test_uncallable_numbers_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(phone.NumberProblem) as caught:
        phone.normalise_uk(raw)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "sentinel",
    [
        "+266696687",
        "+7378742833",
        "+86282452253",
        "+2562533",
        "anonymous",
        "Restricted",
        "",
        None,
        "client:alice",
        "+33142685300",
    ],
)
def test_withheld_or_foreign_caller_id_cannot_be_used(sentinel):
    assert phone.caller_id_number(sentinel) is None


def test_masking_keeps_only_the_last_three_digits():
    assert phone.mask("+447700900123") == "*********123"
    assert phone.mask("") == ""
    assert phone.mask("12") == "**"


def test_numbers_are_read_back_in_familiar_groups():
    assert phone.spoken_digits("07700900123") == "0 7 7 0 0, 9 0 0, 1 2 3"

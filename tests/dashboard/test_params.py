"""Request values parsed in one place: what each parser accepts, and the sentence it refuses."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from dashboard import params
from dashboard.params import BadParameter


@pytest.mark.parametrize(
    "raw", ["²", "٣", "\uff11\uff12", "1e3", "0x10", "1.0", "", " ", "--1", "1__0", "_1"]
)
def test_integers_are_ascii_digits_only(raw):
    # "²".isdigit() is True and int("٣") == 3: neither is a number an operator typed here.
    with pytest.raises(BadParameter, match="“page” must be a whole number"):
        params.integer(raw, "page")


def test_integers_accept_a_sign_spaces_and_grouping():
    assert params.integer(" 42 ", "n") == 42
    assert params.integer("-7", "n") == -7
    assert params.integer("+1_000", "n") == 1000


@pytest.mark.parametrize("raw", ["0", "201", "9" * 30, "9" * 5000])
def test_integers_out_of_bounds_name_the_bounds(raw):
    with pytest.raises(BadParameter) as caught:
        params.integer(raw, "n", minimum=1, maximum=200)
    assert caught.value.sentence == "“n” must be a whole number from 1 to 200."


def test_integers_default_to_the_bigint_range():
    assert params.integer(str(2**63 - 1), "id") == 2**63 - 1
    with pytest.raises(BadParameter, match="9,223,372,036,854,775,807"):
        params.integer(str(2**63), "id")


@pytest.mark.parametrize(
    ("type_label", "raw", "allowed"),
    [
        ("smallint", "32767", True),
        ("smallint", "32768", False),
        ("integer", "-2147483648", True),
        ("integer", "2147483648", False),
        ("bigint", "9223372036854775808", False),
        ("numeric(10, 2)", "99999999.99", True),
        ("numeric(10, 2)", "100000000", False),
        ("numeric", "-1e999999999", False),  # finite for Decimal; numeric cannot hold it
        ("numeric", "1e100", True),
        ("real", "3e38", True),
        ("real", "4e38", False),
        ("double precision", "1e308", True),
        ("double precision", "1e309", False),  # float() would make it inf
        ("double precision", "NaN", False),
        ("numeric", "Infinity", False),
        ("numeric", "١٢", False),  # Decimal() reads Arabic-Indic digits
    ],
)
def test_numbers_are_finite_and_within_the_column_type(type_label, raw, allowed):
    if allowed:
        value = params.typed_number(raw, "f.eq.n", type_label)
        assert value == type(value)(Decimal(raw))  # int, float or Decimal by the column type
    else:
        with pytest.raises(BadParameter, match=r"“f\.eq\.n” must be"):
            params.typed_number(raw, "f.eq.n", type_label)


def test_text_refuses_nul_and_overlong_values():
    assert params.text("any thing\n\tgoes", "q") == "any thing\n\tgoes"
    with pytest.raises(BadParameter, match="without NUL"):
        params.text("a\x00b", "q")
    with pytest.raises(BadParameter, match="at most 3 characters"):
        params.text("abcd", "q", max_length=3)


@pytest.mark.parametrize("raw", ["", "a\nb", "a\r\nb", "tab\there", "\x1b[31m", "del\x7f"])
def test_identifiers_are_not_empty_and_have_no_control_characters(raw):
    with pytest.raises(BadParameter, match="“scope_user” must be a name or id"):
        params.identifier(raw, "scope_user")


def test_identifiers_keep_any_other_unicode():
    for raw in ("acc/alice", "50% off?#", "quo\"te's", "ünï ćødé 日本", "  spaced  "):
        assert params.identifier(raw, "scope_user") == raw


@pytest.mark.parametrize(
    "raw", ["9999-12-31", "0001-01-01", "\uff12\uff10\uff12\uff15-01-01", "31/01/2025"]
)
def test_dates_stay_a_day_inside_what_python_and_postgres_hold(raw):
    with pytest.raises(BadParameter, match="“due” must be a date"):
        params.day(raw, "due")


def test_dates_and_timestamps_within_range_parse():
    assert params.day("9999-12-30", "due") == date(9999, 12, 30)
    assert params.timestamp("2025-01-31", "at") == (datetime(2025, 1, 31), True)
    value, whole_day = params.timestamp("2025-01-31T14:30+02:00", "at")
    assert value.utcoffset() is not None and not whole_day
    with pytest.raises(BadParameter, match="from 0001-01-02 to 9999-12-30"):
        params.timestamp("9999-12-31", "f.lte.created_at")  # + one day overflowed
    assert params.time_of_day("14:30", "t") == time(14, 30)
    with pytest.raises(BadParameter):
        params.time_of_day("\uff114:30", "t")


def test_uuids_are_ascii():
    assert params.uuid_value(str(uuid.UUID(int=5)), "uid") == uuid.UUID(int=5)
    with pytest.raises(BadParameter, match="UUID"):
        params.uuid_value("\uff11" + "2" * 31, "uid")  # uuid.UUID() reads the full-width digit


def test_booleans_and_choices():
    assert params.boolean(" Yes ", "done") is True
    assert params.boolean("off", "done") is False
    with pytest.raises(BadParameter, match="true or false"):
        params.boolean("maybe", "done")
    with pytest.raises(BadParameter, match="one of “a”, “b”"):
        params.choice("c", "mode", ["a", "b"])


def test_optional_values_fall_back_to_the_default():
    query = {"n": "25", "blank": "  "}
    assert params.optional(query, "n", params.integer, 50) == 25
    assert params.optional(query, "blank", params.integer, 50) == 50
    assert params.optional(query, "absent", params.integer, 50) == 50


def test_parameter_names_are_quoted_printably():
    with pytest.raises(BadParameter) as caught:
        params.integer("x", "f.eq.a\nb")
    assert "\n" not in caught.value.sentence and "“f.eq.a�b”" in caught.value.sentence

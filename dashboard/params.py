"""Request values parsed in one place: query parameters, form fields and path segments.

Every view and service that reads a value an operator (or anyone with a URL) can type goes
through these parsers. Each takes the raw text and the parameter's name, and returns a value
of the wanted type or raises `BadParameter`, whose sentence names the parameter and says what
is expected. The middleware answers an uncaught `BadParameter` with a 400 page (or its notice,
for htmx); a page that can carry on (a list showing its first page) catches it and shows the
sentence as a notice instead.

What "valid" means, once for the whole console:

- integers: ASCII digits only, within bounds (`int()` also reads digits of other scripts,
  and "²".isdigit() is True while int("²") fails);
- decimals and floats: ASCII, finite, within the range of the column type they meet;
- text: never a NUL (PostgreSQL text cannot hold one); identifiers (table names, end-user
  ids) have no control characters either and are not empty;
- dates and timestamps: within what Python and PostgreSQL both hold, a day to spare at each
  end (a whole-day bound adds a day; a time zone can move the instant by hours);
- booleans and choices: one of a fixed vocabulary.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import TypeVar

T = TypeVar("T")

INT2 = (-(2**15), 2**15 - 1)
INT4 = (-(2**31), 2**31 - 1)
INT8 = (-(2**63), 2**63 - 1)
REAL_MAX = 3.4028234663852886e38
DOUBLE_MAX = 1.7976931348623157e308
# PostgreSQL's numeric: up to 131072 digits before the decimal point, 16383 after.
NUMERIC_MAX_EXPONENT = 131072
NUMERIC_MAX_SCALE = 16383
FIRST_DAY = date(1, 1, 2)
LAST_DAY = date(9999, 12, 30)
TRUE_WORDS = frozenset({"true", "t", "1", "yes", "y", "on"})
FALSE_WORDS = frozenset({"false", "f", "0", "no", "n", "off"})

_INTEGER = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*\Z")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_INTEGER_DIGITS_MAX = 40  # more digits than any bound here: refused before int() reads them
_DECIMAL_TEXT_MAX = 200


class BadParameter(ValueError):
    """A request value that cannot be used; the message names it and says what is expected."""

    def __init__(self, name: str, expected: str, *, subject: str = "", sentence: str = "") -> None:
        self.name = name
        self.expected = expected
        super().__init__(sentence or f"{subject or '“' + _shown(name) + '”'} must be {expected}.")

    @property
    def sentence(self) -> str:
        return str(self)


def _shown(name: str) -> str:
    """Return a parameter name fit to quote in a sentence (short, no control characters)."""
    cleaned = "".join(ch if ch.isprintable() else "�" for ch in name)
    return cleaned if len(cleaned) <= 60 else cleaned[:59] + "…"


def _grouped(number: int) -> str:
    return f"{number:,}"


# -- text ------------------------------------------------------------------------------------
def has_nul(raw: str) -> bool:
    return "\x00" in raw


def has_control(raw: str) -> bool:
    """Return True when `raw` holds a control character (NUL, CR, LF, tab, ESC, DEL, …)."""
    return any(unicodedata.category(ch) == "Cc" for ch in raw)


def text(raw: str, name: str, *, max_length: int | None = None) -> str:
    """Return `raw` as free text: anything but NUL, at most `max_length` characters."""
    if has_nul(raw):
        raise BadParameter(name, "text without NUL characters")
    if max_length is not None and len(raw) > max_length:
        raise BadParameter(name, f"at most {_grouped(max_length)} characters long")
    return raw


def identifier(raw: str, name: str, *, max_length: int = 1000) -> str:
    """Return `raw` as a name or id: not empty, no control characters, bounded in length."""
    if not raw:
        raise BadParameter(name, "a name or id, not empty")
    if has_control(raw):
        raise BadParameter(name, "a name or id without control characters (NUL, line breaks, tabs)")
    if len(raw) > max_length:
        raise BadParameter(name, f"a name or id of at most {_grouped(max_length)} characters")
    return raw


def choice(raw: str, name: str, choices: Collection[str]) -> str:
    """Return `raw` if it is one of `choices`."""
    if raw not in choices:
        listed = ", ".join(f"“{c}”" for c in choices)
        raise BadParameter(name, f"one of {listed}")
    return raw


def boolean(raw: str, name: str) -> bool:
    """Return `raw` as a boolean (true/false, yes/no, on/off, 1/0, t/f, y/n)."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadParameter(name, "true or false")


# -- numbers ---------------------------------------------------------------------------------
def integer(
    raw: str,
    name: str,
    *,
    minimum: int | None = INT8[0],
    maximum: int | None = INT8[1],
    expected: str = "a whole number, like 42",
) -> int:
    """Return `raw` (ASCII digits, an optional sign, `_` between digits) as an int in bounds."""
    value = raw.strip()
    if not _INTEGER.match(value):
        raise BadParameter(name, expected)
    if len(value.lstrip("+-0").replace("_", "")) > _INTEGER_DIGITS_MAX:
        raise BadParameter(name, _between(minimum, maximum))  # beyond any bound; int() not asked
    number = int(value.replace("_", ""), 10)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise BadParameter(name, _between(minimum, maximum))
    return number


def _between(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a whole number from {_grouped(minimum)} to {_grouped(maximum)}"
    if minimum is not None:
        return f"a whole number of at least {_grouped(minimum)}"
    if maximum is not None:
        return f"a whole number of at most {_grouped(maximum)}"
    return "a whole number"


def decimal(
    raw: str,
    name: str,
    *,
    below: Decimal | None = None,
    expected: str = "a number, like 3.14",
) -> Decimal:
    """Return `raw` as a finite Decimal that PostgreSQL's numeric holds (|value| < `below`)."""
    value = raw.strip()
    if value.lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
        raise BadParameter(name, "a finite number, like 3.14")
    if not _DECIMAL.match(value) or len(value) > _DECIMAL_TEXT_MAX:
        raise BadParameter(name, expected)
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
        raise BadParameter(name, expected) from None
    if number and number.adjusted() >= NUMERIC_MAX_EXPONENT:
        raise BadParameter(name, "a number with fewer digits")
    exponent = number.as_tuple().exponent  # an int: NaN and infinities were refused above
    if isinstance(exponent, int) and -exponent > NUMERIC_MAX_SCALE:
        raise BadParameter(name, f"a number with at most {NUMERIC_MAX_SCALE:,} decimals")
    if below is not None and abs(number) >= below:
        raise BadParameter(name, f"a number between -{below:,} and {below:,} (exclusive)")
    return number


def floating(
    raw: str,
    name: str,
    *,
    limit: float = DOUBLE_MAX,
    minimum: float | None = None,
    expected: str = "a number, like 3.14",
) -> float:
    """Return `raw` as a finite float with |value| <= `limit` (and >= `minimum` if given)."""
    number = float(decimal(raw, name, expected=expected))
    if not abs(number) <= limit:  # also catches inf from a huge exponent
        raise BadParameter(name, f"a number between -{limit:g} and {limit:g}")
    if minimum is not None and number < minimum:
        raise BadParameter(name, f"a number of at least {minimum:g}")
    return number


def numeric_range(type_label: str) -> tuple[str, object]:
    """Return how a column of SQL type `type_label` bounds a value: ("int", (low, high)),
    ("float", largest magnitude) or ("decimal", exclusive bound of the magnitude, or None)."""
    label = type_label.lower()
    if label in ("smallint", "int2"):
        return "int", INT2
    if label in ("integer", "int", "int4"):
        return "int", INT4
    if label in ("bigint", "int8"):
        return "int", INT8
    if label in ("real", "float4"):
        return "float", REAL_MAX
    if label.startswith(("double", "float")):
        return "float", DOUBLE_MAX
    match = re.match(r"(?:numeric|decimal)\((\d+)(?:,\s*(-?\d+))?\)", label)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2) or 0)
        return "decimal", Decimal(10) ** (precision - scale)
    return "decimal", None


def integer_range(type_label: str) -> tuple[int, int]:
    """Return the (low, high) bounds of integer SQL type `type_label` (bigint's for others)."""
    kind, bound = numeric_range(type_label)
    if kind == "int" and isinstance(bound, tuple):
        return bound
    return INT8


def typed_number(raw: str, name: str, type_label: str) -> int | float | Decimal:
    """Return `raw` as a value within the range of the numeric SQL type `type_label`."""
    kind, bound = numeric_range(type_label)
    if kind == "int":
        low, high = integer_range(type_label)
        return integer(raw, name, minimum=low, maximum=high)
    if kind == "float" and isinstance(bound, float):
        return floating(raw, name, limit=bound)
    return decimal(raw, name, below=bound if isinstance(bound, Decimal) else None)


# -- dates and times -------------------------------------------------------------------------
def _ascii_parsed(raw: str, name: str, expected: str, parse: Callable[[str], T]) -> T:
    """Return parse(raw) for stripped ASCII text (fromisoformat and UUID() also read digits
    of other scripts), or raise BadParameter(name, expected)."""
    value = raw.strip()
    if value.isascii():
        try:
            return parse(value)
        except ValueError:
            pass
    raise BadParameter(name, expected)


def day(raw: str, name: str, *, expected: str = "a date as YYYY-MM-DD, like 2025-01-31") -> date:
    """Return `raw` as a date between 0001-01-02 and 9999-12-30."""
    parsed = _ascii_parsed(raw, name, expected, date.fromisoformat)
    _check_day(parsed, name)
    return parsed


def timestamp(
    raw: str,
    name: str,
    *,
    expected: str = "a date, or a date and time, like 2025-01-31 or 2025-01-31 14:30",
) -> tuple[datetime, bool]:
    """Return `raw` as a datetime (naive unless it names an offset) and whether it was a bare
    date (which, as an upper bound, means the whole day); dates 0001-01-02 to 9999-12-30."""
    parsed = _ascii_parsed(raw, name, expected, datetime.fromisoformat)
    _check_day(parsed.date(), name)
    return parsed, len(raw.strip()) == 10


def within_days(value: date | datetime) -> bool:
    """Return True when the day of `value` lies in FIRST_DAY … LAST_DAY."""
    return FIRST_DAY <= (value.date() if isinstance(value, datetime) else value) <= LAST_DAY


def _check_day(value: date, name: str) -> None:
    if not within_days(value):
        raise BadParameter(name, f"a date from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}")


def time_of_day(
    raw: str, name: str, *, expected: str = "a time as HH:MM or HH:MM:SS, like 14:30"
) -> time:
    """Return `raw` as a time of day."""
    return _ascii_parsed(raw, name, expected, time.fromisoformat)


def uuid_value(
    raw: str, name: str, *, expected: str = "a UUID, like 123e4567-e89b-12d3-a456-426614174000"
) -> uuid.UUID:
    """Return `raw` as a UUID (ASCII hexadecimal digits)."""
    return _ascii_parsed(raw, name, expected, uuid.UUID)


# -- reading a request's values --------------------------------------------------------------
def optional(
    params: Mapping[str, str],
    name: str,
    parse: Callable[[str, str], T],
    default: T,
) -> T:
    """Return params[name] parsed by `parse(raw, name)`, or `default` when absent or blank."""
    raw = params.get(name)
    if raw is None or not raw.strip():
        return default
    return parse(raw, name)


def check_no_nul(path: str, *value_lists: Iterable[tuple[str, list[str]]]) -> None:
    """Raise BadParameter when the path, a parameter name or a value holds a NUL (as
    `QueryDict.lists()` gives them): PostgreSQL cannot store one, so no request may carry it."""
    if has_nul(path):
        raise BadParameter("path", "text without NUL characters", subject="The address")
    for lists in value_lists:
        for name, items in lists:
            if has_nul(name):
                raise BadParameter(name, "text without NUL characters", subject="A parameter name")
            for item in items:
                text(item, name)

"""Cells of CSV exports that a spreadsheet will not run as a formula (CSV injection).

A cell starting with = + - @, a tab or a carriage return is prefixed with a quote ('). One rule,
in Python (`safe_cell`) for exports written row by row, and as a SQL expression
(`safe_cell_sql`) for exports the database writes itself (COPY … TO STDOUT): both come from
FORMULA_STARTS, and a test checks they agree. https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

from django.db.models import Case, Expression, F, TextField, Value, When
from django.db.models.functions import Concat, Left
from django.db.models.lookups import In

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FIRST = frozenset(FORMULA_STARTS)


def safe_cell(text: str) -> str:
    """Return `text` made inert for spreadsheets (a leading ' stops formulas)."""
    return "'" + text if text[:1] in _FIRST else text


def safe_cell_sql(expression: Expression | F) -> Case:
    """Return `safe_cell` as a SQL expression over a text expression (NULL stays NULL)."""
    return Case(
        When(
            In(Left(expression, 1), list(FORMULA_STARTS)),
            then=Concat(Value("'"), expression, output_field=TextField()),
        ),
        default=expression,
        output_field=TextField(),
    )

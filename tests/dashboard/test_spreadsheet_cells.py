"""One rule against CSV injection, in Python and in SQL: both must agree on every value."""

from __future__ import annotations

import pytest
from django.db.models import F

from dashboard.audit.models import AuditEvent
from dashboard.spreadsheet_cells import FORMULA_STARTS, safe_cell, safe_cell_sql

SAMPLES = [
    *(start + "1+1" for start in FORMULA_STARTS),
    "plain",
    "",
    "'already quoted",
    " =spaced",
    "a=b",
    "ünïcode-",
]


@pytest.mark.parametrize("value", SAMPLES)
def test_python_rule(value):
    expected = "'" + value if value[:1] in FORMULA_STARTS else value
    assert safe_cell(value) == expected


@pytest.mark.django_db
def test_the_sql_rule_gives_what_the_python_rule_gives(admin_user):
    ids = {
        value: AuditEvent.objects.create(
            operator=admin_user, operator_name="x", action="test", reason=value
        ).pk
        for value in SAMPLES
    }
    made = dict(
        AuditEvent.objects.filter(pk__in=ids.values())
        .annotate(safe=safe_cell_sql(F("reason")))
        .values_list("pk", "safe")
    )
    for value, pk in ids.items():
        assert made[pk] == safe_cell(value), repr(value)

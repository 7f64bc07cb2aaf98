"""The audit page's list: filters, keyset pages, and the links that keep the filters.

Who sees what: administrators see every operator's events; support engineers and engineers
see only their own (the trail holds other operators' reasons and the end-users they looked at,
and overseeing colleagues is an administrator's job). The operator filter is therefore only
offered to administrators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connections, router
from django.db.models import Expression, F, Func, JSONField, Q, QuerySet
from django.http import QueryDict
from django.utils.http import urlencode

from dashboard.accounts.roles import has_role
from dashboard.audit.models import AuditEvent
from dashboard.params import FIRST_DAY, LAST_DAY, integer, optional, within_days

PAGE_SIZE = 50
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
FILTER_NAMES = ("operator", "subject", "action", "since", "until")
CURSOR_EXPECTED = "the number of an event, as the page's own links give it"


def sees_everyone(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Return True when the operator may see other operators' events (administrators)."""
    return has_role(user, "admin")


class AuditFilterForm(forms.Form):
    operator = forms.CharField(label="Operator", max_length=150, required=False)
    subject = forms.CharField(label="End-user", max_length=255, required=False)
    action = forms.ChoiceField(label="Action", required=False)
    since = forms.DateTimeField(label="From", required=False, widget=DATETIME_INPUT)
    until = forms.DateTimeField(label="Until", required=False, widget=DATETIME_INPUT)

    def __init__(self, *args, actions: list[str], everyone: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        action = self.fields["action"]
        assert isinstance(action, forms.ChoiceField)
        action.choices = [("", "any action")] + [(a, a) for a in actions]
        if not everyone:
            del self.fields["operator"]
        self.fields["operator" if everyone else "subject"].widget.attrs["autofocus"] = True

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("since", "until"):
            value = data.get(name)
            if value is not None and not within_days(value):
                self.add_error(name, f"Enter a date from {FIRST_DAY} to {LAST_DAY}.")
                data.pop(name, None)
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            raise forms.ValidationError("“From” must be before “Until”.")
        return data


@dataclass
class AuditPage:
    """One page of events and the links around it."""

    events: list[AuditEvent]
    rows: list[tuple[AuditEvent, list[tuple[str, str]]]] = field(init=False)
    form: AuditFilterForm
    everyone: bool
    older_url: str = ""
    newer_url: str = ""
    filter_query: str = ""  # the filters as a query string, for the CSV link
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rows = [(event, detail_lines(event.detail)) for event in self.events]


# The distinct actions by a loose index scan: one probe of the action index per action, not a
# pass over every event (https://wiki.postgresql.org/wiki/Loose_indexscan).
KNOWN_ACTIONS_SQL = """
WITH RECURSIVE actions AS (
    (SELECT action FROM audit_auditevent ORDER BY action LIMIT 1)
    UNION ALL
    SELECT (
        SELECT e.action
        FROM audit_auditevent AS e
        WHERE e.action > a.action
        ORDER BY e.action
        LIMIT 1
    )
    FROM actions AS a
    WHERE a.action IS NOT NULL
)
SELECT action FROM actions WHERE action IS NOT NULL
"""


def known_actions() -> list[str]:
    """Return every action that occurs in the trail, sorted."""
    with connections[router.db_for_read(AuditEvent)].cursor() as cursor:
        cursor.execute(KNOWN_ACTIONS_SQL)
        return [row[0] for row in cursor.fetchall()]


def visible_events(user: AbstractBaseUser | AnonymousUser) -> QuerySet[AuditEvent]:
    """Return the events this operator may see (all for administrators, else their own)."""
    events = AuditEvent.objects.all()
    if not sees_everyone(user):
        events = events.filter(operator_id=user.pk)
    return events


def filtered_events(user: AbstractBaseUser | AnonymousUser, data: dict) -> QuerySet[AuditEvent]:
    """Return the operator's visible events narrowed by the cleaned filter `data`."""
    events = visible_events(user)
    if data.get("operator"):
        events = events.filter(operator_name__iexact=data["operator"])
    if data.get("subject"):
        events = events.filter(subject_user=data["subject"])
    if data.get("action"):
        events = events.filter(action=data["action"])
    if data.get("since"):
        events = events.filter(at__gte=data["since"])
    if data.get("until"):
        events = events.filter(at__lt=data["until"])
    return events


def _cursor_event(events: QuerySet[AuditEvent], params: QueryDict, name: str) -> AuditEvent | None:
    """Return the event a page link's `after`/`before` names (a 400 if it is not a number)."""
    number = optional(params, name, partial(integer, minimum=1, expected=CURSOR_EXPECTED), None)
    return None if number is None else events.filter(pk=number).only("pk", "at").first()


def audit_page(user: AbstractBaseUser | AnonymousUser, params: QueryDict) -> AuditPage:
    """Return the page of events the request's filters and cursor ask for, newest first."""
    everyone = sees_everyone(user)
    form = AuditFilterForm(params or None, actions=known_actions(), everyone=everyone)
    data = form.cleaned_data if form.is_valid() else {}
    events = filtered_events(user, data)
    kept: dict[str, Any] = {
        name: params[name] for name in FILTER_NAMES if params.get(name) and name in form.fields
    }
    filter_query = urlencode(kept)

    older_than = _cursor_event(events, params, "after")
    newer_than = _cursor_event(events, params, "before")
    if newer_than is not None:
        # Going back: the events just newer than the cursor, read oldest first, then reversed.
        # (at, id) > (cursor): the bound on `at` alone lets the index range start at the cursor.
        newer = Q(at__gt=newer_than.at) | Q(at=newer_than.at, pk__gt=newer_than.pk)
        rows = list(
            events.filter(newer, at__gte=newer_than.at).order_by("at", "id")[: PAGE_SIZE + 1]
        )
        has_newer = len(rows) > PAGE_SIZE
        rows = list(reversed(rows[:PAGE_SIZE]))
        has_older = True
    else:
        if older_than is not None:
            events = events.filter(
                Q(at__lt=older_than.at) | Q(at=older_than.at, pk__lt=older_than.pk),
                at__lte=older_than.at,
            )
        rows = list(events.order_by("-at", "-id")[: PAGE_SIZE + 1])
        has_older = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        has_newer = older_than is not None
    page = AuditPage(rows, form, everyone, filter_query=filter_query)
    if rows and has_older:
        page.older_url = "?" + urlencode({**kept, "after": rows[-1].pk})
    if rows and has_newer:
        page.newer_url = "?" + urlencode({**kept, "before": rows[0].pk})
    return page


# Parts of a row change's events that hold rows' values: the list shows how many, and the
# event's own page (behind the reason for that end-user) shows them.
ROW_IMAGE_KEYS = ("before", "after", "statements")


def without_row_images(detail: dict) -> dict:
    """Return an event's detail as lists and exports show it: a row change's rows (before,
    after, the statements with their values) replaced by how many there are. Only the event's
    own page shows them, behind the reason for their end-user, and records that look."""
    if "write_id" not in detail:
        return detail
    return {
        key: f"{len(value)} (on the event's page)"
        if key in ROW_IMAGE_KEYS and isinstance(value, list)
        else value
        for key, value in detail.items()
    }


def without_row_images_sql(detail: F | Expression) -> Func:
    """`without_row_images` in SQL, for the export the database writes (COPY)."""
    keys = ", ".join(f"'{key}'" for key in ROW_IMAGE_KEYS)
    return Func(
        detail,
        template=(
            "CASE WHEN jsonb_exists(%(expressions)s, 'write_id') THEN %(expressions)s || COALESCE("
            "(SELECT jsonb_object_agg(image.key, to_jsonb(jsonb_array_length(image.value)::text"
            " || ' (on the event''s page)')) FROM jsonb_each(%(expressions)s) AS image"
            f" WHERE image.key IN ({keys}) AND jsonb_typeof(image.value) = 'array'),"
            " '{}'::jsonb) ELSE %(expressions)s END"
        ),
        output_field=JSONField(),
    )


def detail_lines(detail: dict, limit: int = 120) -> list[tuple[str, str]]:
    """Return an event's detail as (key, short text) pairs for the page."""
    lines = []
    for key, value in without_row_images(detail).items():
        if isinstance(value, dict):
            text = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            text = ", ".join(str(item) for item in value)
        else:
            text = str(value)
        lines.append((str(key), text if len(text) <= limit else text[: limit - 1] + "…"))
    return lines

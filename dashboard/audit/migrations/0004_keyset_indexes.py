"""Indexes that serve the audit page's keyset pages at any size of the trail.

The page lists events newest first, `ORDER BY at DESC, id DESC`, filtered by end-user, action
or (for anyone but administrators) operator, and continues after the last event shown. With an
index on (filter column, at, id) each page, filtered or not, however deep, reads its 51 rows
from the index instead of sorting every matching event. Creating them needs the audit owner lent
for the migration run, as every change of the audit table does (`python -m core.audit_owner --
python manage.py migrate`, see the README).
"""

from django.conf import settings
from django.db import migrations

from dashboard.audit.ownership import AUDIT_TABLE, acting_as_owner

INDEXES = {
    "audit_event_at_id": "(at, id)",
    "audit_event_subject_at_id": "(subject_user, at, id)",
    "audit_event_action_at_id": "(action, at, id)",
    "audit_event_operator_at_id": "(operator_id, at, id)",
}


def create_indexes(apps, schema_editor):
    with acting_as_owner(schema_editor.connection, settings.AUDIT_OWNER_ROLE) as cursor:
        for name, columns in INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {AUDIT_TABLE} {columns}")


def drop_indexes(apps, schema_editor):
    with acting_as_owner(schema_editor.connection, settings.AUDIT_OWNER_ROLE) as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chaincheck")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]

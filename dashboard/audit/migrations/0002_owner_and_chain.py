"""Hand the audit trail to its own owner role and chain its events.

After this migration the console's role may only INSERT and SELECT audit events: the table and
its trigger function belong to AUDIT_OWNER_ROLE (a role nobody logs in as), the trigger refuses
UPDATE, DELETE and TRUNCATE to everyone with no setting to turn it off, and each event carries a
keyed hash chained to the previous one (dashboard/audit/chain.py). Running it needs the console's
role to be a member of the owner for this run: `python -m core.audit_owner -- python manage.py
migrate` lends the membership and takes it back (see the README).

It cannot be reversed: once handed over, only the owner (or a superuser) can give the table back.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from dashboard.audit.chain import CHAIN_FIELDS, GENESIS, chain_key, event_hash
from dashboard.audit.ownership import hand_audit_table_to_owner

# No maintenance switch any more: the old function let TRUNCATE through when a session set
# `schemadesk.audit_maintenance = on`, which any session could do.
APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


def chain_existing_events(apps, schema_editor):
    """Give the events written before the chain existed their hashes, oldest first."""
    events = apps.get_model("audit", "AuditEvent").objects.order_by("id")
    if not events.exists():
        return
    key, previous = chain_key(), GENESIS
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_update_delete")
        for row in events.values_list("id", *CHAIN_FIELDS).iterator(chunk_size=2000):
            values = dict(zip(CHAIN_FIELDS, row[1:], strict=True))
            digest = event_hash(previous, values, key)
            cursor.execute(
                "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
                [previous, digest, row[0]],
            )
            previous = digest
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_update_delete")


def hand_to_owner(apps, schema_editor):
    hand_audit_table_to_owner(schema_editor.connection, settings.AUDIT_OWNER_ROLE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="operator",
            field=models.ForeignKey(
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
        migrations.RunSQL(APPEND_ONLY_SQL),
        migrations.RunPython(hand_to_owner),
        migrations.AlterModelOptions(
            name="auditevent", options={"managed": False, "ordering": ["-at", "-id"]}
        ),
    ]

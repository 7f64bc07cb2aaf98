"""Audit events: who saw or did what, to whom, and why. Append-only, in the database too.

The table belongs to a role the console does not log in as (`AUDIT_OWNER_ROLE`); the console's
role may INSERT and SELECT only, and a trigger refuses UPDATE, DELETE and TRUNCATE to everyone.
Django does not manage the table (`managed = False`): its DDL lives in explicit migrations that
act as the owner, and Django's flush (transactional tests, `manage.py flush`) leaves it alone.
Each event is chained to the one before it by a keyed hash (see chain.py).
"""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import connections, models, router, transaction
from django.utils import timezone

from dashboard.audit.chain import (
    APPEND_LOCK,
    CHAIN_FIELDS,
    GENESIS,
    check_signature,
    event_hash,
)


class AppendOnlyError(RuntimeError):
    """Audit events cannot be changed or deleted."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted.")

    def bulk_create(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are appended one at a time (each extends the chain).")


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # No database constraint: the event outlives the operator's account and is never updated
    # (SET NULL would be an UPDATE, which the trail refuses).
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Kept as text too, so that the trail still names the operator if the account goes.
    operator_name = models.CharField(max_length=150)
    action = models.CharField(max_length=64, db_index=True)
    subject_user = models.CharField(max_length=255, blank=True, db_index=True)
    tables = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    reason = models.TextField(blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        managed = False

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.operator_name} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Audit events cannot be changed.")
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        table = connections[using].ops.quote_name(self._meta.db_table)
        # One writer at a time extends the chain: the lock is held until the transaction ends,
        # so the next writer reads this event as the last one (ids grow along the chain).
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            # Two statements in one round trip (no parameters: the simple query protocol runs
            # them one after the other): the second takes its snapshot once the first holds
            # the lock, so it reads the event the previous writer committed.
            cursor.execute(
                "SELECT pg_advisory_xact_lock({}, {}), current_setting('transaction_isolation');"
                " SELECT hash FROM {} ORDER BY id DESC LIMIT 1".format(*APPEND_LOCK, table)
            )
            if cursor.fetchone()[1] != "read committed":
                # A snapshot older than the lock would not see the last event: the chain forks.
                raise RuntimeError("Audit events are written in READ COMMITTED transactions only.")
            cursor.nextset()
            last = cursor.fetchone()
            self.prev_hash = last[0] if last else GENESIS
            self.hash = event_hash(self.prev_hash, self.chain_values())
            self._insert(cursor, using, table)

    def _insert(self, cursor: Any, using: str, table: str) -> None:
        """INSERT this event with the values its hash covers, as Django's ORM would write
        them (each field's own conversion), without the ORM's statement compiler: every look at
        end-users' data appends an event, and building the INSERT was a third of that."""
        connection = connections[using]
        fields = [field for field in self._meta.concrete_fields if not field.primary_key]
        quote = connection.ops.quote_name
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(quote(field.column) for field in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"RETURNING {quote(self._meta.pk.column)}",
            [field.get_db_prep_save(field.pre_save(self, True), connection) for field in fields],
        )
        self.pk = cursor.fetchone()[0]
        self._state.adding = False
        self._state.db = using

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")

    def chain_values(self) -> dict[str, Any]:
        """Return the values the event's hash covers."""
        return {name: getattr(self, name) for name in CHAIN_FIELDS}


class ChainCheckQuerySet(models.QuerySet):
    def newest_genuine(self) -> ChainCheck | None:
        """Return the first record of this (ordered) queryset whose signature holds."""
        return next((check for check in self.iterator(chunk_size=100) if check.genuine), None)


class ChainCheck(models.Model):
    """One verification of the audit chain: how far it reached and the first break it found.

    Checks with no break are checkpoints: the next check starts after `through_id`, having
    first made sure that event still exists unchanged, so a page view verifies only new events.
    """

    checked_at = models.DateTimeField(default=timezone.now)
    full = models.BooleanField(default=False)  # walked from the first event (audit_verify)
    through_id = models.BigIntegerField(null=True)  # the last event verified (None: none yet)
    through_hash = models.CharField(max_length=64, blank=True)
    events = models.BigIntegerField(default=0)  # events verified from the first through here
    broken_id = models.BigIntegerField(null=True)  # the first broken link, if any
    problem = models.TextField(blank=True)
    # HMAC of the fields above with the chain's key: a record without a valid one was not
    # written by the console (its role can write this table) and is not believed.
    signature = models.CharField(max_length=64, blank=True, db_default="", editable=False)

    objects = ChainCheckQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["through_id"], name="audit_check_through")]

    SIGNED_FIELDS = (
        "checked_at",
        "full",
        "through_id",
        "through_hash",
        "events",
        "broken_id",
        "problem",
    )

    def __str__(self) -> str:
        return f"{self.checked_at:%Y-%m-%d %H:%M} {'full' if self.full else 'incremental'}"

    def save(self, *args, **kwargs):
        self.signature = check_signature({name: getattr(self, name) for name in self.SIGNED_FIELDS})
        super().save(*args, **kwargs)

    @property
    def genuine(self) -> bool:
        """Return True when the record was written by the console (its signature holds)."""
        expected = check_signature({name: getattr(self, name) for name in self.SIGNED_FIELDS})
        return hmac.compare_digest(expected, self.signature or "")

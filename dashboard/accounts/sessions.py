"""Operators' sessions in the console's database, stored under a hash of their key.

Django's database sessions keep the key the browser holds as the table's primary key, so
whoever reads the table can use any session in it. Copies of the table are read by more than
the console: a Neon branch copies the whole database (schema `django` included) and its
revealed role reads every table, a backup, a restored dump. Here the table holds only a
SHA-256 of each key: a copy gives no session that the console would accept, and the key the
browser sends is hashed before every lookup (SESSION_ENGINE = "dashboard.accounts.sessions").
"""

from __future__ import annotations

import hashlib

from django.contrib.sessions.backends import db
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone


def stored_key(session_key: str) -> str:
    """Return what the table keeps for a session key: 40 hex digits of its SHA-256."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:40]


class SessionStore(db.SessionStore):
    """Django's database session store, its keys hashed in the table."""

    def _get_session_from_db(self):
        try:
            return self.model.objects.get(
                session_key=stored_key(self.session_key), expire_date__gt=timezone.now()
            )
        except (self.model.DoesNotExist, SuspiciousOperation):
            self._session_key = None

    async def _aget_session_from_db(self):
        try:
            return await self.model.objects.aget(
                session_key=stored_key(self.session_key), expire_date__gt=timezone.now()
            )
        except (self.model.DoesNotExist, SuspiciousOperation):
            self._session_key = None

    def exists(self, session_key):
        return self.model.objects.filter(session_key=stored_key(session_key)).exists()

    async def aexists(self, session_key):
        return await self.model.objects.filter(session_key=stored_key(session_key)).aexists()

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        instance.session_key = stored_key(instance.session_key)
        return instance

    async def acreate_model_instance(self, data):
        instance = await super().acreate_model_instance(data)
        instance.session_key = stored_key(instance.session_key)
        return instance

    def delete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self.model.objects.filter(session_key=stored_key(session_key)).delete()

    async def adelete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        await self.model.objects.filter(session_key=stored_key(session_key)).adelete()

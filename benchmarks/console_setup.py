"""Apply the console's own migrations for a benchmark, the way production applies them.

Django's migrations run as the console's role with the audit trail's owner lent for that run
only (core/audit_owner.py): without the membership, the audit migration stops `migrate`. Every
benchmark that sets up Django calls `migrate_console` instead of a bare `migrate`.
"""

from __future__ import annotations

from core.audit_owner import audit_owner_lent
from core.embedded import CONSOLE_ROLE
from core.pgcluster import Cluster


def migrate_console(cluster: Cluster, database: str, *, database_alias: str = "default") -> None:
    """Apply Django's migrations (audit owner lent, then taken back) and create the cache table.

    Django must be set up already, with DATABASE_URL naming the console's role on `database`.
    """
    from django.core.management import call_command

    with audit_owner_lent(cluster.superuser_url(database), CONSOLE_ROLE):
        call_command("migrate", interactive=False, verbosity=0, database=database_alias)
    call_command("createcachetable", verbosity=0, database=database_alias)

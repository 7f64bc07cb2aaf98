"""Check the console's setup and print the checklist (exit status 1 when something is wrong)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from dashboard.onboarding.checklist import BAD, checklist_text
from dashboard.onboarding.checks import setup_checks


class Command(BaseCommand):
    help = (
        "Check what the console needs (pg_stat_statements, grants, hypopg, branches, the Alembic "
        "project, env.py's URL variable, the models module, cookies and http) and say how to fix "
        "what is missing."
    )

    def handle(self, *args, **options):
        checks = setup_checks()
        self.stdout.write("Setup checks")
        self.stdout.write(checklist_text(checks))
        if any(check.status == BAD for check in checks):
            sys.exit(1)

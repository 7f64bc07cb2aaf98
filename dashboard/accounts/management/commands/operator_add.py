"""Create or update an operator account with a role."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from dashboard.accounts.roles import ROLES


class Command(BaseCommand):
    help = (
        "Create an operator (or give an existing one a role). The password comes from the "
        "environment variable named by --password-env; if that is unset, a password is "
        "generated and printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=ROLES, default="viewer")
        parser.add_argument("--password-env", default="OPERATOR_PASSWORD")
        parser.add_argument(
            "--keep-existing",
            action="store_true",
            help="if the operator exists, change nothing (re-running make demo keeps it)",
        )

    def handle(
        self, *args, username: str, role: str, password_env: str, keep_existing: bool, **options
    ):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user and keep_existing:
            self.stdout.write(f"Operator {username!r} exists; left unchanged.")
            return
        password = os.environ.get(password_env, "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        if user is None:
            user = User(username=username)
        user.set_password(password)
        user.is_active = True
        user.save()
        try:
            user.groups.set([Group.objects.get(name=role)])
        except Group.DoesNotExist as exc:
            raise CommandError("Roles are missing: run `manage.py migrate` first.") from exc
        self.stdout.write(f"Operator {username!r} has the role {role}.")
        if generated:
            # Printed once, to the terminal of whoever created the account; never logged.
            self.stdout.write(f"Generated password (shown only now): {password}")

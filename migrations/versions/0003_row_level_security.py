"""Row-level security: a session sees only the rows of the user set for its transaction.

The user is set per transaction with `SELECT set_config('app.current_user_id', :uid, true)`
(the same as `SET LOCAL`), which is safe behind a transaction-mode pooler. Unset, or reset to ''
after an earlier transaction, it matches nothing. The table owner is not subject to these
policies (no FORCE), so migrations and the console, connected as the owner, see every row.
See docs/rls.md.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:32:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_USER_ID = "NULLIF(current_setting('app.current_user_id', true), '')"

# table -> (policy name, row check for reads and writes, extra check for writes)
POLICIES: dict[str, tuple[str, str, str | None]] = {
    "users": ("users_isolation", f"id = {CURRENT_USER_ID}", None),
    "tasks": ("tasks_isolation", f"user_id = {CURRENT_USER_ID}", None),
    "conversations": ("conversations_isolation", f"user_id = {CURRENT_USER_ID}", None),
    # A message may only be written into a conversation of the same user: foreign-key checks
    # bypass row-level security, so without this a known conversation id would be enough.
    "messages": (
        "messages_isolation",
        f"user_id = {CURRENT_USER_ID}",
        "EXISTS (SELECT 1 FROM conversations AS c "
        "WHERE c.id = messages.conversation_id AND c.user_id = messages.user_id)",
    ),
}


def upgrade() -> None:
    """Apply this revision."""
    for table, (policy, using, extra_check) in POLICIES.items():
        check = f"{using} AND {extra_check}" if extra_check else using
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {policy} ON {table}\n"
            f"    FOR ALL\n"
            f"    USING ({using})\n"
            f"    WITH CHECK ({check})"
        )


def downgrade() -> None:
    """Revert this revision exactly."""
    for table, (policy, _using, _check) in reversed(POLICIES.items()):
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

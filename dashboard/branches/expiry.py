"""Expiry of local branches: Neon deletes its expired branches itself; locally we must."""

from __future__ import annotations

import logging
from datetime import datetime

from dashboard.audit.services import record_system
from dashboard.branches.local_provider import LocalProvider
from dashboard.branches.provider import BranchError

logger = logging.getLogger(__name__)
SYSTEM_OPERATOR = "(system: branch expiry)"


def expired_branches_deleted(provider: LocalProvider, now: datetime | None = None) -> list[str]:
    """Delete the branches whose expiry has passed; return their names (each one audited)."""
    deleted = []
    for branch in provider.expired_branches(now):
        try:
            provider.delete_branch(branch.id)
        except BranchError as exc:
            logger.warning("expired branch %s not deleted: %s", branch.name, exc.detail)
            continue
        record_system(
            SYSTEM_OPERATOR,
            "branch.expire",
            detail={
                "branch": branch.name,
                "branch_id": branch.id,
                "provider": "local",
                "expired_at": branch.expires_at.isoformat() if branch.expires_at else None,
            },
        )
        logger.info("deleted expired local branch %s", branch.name)
        deleted.append(branch.name)
    return deleted

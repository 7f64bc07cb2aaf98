"""The branches pages' work: reading branches, starting jobs, revealing connection strings.

Everything goes through the BranchProvider interface (Neon or local). Provider failures come
back as sentences in the returned data, so a page still renders and says what to do; the
technical detail goes to the log (never a key or a password). Connection strings are masked
unless an engineer asks to reveal them, and every reveal, create, delete and reset is audited.

The work lives in provider_access (the provider in use), branch_pages (the pages' data),
connection_strings (masking and reveals) and branch_requests (create/delete/reset jobs); this
module re-exports it for the views, the forms, the tasks and the tests.
"""

from __future__ import annotations

from dashboard.branches.branch_pages import (
    RECENT_REQUESTS,
    BranchList,
    BranchPage,
    SchemaDiff,
    action_refusal,
    branch_list,
    branch_page,
    recent_requests,
    schema_difference,
)
from dashboard.branches.branch_requests import (
    JOB_KINDS,
    PROGRESS_GRACE_SECONDS,
    ActionTarget,
    BranchJob,
    CreateChoices,
    NewBranch,
    _requested,
    action_target,
    branch_job,
    create_choices,
    start_action,
    start_create,
)
from dashboard.branches.connection_strings import (
    PASSWORD_MASK,
    ConnectionPart,
    ConnectionView,
    connection_part,
    masked_connection,
    masked_url,
    reveal_connection,
)
from dashboard.branches.provider_access import (
    BRANCH_ID_PATTERN,
    ProviderSummary,
    _existing_branch,
    _local_target_database,
    _logged,
    _sorted,
    check_branch_id,
    opened_provider,
    provider_summary,
)

__all__ = [
    "BRANCH_ID_PATTERN",
    "JOB_KINDS",
    "PASSWORD_MASK",
    "PROGRESS_GRACE_SECONDS",
    "RECENT_REQUESTS",
    "ActionTarget",
    "BranchJob",
    "BranchList",
    "BranchPage",
    "ConnectionPart",
    "ConnectionView",
    "CreateChoices",
    "NewBranch",
    "ProviderSummary",
    "SchemaDiff",
    "_existing_branch",
    "_local_target_database",
    "_logged",
    "_requested",
    "_sorted",
    "action_refusal",
    "action_target",
    "branch_job",
    "branch_list",
    "branch_page",
    "check_branch_id",
    "connection_part",
    "create_choices",
    "masked_connection",
    "masked_url",
    "opened_provider",
    "provider_summary",
    "recent_requests",
    "reveal_connection",
    "schema_difference",
    "start_action",
    "start_create",
]

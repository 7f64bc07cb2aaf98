"""User-scoped data access: every function acts for one user and cannot reach another's rows.

Use inside a transaction scoped to the user, e.g.:

    with user_session(user_id) as session:
        page = list_tasks(session, user_id, limit=20)
"""

from core.access.conversations import (
    add_message,
    create_conversation,
    delete_conversation,
    delete_message,
    get_conversation,
    list_conversations,
    list_messages,
    touch_conversation,
    update_message,
)
from core.access.cursor import InvalidCursor, Page
from core.access.scope import CURRENT_USER_SETTING, set_current_user, user_session
from core.access.tasks import (
    complete_task,
    create_task,
    delete_task,
    get_task,
    list_tasks,
    update_task,
)
from core.access.validation import UNSET

__all__ = [
    "CURRENT_USER_SETTING",
    "UNSET",
    "InvalidCursor",
    "Page",
    "add_message",
    "complete_task",
    "create_conversation",
    "create_task",
    "delete_conversation",
    "delete_message",
    "delete_task",
    "get_conversation",
    "get_task",
    "list_conversations",
    "list_messages",
    "list_tasks",
    "set_current_user",
    "touch_conversation",
    "update_message",
    "update_task",
    "user_session",
]

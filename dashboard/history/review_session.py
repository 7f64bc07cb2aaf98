"""What a migration script's session has in effect at each statement: timeouts, transactions.

Postgres applies `SET lock_timeout` from the next statement until the session ends; `SET LOCAL`
until its transaction ends, and outside a transaction block it does nothing; a ROLLBACK undoes
the SETs made in its transaction; `set_config(name, value, is_local)` is a SET by another
name. A value of 0 turns the timeout off. Alembic's offline script sets the timeouts at its top
(see migrations/env.py) and wraps each revision in BEGIN … COMMIT; a statement outside any
block is a transaction of its own, so its locks go at its end.
"""

from __future__ import annotations

from dataclasses import dataclass

from pglast import ast as pg
from pglast import enums

from dashboard.history.review_statements import Statement

TIMEOUTS = ("lock_timeout", "statement_timeout")
_BEGIN = {enums.TransactionStmtKind.TRANS_STMT_BEGIN, enums.TransactionStmtKind.TRANS_STMT_START}
_COMMIT = {
    enums.TransactionStmtKind.TRANS_STMT_COMMIT,
    enums.TransactionStmtKind.TRANS_STMT_PREPARE,
}
_ROLLBACK = {enums.TransactionStmtKind.TRANS_STMT_ROLLBACK}


@dataclass(frozen=True)
class SessionState:
    """The settings in effect when one statement runs ("" = no timeout)."""

    lock_timeout: str = ""
    statement_timeout: str = ""
    transaction: int = 0  # the number of the open transaction block (1, 2, …); 0 outside one

    @property
    def in_transaction(self) -> bool:
        return self.transaction > 0


def _value(node: pg.Node | None) -> str | None:
    """Return a SET argument as shown to people ('5s', '5000 ms'); '' for 0; None if unknown."""
    if not isinstance(node, pg.A_Const) or node.isnull:
        return None
    value = node.val
    if isinstance(value, pg.Integer):
        return "" if value.ival == 0 else f"{value.ival} ms"
    if isinstance(value, pg.String):
        text = (value.sval or "").strip()
        return "" if text in ("0", "0ms", "0s", "0min") else text
    return None


def _set_config(node: pg.Node) -> tuple[str, str, bool] | None:
    """Return (name, value, is_local) of `SELECT set_config('name', 'value', local)`."""
    if not isinstance(node, pg.SelectStmt) or not node.targetList or len(node.targetList) != 1:
        return None
    call = node.targetList[0].val
    if not isinstance(call, pg.FuncCall) or not call.funcname:
        return None
    if call.funcname[-1].sval != "set_config":
        return None
    args = call.args or ()
    if len(args) != 3 or not isinstance(args[0], pg.A_Const):
        return None
    name = args[0].val.sval if isinstance(args[0].val, pg.String) else ""
    value = _value(args[1])
    local = args[2]
    is_local = (
        isinstance(local, pg.A_Const)
        and isinstance(local.val, pg.Boolean)
        and bool(local.val.boolval)
    )
    if name not in TIMEOUTS or value is None:
        return None
    return name, value, is_local


class _Session:
    def __init__(self) -> None:
        self.values = dict.fromkeys(TIMEOUTS, "")
        self.local: dict[str, str] = {}
        self.at_begin: dict[str, str] = {}
        self.transaction = 0
        self.blocks = 0

    def state(self) -> SessionState:
        values = {**self.values, **self.local}
        return SessionState(values["lock_timeout"], values["statement_timeout"], self.transaction)

    def set(self, name: str, value: str, is_local: bool) -> None:
        if name not in TIMEOUTS:
            return
        if is_local:
            if self.transaction:  # outside a block, SET LOCAL only warns
                self.local[name] = value
        else:
            self.values[name] = value
            self.local.pop(name, None)

    def apply(self, node: pg.Node | None) -> None:
        if isinstance(node, pg.TransactionStmt):
            if node.kind in _BEGIN and not self.transaction:
                self.blocks += 1
                self.transaction = self.blocks
                self.at_begin = dict(self.values)
            elif node.kind in _COMMIT | _ROLLBACK and self.transaction:
                if node.kind in _ROLLBACK:
                    self.values = dict(self.at_begin)
                self.transaction = 0
                self.local = {}
        elif isinstance(node, pg.VariableSetStmt):
            kinds = enums.VariableSetKind
            if node.kind == kinds.VAR_RESET_ALL:
                for name in TIMEOUTS:
                    self.set(name, "", False)
            elif node.kind in (kinds.VAR_RESET, kinds.VAR_SET_DEFAULT):
                self.set(node.name or "", "", bool(node.is_local))
            elif node.kind == kinds.VAR_SET_VALUE and node.args:
                value = _value(node.args[0])
                if value is not None:
                    self.set(node.name or "", value, bool(node.is_local))
        elif node is not None and (config := _set_config(node)) is not None:
            self.set(*config)


def session_states(statements: list[Statement]) -> list[SessionState]:
    """Return, for each statement, the settings in effect while it runs."""
    session = _Session()
    states = []
    for statement in statements:
        node = statement.node
        if isinstance(node, pg.TransactionStmt) and node.kind in _BEGIN:
            session.apply(node)  # BEGIN and COMMIT both belong to their block
            states.append(session.state())
            continue
        states.append(session.state())
        session.apply(node)
    return states

"""Reverting a write: the inverse of the changes an audited write applied, under the same guards.

A write leaves two events (dashboard/target_write.py): the intent, with the changes and the
rows as they were (the before-image, including what a delete's cascade removed), and the
outcome, with the changes applied and the rows as they became (the after-image). The inverse of
each applied change, last first: an inserted row is deleted, guarded by the fingerprint it had
after the write; an updated row gets its former values back, guarded the same way (changed
since: skipped, never overwritten); a deleted row is inserted again with the rows its cascade
removed, parents first (`ON CONFLICT DO NOTHING`). The audit trail never holds the values of
masked columns, so a revert that would need one is refused with a sentence (restore such rows
from a branch instead); so is one that would undo a cascade's SET NULL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard.audit.models import AuditEvent
from dashboard.target_write import INTENT, OUTCOME
from dashboard.users.ownership import OwnershipMap
from dashboard.write_plan import RowChange, WritePlan


class RevertRefused(ValueError):
    """A write that cannot be reverted, with the sentence saying why."""


def write_events(event: AuditEvent) -> tuple[AuditEvent, AuditEvent | None]:
    """Return the intent and the outcome (None if none was recorded) of a write's event."""
    detail = event.detail or {}
    write_id = detail.get("write_id")
    if event.action not in (INTENT, OUTCOME) or not isinstance(write_id, str):
        raise RevertRefused(f"Event #{event.pk} is not a change of end-users' rows.")
    # By primary key and the indexed action, never a scan of every event's detail.
    if event.action == INTENT:
        intent: AuditEvent | None = event
    else:
        intent = AuditEvent.objects.filter(pk=detail.get("intent") or 0, action=INTENT).first()
    if intent is None or intent.detail.get("write_id") != write_id:
        raise RevertRefused(f"The intent of write {write_id} is not in the audit trail.")
    outcome = (
        event
        if event.action == OUTCOME
        else AuditEvent.objects.filter(action=OUTCOME, pk__gt=intent.pk, detail__write_id=write_id)
        .order_by("pk")
        .first()
    )
    return intent, outcome


def _images(images: list[dict[str, Any]], index: int, role: str) -> list[dict[str, Any]]:
    return [i for i in images if i.get("change") == index and str(i.get("role", "")) == role]


def _key(image: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(n), str(v)) for n, v in image["key"])


def _refuse_masked(image: Mapping[str, Any], columns: list[str] | None = None) -> None:
    masked = [c for c in image.get("masked", []) if columns is None or c in columns]
    if masked:
        raise RevertRefused(
            f"The row {_label(image)} of “{image['table']}” had values in masked columns "
            f"({', '.join(masked)}), which the audit trail does not keep, so this revert cannot "
            "put them back. Restore the row from a branch instead (Compare)."
        )


def _label(image: Mapping[str, Any]) -> str:
    return ", ".join(f"{n} = {v}" for n, v in image["key"])


def revert_plan(event: AuditEvent, owners: OwnershipMap) -> WritePlan:
    """Return the plan that undoes the write `event` belongs to (RevertRefused if it cannot)."""
    intent, outcome = write_events(event)
    if outcome is None or outcome.detail.get("status") != "applied":
        raise RevertRefused(
            "That write did not apply (or its outcome was not recorded): nothing to revert."
        )
    applied = sorted(int(i) for i in outcome.detail.get("applied", []))
    if not applied:
        raise RevertRefused("Every statement of that write was skipped: nothing to revert.")
    changes = intent.detail.get("changes", [])
    before = intent.detail.get("before", [])
    after = outcome.detail.get("after", [])
    inverse: list[RowChange] = []
    for index in reversed(applied):
        change = changes[index]
        action = change["action"]
        if action == "insert":
            for image in _images(after, index, "row"):
                inverse.append(
                    RowChange(
                        image["table"],
                        "delete",
                        key=_key(image),
                        guard=image["fingerprint"],
                        guard_columns=tuple(image["columns"]),
                        note="revert: added",
                    )
                )
        elif action == "update":
            inverse += _inverse_update(before, after, index, change.get("columns"))
        elif action == "delete":
            inverse += _inverse_delete(before, index, owners)
    if not inverse:
        raise RevertRefused("The trail holds no row image to revert this write with.")
    context = {"reverts": intent.pk, "write_id": intent.detail.get("write_id")}
    return WritePlan("revert", intent.subject_user, tuple(inverse), context)


def _inverse_update(
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    index: int,
    set_columns: list[str] | None = None,
) -> list[RowChange]:
    old, new = _images(before, index, "row"), _images(after, index, "row")
    if not old or not new:
        return []
    was, became = old[0], new[0]
    columns = [c for c in became["columns"] if was["values"].get(c) != became["values"].get(c)]
    changed_masked = set(was.get("masked", [])) | set(became.get("masked", []))
    # A masked value shows as ******** on both sides: whether the write changed it is unknown,
    # so a masked column the update set (a restore sets them all) counts as changed.
    _refuse_masked({**was, "masked": sorted(changed_masked)}, columns + (set_columns or []))
    if not columns:
        return []
    return [
        RowChange(
            became["table"],
            "update",
            key=_key(became),
            values=tuple((c, was["values"].get(c)) for c in columns),
            guard=became["fingerprint"],
            guard_columns=tuple(became["columns"]),
            note="revert: changed",
        )
    ]


def _inverse_delete(
    before: list[dict[str, Any]], index: int, owners: OwnershipMap
) -> list[RowChange]:
    if _images(before, index, "cascade:set null") or _images(before, index, "cascade:set default"):
        raise RevertRefused(
            "That delete also set columns of other rows (ON DELETE SET NULL / SET DEFAULT); a "
            "revert would not restore them, so it is not offered."
        )
    rows = _images(before, index, "row") + _images(before, index, "cascade:delete")
    inserts = []
    for image in rows:  # the row first, then what its cascade removed, parents before children
        _refuse_masked(image)
        table = owners.tables.get(image["table"])
        computed = (
            {c.name for c in table.columns if c.computed is not None}
            if table is not None
            else set()
        )
        inserts.append(
            RowChange(
                image["table"],
                "insert",
                key=_key(image),
                values=tuple(
                    (c, image["values"].get(c)) for c in image["columns"] if c not in computed
                ),
                note="revert: deleted",
            )
        )
    return inserts


def image_pairs(intent: AuditEvent, outcome: AuditEvent | None) -> list[dict[str, Any]]:
    """Return each row a write touched with its values before and after, column by column."""
    before = intent.detail.get("before", []) or []
    after = (outcome.detail.get("after", []) if outcome else []) or []
    pairs: dict[tuple[str, tuple, str], dict[str, Any]] = {}
    for side, images in (("before", before), ("after", after)):
        for image in images:
            slot = (image["table"], _key(image), str(image.get("role", "row")))
            pair = pairs.setdefault(
                slot,
                {"table": image["table"], "key": _label(image), "role": slot[2], "columns": []},
            )
            pair[side] = image
    rows = []
    for pair in pairs.values():
        was, became = pair.get("before"), pair.get("after")
        names = list(
            dict.fromkeys([*(was or {}).get("columns", []), *(became or {}).get("columns", [])])
        )
        pair["columns"] = [
            (
                name,
                (was or {}).get("values", {}).get(name) if was else None,
                (became or {}).get("values", {}).get(name) if became else None,
                bool(was and became and was["values"].get(name) != became["values"].get(name)),
            )
            for name in names
        ]
        pair["state"] = "changed" if was and became else ("added" if became else "removed")
        rows.append(pair)
    return rows

"""CSV export of a filtered list, streamed in keyset batches and bounded in size.

Each batch is its own short read-only transaction (`run_read`), continuing after the key of
the previous batch's last row, so no transaction stays open while a slow client downloads. The
export stops at DATA_EXPORT_MAX_ROWS rows and then says so in its last line. Masked columns
are exported as ******** (or empty when NULL). Cells that a spreadsheet would run as a formula
(starting with = + - @, a tab or a carriage return) are prefixed with a quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from dashboard.data.cells import to_text
from dashboard.data.columns import ColumnInfo
from dashboard.data.masking import MASKED_EXPORT_TEXT
from dashboard.data.query import ListQuery
from dashboard.params import BadParameter
from dashboard.spreadsheet_cells import safe_cell
from dashboard.target import TargetError, run_read

BATCH_ROWS = 2_000


def max_export_rows() -> int:
    return int(getattr(settings, "DATA_EXPORT_MAX_ROWS", 100_000))


def export_cell(info: ColumnInfo, value: Any) -> str:
    """Return the CSV text of one value of an export."""
    if info.masked:
        # The export selects `column IS NULL` for a masked column, never its value.
        return "" if value else MASKED_EXPORT_TEXT
    if value is None:
        return ""
    if info.kind == "bytes":
        return f"<{int(value)} bytes>"
    text = to_text(value)
    return text if info.numeric else safe_cell(text)


@dataclass
class Batch:
    """Rows of one batch, how many were asked for, and the key to continue after."""

    rows: Sequence[Any]
    requested: int
    after: tuple[Any, ...] | None


def check_exportable(query: ListQuery) -> None:
    """Raise BadParameter (a 400) when a filter or the search of `query` could not be used: a
    list shows the other rows with the error beside its field, an export would silently hold
    more rows than the operator asked for."""
    for param, error in query.filters.errors.items():
        raise BadParameter(param, "", sentence=f"Nothing was exported: “{param}”: {error}")
    for error in query.filters.general_errors:
        raise BadParameter("filter", "", sentence=f"Nothing was exported: {error}")
    if query.search_refused:
        raise BadParameter("q", "", sentence=f"Nothing was exported: {query.search_refused}")


class CsvExport:
    """An export in progress: fetch the first batch now (errors show as a page), stream the rest."""

    def __init__(self, query: ListQuery, limit: int | None = None) -> None:
        check_exportable(query)
        self.query = query
        self.limit = limit or max_export_rows()
        self.written = 0
        self._first = self._batch(None, 0)

    def _batch(self, after: Sequence[Any] | None, offset: int) -> Batch:
        size = min(BATCH_ROWS, self.limit - self.written)
        statement = self.query.export_statement(after, size, offset=offset)
        rows = run_read(lambda conn: conn.execute(statement).all())
        last = None
        if rows and self.query.key_names:
            shown = len(self.query.shown)
            last = tuple(rows[-1][shown : shown + len(self.query.key_names)])
        return Batch(rows=rows, requested=size, after=last)

    def _more_after(self, after: Sequence[Any] | None, offset: int) -> bool:
        statement = self.query.export_statement(after, 1, offset=offset)
        return bool(run_read(lambda conn: conn.execute(statement).first()))

    def lines(self) -> Iterator[str]:
        """Yield the CSV text: a header, the rows, and a last line if the export stopped early."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        infos = self.query.shown_infos

        def flush() -> str:
            text = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            return text

        writer.writerow([safe_cell(info.name) for info in infos])
        yield flush()
        batch = self._first
        offset = 0
        while True:
            for row in batch.rows:
                writer.writerow([export_cell(info, row[i]) for i, info in enumerate(infos)])
            self.written += len(batch.rows)
            offset += len(batch.rows)
            yield flush()
            if len(batch.rows) < batch.requested:
                return  # the list ended
            after = batch.after if self.query.key_names else None
            next_offset = 0 if self.query.key_names else offset
            try:
                if self.written >= self.limit:
                    if self._more_after(after, next_offset):
                        writer.writerow(
                            [
                                f"# export stopped at {self.limit:,} rows "
                                "(DATA_EXPORT_MAX_ROWS); narrow the filters to export the rest"
                            ]
                        )
                        yield flush()
                    return
                batch = self._batch(after, next_offset)
            except TargetError as exc:
                writer.writerow(
                    [f"# export stopped early after {self.written:,} rows: {exc.sentence}"]
                )
                yield flush()
                return

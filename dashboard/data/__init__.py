"""Table browsing: a query object per list (filters, sort, keyset pages), rows, CSV export."""

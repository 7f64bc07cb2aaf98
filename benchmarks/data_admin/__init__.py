"""A stock Django admin over the target's `tasks` table, for the data pages benchmark only."""

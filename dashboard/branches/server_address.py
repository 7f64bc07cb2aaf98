"""The target's URL with another database name, and libpq settings without the password."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from dashboard.console_work import APPLICATION_NAME


@dataclass(frozen=True)
class ServerAddress:
    """The target's URL split into what libpq needs (holds the password: never log it)."""

    url: str  # postgresql://user:password@host:port/dbname?params

    @property
    def _parts(self):
        return urlsplit(self.url)

    @property
    def dbname(self) -> str:
        return unquote(self._parts.path.lstrip("/"))

    @property
    def location(self) -> str:
        """Return host:port/dbname, safe to show."""
        parts = self._parts
        return f"{parts.hostname}:{parts.port or 5432}/{self.dbname}"

    def with_database(self, dbname: str) -> str:
        """Return the URL with the database name swapped (contains the password)."""
        parts = self._parts
        return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, ""))

    def with_login(self, user: str, password: str | None, dbname: str) -> str:
        """Return the URL with another role (and password, if given) and database name."""
        parts = self._parts
        login = quote(user, safe="")
        if password is not None:
            login += ":" + quote(password, safe="")
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, f"{login}@{host}", "/" + dbname, parts.query, ""))

    def libpq_environment(self, dbname: str) -> dict[str, str]:
        """Return PG* variables for pg_dump/pg_restore, so no password is on a command line."""
        parts = self._parts
        environment = {
            "PGHOST": parts.hostname or "localhost",
            "PGPORT": str(parts.port or 5432),
            "PGUSER": unquote(parts.username or ""),
            "PGDATABASE": dbname,
            "PGCONNECT_TIMEOUT": "10",
            "PGAPPNAME": APPLICATION_NAME,
        }
        if parts.password:
            environment["PGPASSWORD"] = unquote(parts.password)
        for item in parts.query.split("&"):
            key, _, value = item.partition("=")
            if key in {"sslmode", "sslrootcert", "sslcert", "sslkey", "options"} and value:
                environment["PG" + key.upper()] = unquote(value)
        return environment


def _libpq_url(url: str) -> str:
    """Return the URL with a scheme libpq accepts (SQLAlchemy's `+psycopg` removed)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url

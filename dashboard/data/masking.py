"""Which columns look secret, so lists, rows and exports mask them unless a table unmasks them.

One rule, used by every page, export, plan check and the audit trail (through `looks_secret`,
`masked_columns` and `dashboard.row_text.masked_names`). A column name is split into words at
underscores, dashes, spaces, digits and camelCase humps (`passwordHash` → password, hash;
`api_key` → api, key). It looks secret when one of its words:

1. is a secret word (`password`, `pwd`, `token`, `secret`, `key`, `hash`, `salt`, `otp`, ...);
2. contains `password` or `passwd` (`userpassword`);
3. ends with `token` or `secret` (`apitoken`, `webhooksecret`): no common word does; or
4. is glued from known words, one of them secret: secret words and the words that qualify them
   (`api`, `access`, `refresh`, `client`, `private`, `session`, `id`, ...), so `accesskeyid`
   (access, key, id), `sessionkey`, `privatekey`, `otpsecret` and `passkey` are masked.

Rules 2 to 4 matter because PostgreSQL folds unquoted names to lower case: a model's `APIToken`
becomes the column `apitoken`, with no hump left to split at. Whole words otherwise: `monkey`,
`turkey`, `keyboard`, `keyword`, `hashtag`, `tokenizer_name`, `secretary` or `passenger` are
not glued from known words, so they are not masked; any column with a word `key` is (`sort_key`
too): masking by mistake costs a line in the display settings (`unmasked_columns`), showing a
secret by mistake costs more.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pw",
        "passphrase",
        "hash",
        "hashed",
        "token",
        "tokens",
        "secret",
        "secrets",
        "key",
        "keys",
        "salt",
        "otp",
        "totp",
        "credential",
        "credentials",
    }
)
# Words that name what kind of secret a secret word is, when glued to one (`apikey`).
QUALIFIER_WORDS = frozenset(
    {
        "access",
        "account",
        "api",
        "app",
        "auth",
        "aws",
        "backup",
        "bearer",
        "client",
        "confirmation",
        "csrf",
        "device",
        "encryption",
        "hmac",
        "id",
        "invite",
        "jwt",
        "login",
        "master",
        "mfa",
        "oauth",
        "pass",
        "private",
        "push",
        "recovery",
        "refresh",
        "remember",
        "reset",
        "session",
        "shared",
        "signing",
        "user",
        "verification",
        "webhook",
    }
)
ALWAYS_SECRET_PARTS = ("password", "passwd")
SECRET_ENDINGS = ("token", "tokens", "secret", "secrets")

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_LONGEST_WORD = max(len(word) for word in SECRET_WORDS | QUALIFIER_WORDS)


def name_words(name: str) -> list[str]:
    """Return the lower-case words of an identifier (snake_case, camelCase, spaces, digits)."""
    return [word.lower() for word in _WORDS.findall(name)]


@functools.lru_cache(maxsize=4096)
def glued_secret(word: str) -> bool:
    """Return True when `word` is made of known words glued together, one of them secret."""
    # ends[i]: None when word[:i] cannot be split; else whether a split of it has a secret word.
    ends: list[bool | None] = [False] + [None] * len(word)
    for stop in range(1, len(word) + 1):
        for start in range(max(0, stop - _LONGEST_WORD), stop):
            before = ends[start]
            part = word[start:stop]
            if before is None or (part not in SECRET_WORDS and part not in QUALIFIER_WORDS):
                continue
            ends[stop] = bool(ends[stop]) or before or part in SECRET_WORDS
    return bool(ends[-1])


def word_looks_secret(word: str) -> bool:
    """Return True when one lower-case word of a name makes the column secret (rules 1 to 4)."""
    return (
        word in SECRET_WORDS
        or any(part in word for part in ALWAYS_SECRET_PARTS)
        or word.endswith(SECRET_ENDINGS)
        or glued_secret(word)
    )


@functools.lru_cache(maxsize=4096)  # every list page asks it of every column
def looks_secret(name: str) -> bool:
    """Return True when a column called `name` probably holds a secret."""
    return any(word_looks_secret(word) for word in name_words(name))


def masked_columns(column_names: Iterable[str], unmasked: Iterable[str] = ()) -> set[str]:
    """Return the names among `column_names` to mask, minus those a table setting unmasks."""
    keep_visible = set(unmasked)
    return {name for name in column_names if looks_secret(name) and name not in keep_visible}


MASKED_EXPORT_TEXT = "********"

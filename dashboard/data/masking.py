"""Which columns look secret, so lists, rows and exports mask them unless a table unmasks them.

A column name is split into words at underscores, dashes, spaces, digits and camelCase humps
(`passwordHash` → password, hash; `api_key` → api, key). It looks secret when one word is a
secret word (`key`, `token`, `hash`, ...), or is a known glued form (`apikey`, `authtoken`), or
contains `password`/`passwd`. Whole words, so `monkey`, `keyboard`, `hashtag`, `tokenizer` or
`secretary` are not masked; any column with a word `key` is (`sort_key` too): masking by
mistake costs a line in the display settings, showing a secret by mistake costs more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
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
GLUED_SECRETS = frozenset(
    {
        "apikey",
        "apikeys",
        "secretkey",
        "privatekey",
        "accesskey",
        "accesstoken",
        "refreshtoken",
        "authtoken",
        "idtoken",
        "sessiontoken",
        "passwordhash",
        "pwhash",
        "pwdhash",
        "hashedpassword",
        "clientsecret",
    }
)
ALWAYS_SECRET_PARTS = ("password", "passwd")

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def name_words(name: str) -> list[str]:
    """Return the lower-case words of an identifier (snake_case, camelCase, spaces, digits)."""
    return [word.lower() for word in _WORDS.findall(name)]


def looks_secret(name: str) -> bool:
    """Return True when a column called `name` probably holds a secret."""
    words = name_words(name)
    if any(word in SECRET_WORDS or word in GLUED_SECRETS for word in words):
        return True
    lowered = name.lower()
    return any(part in lowered for part in ALWAYS_SECRET_PARTS)


def masked_columns(column_names: Iterable[str], unmasked: Iterable[str] = ()) -> set[str]:
    """Return the names among `column_names` to mask, minus those a table setting unmasks."""
    keep_visible = set(unmasked)
    return {name for name in column_names if looks_secret(name) and name not in keep_visible}


MASKED_EXPORT_TEXT = "********"

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """Operators are created per test; a fast hasher keeps that cheap (login is not tested)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

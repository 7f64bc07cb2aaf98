"""Secret-looking column names are masked; look-alike words are not."""

from __future__ import annotations

import pytest

from dashboard.data.masking import looks_secret, masked_columns, name_words


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "password_hash",
        "passwordHash",
        "hashed_password",
        "PasswordDigest",
        "user_passwd",
        "api_key",
        "apiKey",
        "APIKey",
        "apikey",
        "secret",
        "client_secret",
        "clientSecret",
        "access_token",
        "refreshToken",
        "token",
        "hash",
        "salt",
        "private_key",
        "otp_seed",
        "sort_key",
        "key",
        "aws_secret_access_key",
        "credentials",
        # Names PostgreSQL folded to lower case (unquoted `APIToken` is the column `apitoken`),
        # and compounds of known words.
        "apitoken",
        "access_key_id",
        "accesskeyid",
        "passwd",
        "pwd",
        "refresh_token",
        "refreshtoken",
        "clientsecret",
        "privatekey",
        "otp_secret",
        "otpsecret",
        "session_key",
        "sessionkey",
        "passkey",
        "webhooksecret",
        "signingkey",
        "apikeyhash",
        "userpassword",
    ],
)
def test_secret_looking_names_are_masked(name):
    assert looks_secret(name)


@pytest.mark.parametrize(
    "name",
    [
        "monkey",
        "keyboard",
        "turkey_count",
        "hockey_team",
        "hashtag",
        "hashtags",
        "tokenizer",
        "secretary",
        "passenger",
        "compass",
        "title",
        "email",
        "id",
        "user_id",
        "created_at",
        "donkey_id",
        "turkey",
        "keyword",
        "tokenizer_name",
        "basalt",
        "session_id",
        "appid",
        "passes",
    ],
)
def test_look_alike_names_are_not_masked(name):
    assert not looks_secret(name)


def test_words_split_snake_camel_and_acronyms():
    assert name_words("passwordHash") == ["password", "hash"]
    assert name_words("APIKey2") == ["api", "key", "2"]
    assert name_words("Mixed Case-name") == ["mixed", "case", "name"]


def test_a_table_setting_unmasks_a_column():
    names = ["id", "api_key", "password_hash", "monkey"]
    assert masked_columns(names) == {"api_key", "password_hash"}
    assert masked_columns(names, unmasked=["api_key"]) == {"password_hash"}


@pytest.mark.parametrize("declared", ["APIToken", "AccessKeyId", "OtpSecret", "SessionKey"])
def test_a_camel_case_name_is_masked_before_and_after_postgresql_folds_it(declared):
    """An unquoted identifier reaches the catalog in lower case: both spellings are masked."""
    assert looks_secret(declared) and looks_secret(declared.lower())

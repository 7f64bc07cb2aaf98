"""A missing tool skips a test on a developer's machine and fails it under CI."""

from __future__ import annotations

import pytest

from tests.unavailable import unavailable


@pytest.mark.parametrize("value", ["true", "1", "TRUE", "yes"])
def test_under_ci_a_missing_tool_fails_the_test(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="hypopg is not installed"):
        unavailable("hypopg is not installed.")


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_elsewhere_it_skips_the_test(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="hypopg is not installed"):
        unavailable("hypopg is not installed.")

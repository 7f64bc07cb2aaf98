"""The os.environ stand-in of the URL probe behaves as a mapping and records the names read."""

from __future__ import annotations

from dashboard.history.url_probe import RecordingEnviron


def test_the_stand_in_is_a_whole_mapping():
    # Seen by the type checker: an attribute named `values` hid Mapping.values(), so an env.py
    # that called os.environ.values() failed under the probe and its URL was never found.
    environ = RecordingEnviron({"SHOP_DSN": "postgresql://x", "HOME": "/root"})
    assert sorted(environ.values()) == ["/root", "postgresql://x"]
    assert dict(environ.items()) == {"SHOP_DSN": "postgresql://x", "HOME": "/root"}
    assert environ.get("MISSING", "d") == "d" and "HOME" in environ
    environ["NEW"] = "1"
    del environ["NEW"]
    assert len(environ) == 2 and environ.copy() == {"SHOP_DSN": "postgresql://x", "HOME": "/root"}
    assert set(environ.reads) == {"SHOP_DSN", "HOME", "MISSING"}

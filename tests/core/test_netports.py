"""Ports: one a server stopped a moment ago is free again; one in use is not."""

from __future__ import annotations

import socket

from core.netports import choose_port, port_is_free


def _listener() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def test_a_port_whose_server_just_stopped_is_free_despite_time_wait():
    server = _listener()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end of the connection is in TIME_WAIT
    client.close()
    server.close()
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Without SO_REUSEADDR the bind fails: the old check said "busy" for up to a minute.
        try:
            plain.bind(("127.0.0.1", port))
        except OSError:
            pass
        else:
            raise AssertionError("no TIME_WAIT connection was left: the test proves nothing")
    finally:
        plain.close()
    assert port_is_free(port)
    assert choose_port(port) == (port, "")


def test_a_port_something_listens_on_is_busy():
    server = _listener()
    try:
        port = server.getsockname()[1]
        assert not port_is_free(port)
        chosen, note = choose_port(port)
        assert chosen != port and f"port {port} is busy" in note
    finally:
        server.close()

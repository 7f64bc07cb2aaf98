"""Loopback ports: a port is busy only while something listens on it."""

from __future__ import annotations

import socket

from core.netports import choose_port, port_is_free


def _port_left_in_time_wait() -> int:
    """Return a port whose server was stopped after serving a connection (TIME_WAIT remains).

    The server binds like gunicorn and PostgreSQL do, with SO_REUSEADDR.
    """
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()  # the server side closes first, so its end of the connection waits
    client.close()
    listener.close()
    return port


def test_a_port_only_in_time_wait_is_free():
    port = _port_left_in_time_wait()
    assert port_is_free(port)
    assert choose_port(port, strict=True) == (port, "")


def test_a_listening_port_is_busy():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert not port_is_free(listener.getsockname()[1])

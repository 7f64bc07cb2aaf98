"""Loopback TCP ports: is one free, and pick a free one."""

from __future__ import annotations

import socket


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when nothing listens on host:port and a server could bind it.

    Bound the way gunicorn and PostgreSQL bind their ports, with SO_REUSEADDR: connections of
    a server stopped a moment ago (TIME_WAIT, up to a minute) do not keep a port busy.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def choose_port(wanted: int, host: str = "127.0.0.1", strict: bool = False) -> tuple[int, str]:
    """Return (port, note): `wanted` if free, else a free one with a note saying so.

    With strict=True a busy port raises OSError with a sentence instead.
    """
    if port_is_free(wanted, host):
        return wanted, ""
    if strict:
        raise OSError(f"Port {wanted} on {host} is busy: stop what uses it or choose another.")
    chosen = free_port(host)
    return chosen, f"port {wanted} is busy, so port {chosen} was chosen"

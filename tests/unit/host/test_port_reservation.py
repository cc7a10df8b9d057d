"""A port picked early for a child that listens later stays ours until the child is started."""
from __future__ import annotations

import socket

import pytest

from localdev.processes import PortReservation


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    return sock


def test_a_reserved_port_cannot_be_taken_until_it_is_released() -> None:
    reservation = PortReservation()
    with pytest.raises(OSError):
        bind(reservation.port).close()
    assert reservation.release() == reservation.port
    listener = bind(reservation.port)  # free at once for the child that listens on it
    listener.listen(1)
    listener.close()
    assert reservation.release() == reservation.port  # releasing twice is harmless

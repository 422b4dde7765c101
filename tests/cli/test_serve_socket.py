"""``serve --workers N``: the shared listening socket hands out connections without Nagle."""

from __future__ import annotations

import socket

import uvicorn

from promptvault.cli.serve import listening_socket


def test_connections_accepted_by_workers_have_nodelay() -> None:
    config = uvicorn.Config("promptvault.server.app:create_app_from_env", port=0, workers=2)
    server = listening_socket(config)
    try:
        assert server.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        server.listen()
        with socket.create_connection(server.getsockname()[:2]) as client:
            accepted, _ = server.accept()
            with accepted:
                # What a worker's event loop receives: delayed-ACK stalls need this set.
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
                client.sendall(b"ping")
                assert accepted.recv(4) == b"ping"
    finally:
        server.close()

"""A same-host TCP relay: what a TLS terminator looks like to the app server.

stunnel, an nginx ``stream`` block or a cloud load balancer's sidecar on the
same host connect to gunicorn from 127.0.0.1 and pass the request through
unchanged -- headers a client sent (``SCRIPT_NAME``) included. gunicorn's
default ``forwarded_allow_ips`` is ``127.0.0.1``, so it trusts them. This relay
copies bytes both ways and nothing else.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _serve(client: socket.socket, target: int) -> None:
    with client:
        try:
            upstream = socket.create_connection(("127.0.0.1", target), timeout=10)
        except OSError:
            return
        with upstream:
            upstream.settimeout(None)
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            back.join(timeout=30)


@contextlib.contextmanager
def relay(target: int) -> Iterator[int]:
    """Relay a free port on 127.0.0.1 to ``target``; yields the relay's port."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    listener.settimeout(0.2)
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            threading.Thread(target=_serve, args=(client, target), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()

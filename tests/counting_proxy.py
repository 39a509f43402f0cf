"""A TCP proxy in front of a real redis-server that counts round trips.

A round trip is one request/response exchange on a connection: whatever the client sends before
the server's next reply counts once, so a pipeline (or MULTI ... EXEC sent together) is one, and
a WATCH, a GET and an EXEC sent one after another are three. Used by tests/test_round_trips.py
and benchmarks/load_line.py.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CountingProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to `upstream` (a unix socket path or a
    (host, port) pair). `count` is the round trips so far over every connection."""

    def __init__(self, upstream: str | tuple[str, int]):
        self.upstream = upstream
        self.count = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.upstream)
            return server
        return socket.create_connection(self.upstream)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = self._connect_upstream()
            self._open += [client, server]
            waiting = [True]  # True: the next bytes from the client start a new round trip
            threading.Thread(
                target=self._pump, args=(client, server, waiting, True), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(server, client, waiting, False), daemon=True
            ).start()

    def _pump(self, source, sink, waiting: list[bool], from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    if from_client and waiting[0]:
                        self.count += 1
                    waiting[0] = not from_client
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for sock in self._open:
            sock.close()

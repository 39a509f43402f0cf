"""A TCP proxy in front of a real redis-server that counts round trips.

A round trip is one request/response exchange on a connection: whatever the client sends before
the server's next reply counts once, so a pipeline (or MULTI ... EXEC sent together) is one, and
a WATCH, a GET and an EXEC sent one after another are three. Used by tests/test_round_trips.py;
tests/test_sentinel_failover.py puts one between a primary and its replica and pauses it, so
the replica falls behind for real; tests/test_redis_connection.py slows its replies.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class CountingProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to `upstream` (a unix socket path or a
    (host, port) pair). `count` is the round trips so far over every connection."""

    def __init__(self, upstream: str | tuple[str, int]):
        self.upstream = upstream
        self.count = 0
        # While set, a replica's link through this proxy (REPLCONF seen) forwards nothing.
        self.hold_replication = threading.Event()
        # Seconds each of the server's replies is held back: a Redis that is slow, not hung.
        self.reply_delay = 0.0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._states: list[dict] = []
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
            try:
                server = self._connect_upstream()
            except OSError:  # the server is down: so is this connection
                client.close()
                continue
            self._open += [client, server]
            # waiting: the next bytes from the client start a new round trip; link: whether
            # this is a replica's replication link.
            state = {"waiting": True, "link": False, "alive": True}
            self._states.append(state)
            for source, sink, from_client in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, sink, state, from_client), daemon=True
                ).start()

    def _pump(self, source, sink, state: dict, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    if from_client and state["waiting"]:
                        self.count += 1
                    state["waiting"] = not from_client
                    state["link"] = state["link"] or (from_client and b"REPLCONF" in data)
                while self.hold_replication.is_set() and state["link"] and state["alive"]:
                    time.sleep(0.01)
                if not state["alive"]:
                    return
                if not from_client and self.reply_delay:
                    time.sleep(self.reply_delay)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        """Close every connection open now, losing whatever they were holding."""
        for state in self._states:
            state["alive"] = False
        for sock in self._open:
            sock.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.drop()

"""A TCP proxy in front of a real server that a test can hang and release, like ``kill -STOP`` / ``-CONT``.

While hung it still accepts connections (the kernel completes the handshake, as for a stopped
Redis) but forwards nothing either way; on release, buffered bytes flow again. ``down()`` refuses
new connections and cuts the open ones, like a Redis that exited.
"""

from __future__ import annotations

import selectors
import socket
import threading
from types import TracebackType


class HangableProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._running = threading.Event()
        self._running.set()  # forwarding
        self._alive = True
        self._refusing = False
        self.accepted = 0  # connections accepted so far
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="hangable-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def hang(self) -> None:
        self._running.clear()

    def release(self) -> None:
        self._refusing = False
        self._running.set()

    def down(self) -> None:
        """Cut every connection and refuse new ones until :meth:`release`."""
        self._refusing = True
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def _accept(self) -> None:
        while self._alive:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self._refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while self._alive:
                self._running.wait()
                for key, _ in sel.select(timeout=0.05):
                    if not self._running.is_set():
                        break
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self._alive = False
        self._running.set()
        self._listener.close()
        self.down()

    def __enter__(self) -> HangableProxy:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

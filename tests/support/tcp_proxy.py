"""A TCP proxy in front of PostgreSQL that can lose a commit's answer.

Armed with a marker (bytes a client message contains, e.g. b"INSERT INTO"), the
proxy forwards the first client message holding it to the server, waits for the
server's answer to start coming back (so the transaction has run), then drops
both sides of that connection without passing the answer on: the client sees
its connection lost at commit, while the database has committed. Armed with an
`answer` too, it waits until the server's answer holds those bytes (e.g. the
COMMIT's command tag, where earlier statements' answers may come first). `refusing`
makes it drop every new connection (the database "down"); `connect_delay` holds
every new connection that long before it reaches the server (a loaded machine).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class TcpProxy:
    target: tuple[str, int]
    marker: bytes | None = None  # armed: lose the answer to the next message holding it
    refusing: bool = False
    refuse_after_loss: bool = False  # go "down" the moment an answer is lost
    connect_delay: float = 0.0  # seconds each new connection waits before it is passed on
    answer: bytes | None = None  # armed: drop once the answer holds these bytes
    answers_lost: int = 0
    _server: socket.socket = field(init=False)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _open: set[socket.socket] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self._server.settimeout(0.1)

    @property
    def port(self) -> int:
        port: int = self._server.getsockname()[1]
        return port

    def url_to(self, database_url: str) -> str:
        """`database_url` (PostgreSQL, on the proxy's target) reached through the proxy."""
        host, port = self.target
        via = database_url.replace(f"@{host}:{port}/", f"@127.0.0.1:{self.port}/", 1)
        if via == database_url:
            raise ValueError(f"{database_url} does not name {host}:{port}")
        return via

    def arm(self, marker: bytes, answer: bytes | None = None) -> None:
        with self._lock:
            self.marker = marker
            self.answer = answer

    def go_down(self) -> None:
        """Refuse new connections and cut every open one."""
        self.refusing = True
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _take_marker(self, data: bytes) -> bool:
        with self._lock:
            if self.marker is not None and self.marker in data:
                self.marker = None
                return True
            return False

    def serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        if self.connect_delay and self._stop.wait(self.connect_delay):
            client.close()
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            self._open.update((client, upstream))
        try:
            self._relay(client, upstream)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.difference_update((client, upstream))
            client.close()
            upstream.close()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([client, upstream], [], [], 0.1)
            for source in ready:
                data = source.recv(65536)
                if not data:
                    return
                if source is client:
                    upstream.sendall(data)
                    if self._take_marker(data):
                        self._await_answer(upstream)
                        self.answers_lost += 1
                        if self.refuse_after_loss:
                            self.go_down()
                        return  # dropped: the client never hears it
                else:
                    client.sendall(data)

    def _await_answer(self, upstream: socket.socket) -> None:
        """Until the answer starts (or, armed with an `answer`, holds it), at most 5 s;
        nothing of it is passed on."""
        if self.answer is None:
            select.select([upstream], [], [], 5)
            return
        received, deadline = b"", time.monotonic() + 5
        while self.answer not in received and time.monotonic() < deadline:
            if select.select([upstream], [], [], 0.1)[0]:
                chunk = upstream.recv(65536)
                if not chunk:
                    return
                received += chunk

    def close(self) -> None:
        self._stop.set()
        self._server.close()


@contextmanager
def tcp_proxy(host: str, port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy((host, port))
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(timeout=5)

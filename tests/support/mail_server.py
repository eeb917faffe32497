"""A real SMTP server (aiosmtpd) on a free local port, keeping what it accepts.

`refuse_first` answers the first N DATA commands with a temporary failure (451)
and `bounce` answers RCPT for those addresses with 550, so the outbox's retries
and bounces run against the protocol itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.server import free_port


@dataclass
class MailHandler:
    refuse_first: int = 0
    bounce: frozenset[str] = frozenset()
    received: list[EmailMessage] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    # aiosmtpd's hooks: their names and parameters are its own.
    async def handle_RCPT(  # noqa: N802
        self,
        server: Any,  # noqa: ARG002
        session: Any,  # noqa: ARG002
        envelope: Any,
        address: str,
        options: list[str],  # noqa: ARG002
    ) -> str:
        if address in self.bounce:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self,
        server: Any,  # noqa: ARG002
        session: Any,  # noqa: ARG002
        envelope: Any,
    ) -> str:
        with self.lock:
            if self.refused < self.refuse_first:
                self.refused += 1
                return "451 4.3.0 try again later"
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(parsed)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.received)


@contextmanager
def mail_server(
    refuse_first: int = 0, bounce: frozenset[str] = frozenset()
) -> Iterator[tuple[int, MailHandler]]:
    """A running SMTP server: its port and its handler."""
    handler = MailHandler(refuse_first=refuse_first, bounce=bounce)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()

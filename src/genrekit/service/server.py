"""uvicorn settings for serving genrekit: a deadline on receiving a request's head.

uvicorn has no timeout on a request's head: ``timeout_keep_alive`` is only armed after a response, and
every received byte cancels it, so a client that opens a connection and sends half a header (or one
byte every few seconds) holds it open for ever (slowloris). :class:`HeadDeadlineProtocol` is uvicorn's
h11 protocol with one more timer: a connection whose request line and headers are not complete within
``HEAD_TIMEOUT_S`` of its opening (or of the end of the previous response) is closed.

:func:`uvicorn_options` gives the keyword arguments for ``uvicorn.run`` / ``uvicorn.Config``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("genrekit.service")

#: Seconds a client has to send a complete request line and headers.
HEAD_TIMEOUT_S = 10.0
#: Seconds an idle keep-alive connection stays open after a response (uvicorn's default is 5).
KEEP_ALIVE_S = 5
#: Largest request head (bytes) h11 buffers before refusing it (uvicorn's default, stated here).
MAX_HEAD_BYTES = 16 * 1024


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request head is not complete in time."""

    head_timeout_s: float = HEAD_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_deadline_passed)

    def _disarm_head_deadline(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _waiting_for_head(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def _head_deadline_passed(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            who = f"{self.client[0]}:{self.client[1]} - " if self.client else ""
            log.info("%sclosing a connection: no complete request head in %g s", who, self.head_timeout_s)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._waiting_for_head():
            self._disarm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing() or not self._waiting_for_head():
            self._disarm_head_deadline()
        else:
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``: the head deadline protocol and the keep-alive timeout.

    The protocol is given by import path so that it also reaches the worker processes of
    ``--workers N``.
    """
    return {
        "http": f"{__name__}:HeadDeadlineProtocol",
        "timeout_keep_alive": KEEP_ALIVE_S,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }


__all__ = ["HEAD_TIMEOUT_S", "KEEP_ALIVE_S", "HeadDeadlineProtocol", "uvicorn_options"]

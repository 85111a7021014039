"""The HTTP server's own limits: uvicorn's h11 protocol with the timeouts uvicorn leaves out.

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``) but has no deadline for a
request's headers or body: a client that sends a header line every few seconds (slowloris), or opens
connections and sends nothing, holds them for ever. :class:`TimedH11Protocol` adds

- a **header timeout**: a connection must deliver a request's complete headers within
  ``HEADER_TIMEOUT`` seconds of opening (or of its previous response), else it is closed;
- a **body timeout**: while a request body is arriving, ``BODY_IDLE_TIMEOUT`` seconds without a byte,
  or ``BODY_TIMEOUT`` in all, close the connection (the app sees a disconnect; nothing is stored).

:func:`server_options` gathers them with the rest (keep-alive, connection limit, header size) for
``uvicorn.run``. Behind a reverse proxy (nginx, Caddy) set the proxy's own timeouts no longer than
these (docs/threat-model.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0  # seconds for a request's headers
BODY_IDLE_TIMEOUT = 30.0  # seconds without a byte of a request body
BODY_TIMEOUT = 300.0  # seconds for a whole request body (20 MB at 0.6 Mbit/s)
KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open (uvicorn's)
MAX_CONNECTIONS = 200  # open connections + running requests; over it a request gets 503
MAX_HEADER_BYTES = 16 * 1024  # an incomplete request head (h11's max_incomplete_event_size)


class TimedH11Protocol(H11Protocol):
    header_timeout = HEADER_TIMEOUT
    body_idle_timeout = BODY_IDLE_TIMEOUT
    body_timeout = BODY_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._body_started: float | None = None
        super().connection_made(transport)
        self._arm(self.header_timeout)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()  # type: ignore[union-attr]
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.flow is not None and self.flow.read_paused:  # the app is not reading yet: not the client's delay
            self._arm(self.body_idle_timeout)
            return
        self.logger.warning("connection closed: request headers or body too slow")
        self.transport.close()

    def _follow(self) -> None:
        """After the events of received bytes were handled: which deadline applies now."""
        if self.transport.is_closing():
            self._disarm()
        elif self.cycle is None or self.cycle.response_complete:
            # waiting for a request's headers: one deadline from the first byte (or from the
            # connection), never moved by the bytes that trickle in
            if self._deadline is None:
                self._body_started = None
                self._arm(self.header_timeout)
        elif self.conn.their_state is h11.SEND_BODY:
            now = self.loop.time()
            if self._body_started is None:
                self._body_started = now
            left = self.body_timeout - (now - self._body_started)
            self._arm(max(min(self.body_idle_timeout, left), 0.0))
        else:
            self._disarm()  # the request is in; the app is answering

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        before = self.cycle
        self._disarm()  # idle now: uvicorn's keep-alive timer decides until the next byte
        super().on_response_complete()
        if self.cycle is not before:  # a pipelined request started
            self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def server_options() -> dict[str, Any]:
    """What ``juesuan serve`` passes to ``uvicorn.run`` besides host and port."""
    return {"http": TimedH11Protocol, "timeout_keep_alive": KEEP_ALIVE, "limit_concurrency": MAX_CONNECTIONS,
            "h11_max_incomplete_event_size": MAX_HEADER_BYTES, "backlog": 256}


__all__ = ["TimedH11Protocol", "server_options", "HEADER_TIMEOUT", "BODY_IDLE_TIMEOUT", "BODY_TIMEOUT"]

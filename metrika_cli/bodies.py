"""Answer bodies decoded by metrika itself, from the raw bytes: one layer of gzip or deflate
(what metrika asks for), inflated a bounded step at a time, so that a small compressed body
that inflates to gigabytes is stopped at the cap after a few milliseconds, not after the whole
of it is in memory. Standard library only."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

STEP = 256 * 1024  # bytes of output one inflate step may produce
ACCEPTED = ("gzip", "deflate")  # the Accept-Encoding metrika sends


class BadEncoding(Exception):
    """A Content-Encoding metrika did not ask for, or more than one layer of it."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class BrokenEncoding(Exception):
    """The compressed bytes are not what their Content-Encoding says."""


def codings(value: str | None) -> list[str]:
    """The codings of a Content-Encoding header, in order, `identity` left out."""
    names = [part.strip().lower() for part in (value or "").split(",")]
    return [name for name in names if name and name != "identity"]


class Decoder:
    """Turns raw body bytes into the body, in pieces of at most STEP bytes."""

    def __init__(self, content_encoding: str | None) -> None:
        layers = codings(content_encoding)
        if len(layers) > 1 or (layers and layers[0] not in ACCEPTED):
            raise BadEncoding((content_encoding or "")[:80])
        self.coding = layers[0] if layers else None
        self._inflate: zlib._Decompress | None = None
        self._first = True
        if self.coding == "gzip":
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.coding is None:
            if data:
                yield data
            return
        if self._inflate is None:  # deflate: zlib-wrapped as the RFC says, or raw as some servers send
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS)
        while data:
            try:
                piece = self._inflate.decompress(data, STEP)
            except zlib.error as exc:
                raise BrokenEncoding(str(exc)) from None
            data = self._inflate.unconsumed_tail
            if piece:
                yield piece
            elif not data or self._inflate.eof:
                return

    def finish(self) -> bytes:
        if self._inflate is None:
            return b""
        try:
            return self._inflate.flush(STEP)
        except zlib.error as exc:
            raise BrokenEncoding(str(exc)) from None


def _zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0

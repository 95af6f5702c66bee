"""Reading the bytes a data file declares, and no more: bounded reads and bounded inflation.

The loaders of MNIST's idx files, SVHN's ``.mat`` files and CIFAR's pickles check every
size a file declares against the file's own size before they allocate anything for it,
then read exactly the declared bytes. A compressed stream (gzip, or a ``.mat`` file's
zlib-compressed variable) is inflated as a stream, only as far as the bytes it declares,
in pieces of at most :data:`CHUNK` bytes, so what is held grows only with data that is
really there: a small file that claims gigabytes (a zip bomb) costs what it holds.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import BinaryIO

#: Deflate's largest inflation ratio (zlib's 258-byte matches at about 2 bits each): a
#: compressed stream of n bytes cannot hold more than ``MAX_INFLATION * n`` bytes.
MAX_INFLATION = 1032

#: The largest piece read or inflated at once.
CHUNK = 1 << 18


def read_chunks(
    read: Callable[[int], bytes],
    nbytes: int,
    where: str,
    what: str,
    *,
    chunk: int = CHUNK,
) -> list[bytes]:
    """Read exactly ``nbytes`` from ``read`` in pieces of at most ``chunk`` bytes.

    ``read(n)`` returns at most ``n`` bytes and ``b""`` at the end. A short read is a
    ``ValueError`` naming ``where`` (the file) and ``what`` was being read.
    """
    pieces: list[bytes] = []
    left = nbytes
    while left:
        piece = read(min(chunk, left))
        if not piece:
            raise ValueError(
                f"{where} is truncated: {what} declares {nbytes} bytes, the file holds "
                f"only {nbytes - left}."
            )
        pieces.append(piece)
        left -= len(piece)
    return pieces


def read_exact(read: Callable[[int], bytes], nbytes: int, where: str, what: str) -> bytes:
    """:func:`read_chunks`, joined."""
    return b"".join(read_chunks(read, nbytes, where, what))


class Region:
    """The ``nbytes`` bytes of ``f`` from ``start``: ``read(n)`` never reads past them."""

    def __init__(self, f: BinaryIO, start: int, nbytes: int) -> None:
        self.f, self.pos, self.left = f, start, nbytes

    def read(self, n: int) -> bytes:
        n = min(n, self.left)
        if n <= 0:
            return b""
        self.f.seek(self.pos)
        data = self.f.read(n)
        self.pos += len(data)
        self.left -= len(data)
        return data

    def at_end(self) -> bool:
        return self.left == 0


class Inflated:
    """The zlib stream in the ``nbytes`` bytes of ``f`` from ``start``, inflated as it is
    read: ``read(n)`` returns at most ``n`` bytes and holds at most :data:`CHUNK`
    compressed bytes at a time. ``zlib.error`` (a damaged stream) comes out as a
    ``ValueError`` naming ``where``."""

    def __init__(self, f: BinaryIO, start: int, nbytes: int, where: str) -> None:
        self.source = Region(f, start, nbytes)
        self.where = where
        self.inflater = zlib.decompressobj()

    def read(self, n: int) -> bytes:
        pieces: list[bytes] = []
        got = 0
        try:
            while got < n and not self.inflater.eof:
                data = self.inflater.unconsumed_tail or self.source.read(CHUNK)
                piece = self.inflater.decompress(data, n - got)
                if not piece and not data:
                    break  # no input left and nothing pending
                if piece:
                    pieces.append(piece)
                    got += len(piece)
        except zlib.error as exc:
            raise ValueError(f"{self.where} holds a damaged compressed stream: {exc}") from None
        return b"".join(pieces)

    def at_end(self) -> bool:
        """Whether the stream is complete (its checksum verified) once what was read."""
        return not self.read(1) and self.inflater.eof

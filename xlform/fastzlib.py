"""Deflate and CRC-32 by ISA-L (the `isal` wheel) where it is installed, else by the standard zlib.

Writing a workbook deflates about 100 KB of XML and checksums it; reading one checksums what it
inflates. ISA-L does both with SIMD code: at its level 1 it packs a form's parts as tightly as zlib's
level 1 in about 40 % of the time, and its CRC-32 is about four times zlib's (docs/performance.md).
The results are standard: a raw deflate stream any reader inflates, and the same CRC values.

Inflating untrusted files stays with the standard zlib (read.py): the zip-bomb guard relies on its
exact behaviour with damaged and hostile streams, and ISA-L would save only ~0.1 ms a file there.
"""
from __future__ import annotations

import zlib

try:
    from isal import isal_zlib as _isal
except ImportError:     # the fast extra not installed (no wheel for this platform): zlib, the same result, slower
    _isal = None

ZLIB_LEVEL = 1   # without ISA-L: about a third faster than zlib's default 6 here, the files ~10 % larger


def deflate(data: bytes) -> bytes:
    """`data` as a raw deflate stream (what a zip member holds), fast."""
    if _isal is not None:
        return _isal.compress(data, 1, -15)      # (one call: no compressor object per part)
    z = compressobj()
    return z.compress(data) + z.flush()


def compressobj():
    """A raw deflate compressor (compress, flush) at the same level as deflate(), for a stream."""
    if _isal is not None:
        return _isal.compressobj(1, _isal.DEFLATED, -15)
    return zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, -15)


def crc32(data: bytes | memoryview, value: int = 0) -> int:
    """zlib.crc32, the same values."""
    return _isal.crc32(data, value) if _isal is not None else zlib.crc32(data, value)


def accelerated() -> bool:
    return _isal is not None

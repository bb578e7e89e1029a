"""The zip container of an .xlsx, written directly: deflated members, fixed 1980-01-01 timestamps.

Why not zipfile: through `ZipFile.writestr` the container cost a tenth of writing a form, about half
of it Python overhead per member (an .xlsx has a dozen) and the rest deflating parts that are the
same in every workbook of a form (theme, styles, content types, relationships). Here those parts are
deflated once per process and their bytes reused. The archive is what zipfile writes for the same
members (ZIP 2.0, no data descriptors, no extra fields, no zip64), which Excel, WPS, LibreOffice,
calamine and openpyxl read; tests/test_xlsxzip.py reads it back with zipfile and checks every CRC.
"""
from __future__ import annotations

import struct
import zipfile
from typing import BinaryIO, Iterable

from . import fastzlib

# parts that are byte for byte the same in every workbook of a form: deflated once per process
REPEATED = frozenset({"[Content_Types].xml", "_rels/.rels", "xl/_rels/workbook.xml.rels", "xl/theme/theme1.xml",
                      "xl/styles.xml"})
_DEFLATED: dict[tuple[str, bytes], tuple[bytes, int]] = {}
_DOS_DATE = (0 << 9) | (1 << 5) | 1         # 1980-01-01, as XlsxWriter stamps every member
_LIMIT = zipfile.ZIP64_LIMIT               # beyond this zipfile, too, would need zip64 (2 GiB)


def _deflate(name: str, data: bytes) -> tuple[bytes, int]:
    key = (name, data)
    hit = _DEFLATED.get(key) if name in REPEATED else None
    if hit is not None:
        return hit
    out = (fastzlib.deflate(data), fastzlib.crc32(data))
    if name in REPEATED:
        if len(_DEFLATED) > 64:
            _DEFLATED.clear()
        _DEFLATED[key] = out
    return out


def write_zip(fh: BinaryIO, members: Iterable[tuple[str, bytes]]) -> None:
    """Write the (name, data) members, in order, as a zip archive to `fh`."""
    body: list[bytes] = []
    central: list[bytes] = []
    offset = count = 0
    for name, data in members:
        packed, crc = _deflate(name, data)
        raw = name.encode("utf-8")
        if len(data) > _LIMIT or len(packed) > _LIMIT or offset > _LIMIT:
            # what zipfile raises; XlsxWriter's close() reports it as FileSizeError
            raise zipfile.LargeZipFile(f"{name}: too large for a zip without zip64")
        flags = 0 if raw.isascii() else 0x800           # bit 11: the name is UTF-8
        local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, 8, 0, _DOS_DATE, crc, len(packed), len(data),
                            len(raw), 0)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, 8, 0, _DOS_DATE, crc, len(packed),
                                   len(data), len(raw), 0, 0, 0, 0, 0, offset) + raw)
        body += (local, raw, packed)
        offset += len(local) + len(raw) + len(packed)
        count += 1
    directory = b"".join(central)
    if offset + len(directory) > _LIMIT or count > zipfile.ZIP_FILECOUNT_LIMIT:
        raise zipfile.LargeZipFile("too large for a zip without zip64")
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), offset, 0)
    fh.write(b"".join(body) + directory + end)

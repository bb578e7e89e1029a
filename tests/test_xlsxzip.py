"""xlsxzip writes archives that zipfile reads back member for member, CRCs checked."""
from __future__ import annotations

import io
import zipfile

from xlform import xlsxzip


def read_back(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert zf.testzip() is None                     # every member's CRC
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert not info.flag_bits & 0x08             # no data descriptor
        return {n: zf.read(n) for n in zf.namelist()}


def archive(members) -> bytes:
    buf = io.BytesIO()
    xlsxzip.write_zip(buf, members)
    return buf.getvalue()


def test_members_come_back_in_order_with_their_bytes():
    members = [("[Content_Types].xml", b"<Types/>" * 50), ("xl/worksheets/sheet1.xml", bytes(range(256)) * 40),
               ("empty.xml", b""), ("docProps/中文.xml", "名称".encode() * 3)]
    got = read_back(archive(members))
    assert list(got.items()) == members


def test_a_repeated_part_is_deflated_once_and_never_confused():
    xlsxzip._DEFLATED.clear()
    theme = b"<a:theme>" + b"x" * 5000 + b"</a:theme>"
    first = archive([("xl/theme/theme1.xml", theme)])
    assert ("xl/theme/theme1.xml", theme) in xlsxzip._DEFLATED
    assert archive([("xl/theme/theme1.xml", theme)]) == first
    other = theme.replace(b"x", b"y", 1)                 # the same name, other bytes
    assert read_back(archive([("xl/theme/theme1.xml", other)])) == {"xl/theme/theme1.xml": other}
    assert read_back(archive([("xl/styles.xml", theme)])) == {"xl/styles.xml": theme}
    unique = b"<worksheet/>"
    archive([("xl/worksheets/sheet1.xml", unique)])
    assert ("xl/worksheets/sheet1.xml", unique) not in xlsxzip._DEFLATED   # per-file parts are not kept


def test_the_same_archive_as_zipfile_would_hold():
    members = [("a.xml", b"<a>" + b"1234567890" * 300 + b"</a>"), ("b/c.xml", b"<b/>")]
    ours = zipfile.ZipFile(io.BytesIO(archive(members)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)
    theirs = zipfile.ZipFile(buf)
    for a, b in zip(ours.infolist(), theirs.infolist(), strict=True):
        assert (a.filename, a.CRC, a.file_size, a.header_offset is not None) == \
               (b.filename, b.CRC, b.file_size, True)


def test_an_archive_too_large_for_zip_without_zip64_is_refused_as_zipfile_refuses_it(monkeypatch):
    # XlsxWriter's close() turns zipfile.LargeZipFile into its FileSizeError, as with stock zipfile
    import pytest
    monkeypatch.setattr(xlsxzip, "_LIMIT", 100)
    with pytest.raises(zipfile.LargeZipFile):
        archive([("big.xml", bytes(101))])
    with pytest.raises(zipfile.LargeZipFile):
        archive([(f"m{i}.xml", b"<x/>") for i in range(5)])     # the offsets pass the limit

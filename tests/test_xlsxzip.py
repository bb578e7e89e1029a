"""xlsxzip writes archives that zipfile reads back member for member, CRCs checked."""
from __future__ import annotations

import io
import zipfile

import pytest

from xlform import fastzlib, xlsxzip


@pytest.fixture(autouse=True, params=["isal", "zlib"])
def deflater(request, monkeypatch):
    """Every test with ISA-L (the dependency) and with zlib (what a machine without its wheel uses)."""
    if request.param == "isal":
        assert fastzlib.accelerated(), "ISA-L missing: install the fast extra (scripts/test.sh does: pip install -e .[test,fast])"
    else:
        monkeypatch.setattr(fastzlib, "_isal", None)
    monkeypatch.setattr(xlsxzip, "_DEFLATED", {})
    return request.param


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
    monkeypatch.setattr(xlsxzip, "_LIMIT", 100)
    with pytest.raises(zipfile.LargeZipFile):
        archive([("big.xml", bytes(101))])
    with pytest.raises(zipfile.LargeZipFile):
        archive([(f"m{i}.xml", b"<x/>") for i in range(5)])     # the offsets pass the limit


def test_a_form_sized_part_is_packed_about_as_tightly_as_zlib_level_1_would():
    # the speed must not cost size: a ~50 KB sheet of cells, as a form's parts look
    part = "".join(f'<row r="{r}"><c r="D{r}" t="inlineStr"><is><t>xf_ind_{r:03}_target</t></is></c>'
                   f'<c r="E{r}" t="inlineStr"><is><t>indicator_target</t></is></c></row>' for r in range(1, 400)).encode()
    packed = len(archive([("xl/worksheets/sheet2.xml", part)]))
    assert read_back(archive([("xl/worksheets/sheet2.xml", part)])) == {"xl/worksheets/sheet2.xml": part}
    assert packed < len(part) / 5 and packed <= zlib_size(part) * 1.15


def zlib_size(data: bytes) -> int:
    import zlib
    z = zlib.compressobj(1, zlib.DEFLATED, -15)
    return len(z.compress(data) + z.flush()) + 200     # + the zip's headers and directory


@pytest.mark.parametrize("size", [0, 1, 63, 64, 1000, 100_003])
def test_crc32_is_zlibs_in_one_go_and_in_pieces(size):
    import random
    import zlib
    data = random.Random(size).randbytes(size)
    assert fastzlib.crc32(data) == zlib.crc32(data)
    assert fastzlib.crc32(data[size // 3:], fastzlib.crc32(data[:size // 3])) == zlib.crc32(data)
    assert fastzlib.crc32(memoryview(data)) == zlib.crc32(data)

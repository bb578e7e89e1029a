"""Hostile and broken returned files: every one gets a clear Chinese finding naming the file, the batch
goes on, the exit status is the documented one, and no input file changes (docs/security.md).

- not a spreadsheet, empty, truncated, renamed; .xls/.xlsb/.ods; encrypted; .xlsm (macros never carried)
- zip bombs (declared, by ratio, lying about their size), too many members, duplicate members
- XML entity expansion and external entities in every part we or calamine parse
- identity: another form, an unrelated workbook, metadata deleted or edited, the sheet renamed,
  protection removed and targets edited, the content copied into a new workbook
- odd content: a 100,000-character cell, a million-row dimension, a value at XFD1048576,
  60,000 styles, formulas without a cached value, dates and amounts typed as text
- rows inserted and deleted in LibreOffice (defined names move; labels are compared where they went)
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import json
import re
import resource
import struct
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from xlform import read
from xlform.cli import main
from xlform.findings import CATALOGUE, ERROR, WARNING
from xlform.generate import generate
from xlform.manifest import Manifest
from xlform.spec import available_forms
from xlform.validate import check_file
from tests.support.hostile import (CLEAN_ACTUALS, CLEAN_CODE, FORM_SHEET, LAUGHS, META_SHEET_XML, NATIONAL_CODE,
                                   OTHER_YULIN, PROJECTS, SEED_CODE, XXE, cell_xml, clean_values, deflate,
                                   deflated_entries, fill_module, members, raw_zip, rewrite, set_cells, sha256_tree,
                                   with_cells, with_doctype, zeros_deflated)
from tests.support.libreoffice import lo_convert, lo_edit, requires_libreoffice

CJK = re.compile(r"[\u4e00-\u9fff]")
SHEET = "自评表"


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    out = tmp_path_factory.mktemp("issued")
    result = generate(PROJECTS, out)
    manifest = Manifest.load(result.manifest_path)
    return SimpleNamespace(manifest_path=result.manifest_path, manifest=manifest, entries=manifest.by_code(),
                           forms=available_forms(), dir=out)


@pytest.fixture(scope="module")
def clean(issued, tmp_path_factory) -> Path:
    """A complete, clean returned workbook (Yulin form): validates with no error."""
    path = tmp_path_factory.mktemp("clean") / "就业援助.xlsx"
    return fill_module().fill_workbook(issued.entries[CLEAN_CODE], clean_values(), path)


@pytest.fixture(scope="module")
def clean_report(issued, clean):
    r = check(clean, issued)
    assert r.valid and r.score is not None, r.findings
    return r


def check(path: Path, issued, out: Path | None = None):
    report, _, _ = check_file(path, issued.manifest, issued.forms, out)
    return report


def codes(report) -> set[str]:
    return {f.code for f in report.findings}


def only(report, code: str):
    hits = [f for f in report.findings if f.code == code]
    assert len(hits) == 1, report.findings
    return hits[0]


def refused(report, code: str, *words: str, name: str | None = None):
    """The file got exactly one finding, `code`, an error in Chinese naming the file."""
    assert [f.code for f in report.findings] == [code], report.findings
    f = report.findings[0]
    assert f.severity == ERROR and CJK.search(f.message)
    assert (name or Path(report.path).name) in f.message
    for w in words:
        assert w in f.message, f.message
    assert report.score is None
    return f


# ---------------------------------------------------------------- not a spreadsheet

def _zip(path: Path, files: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


NOT_WORKBOOKS = {
    # file name: (maker(clean bytes) -> bytes, code, words)
    "报告.xlsx": (lambda d, p: _zip(p, {"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"}),
                "XF002", ["Word"]),
    "说明.pdf": (lambda d, p: p.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"), "XF002", ["PDF"]),
    "改了后缀.xlsx": (lambda d, p: p.write_bytes("这只是一段文字，不是表格\n".encode()), "XF002", ["不是 Excel"]),
    "空文件.xlsx": (lambda d, p: p.write_bytes(b""), "XF002", ["0 字节"]),
    "截断.xlsx": (lambda d, p: p.write_bytes(d[: len(d) // 2]), "XF002", ["损坏或不完整"]),
    "坏头.xlsx": (lambda d, p: p.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4), "XF002", ["损坏或不完整"]),
    "幻灯片.xlsx": (lambda d, p: _zip(p, {"ppt/presentation.xml": "<p/>"}), "XF002", ["PowerPoint"]),
    "二进制.xlsb": (lambda d, p: _zip(p, {"xl/workbook.bin": b"\0\1"}), "XF006", [".xlsb", "另存为"]),
    "开放文档.ods": (lambda d, p: _zip(p, {"mimetype": "application/vnd.oasis.opendocument.spreadsheet",
                                       "content.xml": "<office:document-content/>"}), "XF006", [".ods", "另存为"]),
}


@pytest.mark.parametrize("name", list(NOT_WORKBOOKS))
def test_not_a_workbook(issued, clean, tmp_path, name):
    make, code, words = NOT_WORKBOOKS[name]
    path = tmp_path / name
    make(clean.read_bytes(), path)
    refused(check(path, issued), code, *words)


def test_corrupt_member_is_caught_before_parsing(issued, clean, tmp_path):
    """One flipped byte inside the compressed sheet: the CRC check names the member."""
    data = bytearray(clean.read_bytes())
    with zipfile.ZipFile(clean) as z:
        info = z.getinfo(FORM_SHEET)
    start = info.header_offset + 30 + len(info.filename.encode())
    data[start + info.compress_size // 2] ^= 0xFF
    path = tmp_path / "坏了一个字节.xlsx"
    path.write_bytes(bytes(data))
    refused(check(path, issued), "XF002", "损坏")


# An attack that works makes a check take minutes or hours (a bomb inflated, entities expanded, a
# quadratic scan); a refused one takes milliseconds. The bound only tells the two apart, generously,
# so that a loaded machine cannot fail it: speed itself is measured by bench/bench.py, not by tests.
HANG_S = 30


# ---------------------------------------------------------------- zip bombs and container limits

def _bomb(tmp_path: Path, clean: Path, mib: int = 300) -> Path:
    raw, crc = zeros_deflated(mib)
    entries = deflated_entries(clean) + [("xl/media/image1.png", raw, crc, mib << 20, 8)]
    return raw_zip(tmp_path / "炸弹.xlsx", entries)


def test_zip_bomb_300_mb_refused_fast_and_small(issued, clean, tmp_path):
    path = _bomb(tmp_path, clean)
    assert path.stat().st_size < 1_000_000        # ~300 KB on disk, 300 MiB inside
    tracemalloc.start()
    t = time.perf_counter()
    r = check(path, issued)
    elapsed = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    refused(r, "XF005", "压缩炸弹")
    assert elapsed < HANG_S and peak < 20 * 2**20, (elapsed, peak)


def test_a_large_xml_member_is_checked_in_bounded_memory(clean, tmp_path, monkeypatch):
    """The member check keeps the small XML parts it inflates (for reading them without a second
    inflate), but does not collect one larger than it keeps: 48 MiB of XML (about 12 MB compressed,
    within every limit) is checked in 1 MiB steps, not gathered and joined (twice its size)."""
    import os
    size = 48 << 20
    body = os.urandom(size).translate(bytes(b"abcd"[i % 4] for i in range(256)))   # ~4:1 compressible
    data = b"<x>" + body + b"</x>"
    entries = deflated_entries(clean) + [("xl/big.xml", zlib.compress(data, 1)[2:-4], zlib.crc32(data), len(data), 8)]
    del body, data
    path = raw_zip(tmp_path / "大部件.xlsx", entries)
    del entries
    on_disk = path.stat().st_size
    monkeypatch.setattr(read, "_KEEP_BYTES", 4 << 20)   # what it may keep, smaller here
    tracemalloc.start()
    pkg = read.sniff(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "xl/big.xml" not in pkg.xml and "xl/workbook.xml" in pkg.xml
    assert peak < on_disk + 12 * 2**20, (peak, on_disk)


def test_zip_bomb_refused_by_ratio_alone(issued, clean, tmp_path, monkeypatch):
    monkeypatch.setattr(read, "MAX_UNCOMPRESSED_BYTES", 2**40)
    refused(check(_bomb(tmp_path, clean), issued), "XF005", "压缩比", "image1.png")


def test_zip_bomb_that_lies_about_its_size(issued, clean, tmp_path):
    """The directory says the sheet is its real size (and the CRC of those bytes matches, so the
    zipfile module would read it happily); the stream goes on for 64 MiB more."""
    real = members(clean)[FORM_SHEET]
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    head = c.compress(real) + c.flush(zlib.Z_FULL_FLUSH)
    zeros, _ = zeros_deflated(64)
    entries = [e if e[0] != FORM_SHEET else (FORM_SHEET, head + zeros, zlib.crc32(real), len(real), 8)
               for e in deflated_entries(clean)]
    path = raw_zip(tmp_path / "说谎的炸弹.xlsx", entries)
    t = time.perf_counter()
    refused(check(path, issued), "XF005", "sheet1.xml", "压缩炸弹")
    assert time.perf_counter() - t < HANG_S


@pytest.mark.parametrize("limit, value, words", [
    ("MAX_UNCOMPRESSED_BYTES", 50_000, ["解压后过大"]),
    ("MAX_MEMBERS", 5, ["文件过多"]),
    ("MAX_FILE_BYTES", 1_000, ["文件过大"]),
])
def test_container_limits(issued, clean, monkeypatch, limit, value, words):
    monkeypatch.setattr(read, limit, value)
    refused(check(clean, issued), "XF005", *words)


def test_duplicate_member_names_refused(issued, clean, tmp_path):
    entries = deflated_entries(clean)
    other = b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
    entries.append(("xl/workbook.xml", deflate(other), zlib.crc32(other), len(other), 8))
    refused(check(raw_zip(tmp_path / "重名.xlsx", entries), issued), "XF005", "同名", "xl/workbook.xml")


def test_unsupported_compression_method(issued, clean, tmp_path):
    entries = [(n, raw, crc, size, 12 if n == FORM_SHEET else m) for n, raw, crc, size, m in deflated_entries(clean)]
    refused(check(raw_zip(tmp_path / "bzip2.xlsx", entries), issued), "XF002", "压缩方式")


# ---------------------------------------------------------------- XML entities

PARTS = ["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "docProps/custom.xml",
         "docProps/app.xml", "docProps/core.xml", FORM_SHEET, META_SHEET_XML, "xl/sharedStrings.xml", "xl/styles.xml"]


@pytest.mark.parametrize("attack", ["laughs", "xxe"])
@pytest.mark.parametrize("part", PARTS)
def test_entities_refused_in_every_part(issued, clean, tmp_path, part, attack):
    dtd, ref = (LAUGHS, b"&lol9;") if attack == "laughs" else (XXE, b"&xxe;")
    path = rewrite(clean, tmp_path / "实体.xlsx", lambda n, d: with_doctype(d, dtd, ref) if n == part else d)
    t = time.perf_counter()
    f = refused(check(path, issued), "XF005", part, "DOCTYPE")
    assert "root:" not in f.message and time.perf_counter() - t < HANG_S


def test_entity_hidden_behind_utf16_or_a_long_prolog(issued, clean, tmp_path):
    def utf16(n, d):
        if n != "xl/workbook.xml":
            return d
        text = with_doctype(d, XXE, b"&xxe;").decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
        return "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")

    refused(check(rewrite(clean, tmp_path / "utf16.xlsx", utf16), issued), "XF005", "DOCTYPE")

    def long_prolog(n, d):
        if n != "xl/sharedStrings.xml":
            return d
        decl, body = d.split(b"?>", 1)
        return decl + b"?>" + b"<!--" + b" " * 200_000 + b"-->" + LAUGHS + body

    refused(check(rewrite(clean, tmp_path / "长序言.xlsx", long_prolog), issued), "XF005", "DOCTYPE")


def _stored_blocks(data: bytes) -> bytes:
    """`data` as a raw deflate stream of stored blocks, the last one final."""
    out = bytearray()
    for i in range(0, len(data), 65535):
        part = data[i:i + 65535]
        out += bytes([i + 65535 >= len(data)]) + struct.pack("<HH", len(part), len(part) ^ 0xFFFF) + part
    return bytes(out)


def _one_byte_first(data: bytes) -> bytes:
    """A raw deflate stream of `data` whose first MiB of input inflates to its first byte alone: empty
    stored blocks, then a stored block of that byte, then the rest."""
    empty = b"\x00" + struct.pack("<HH", 0, 0xFFFF)
    first = b"\x00" + struct.pack("<HH", 1, 0xFFFE) + data[:1]
    n = ((1 << 20) - len(first)) // len(empty)
    assert len(empty) * n + len(first) == 1 << 20
    return empty * n + first + _stored_blocks(data[1:])


@pytest.mark.parametrize("part", ["xl/sharedStrings.xml", FORM_SHEET])
def test_entity_behind_a_one_byte_first_step_or_leading_white_space(issued, clean, tmp_path, part):
    """The member check tells XML (and UTF-16) from other members by its first 64 bytes, not by the first
    output of zlib: a stream whose first step yields only "<" hid a UTF-16 DOCTYPE from the scan; and a
    part opening with more than 64 bytes of white space (allowed before a DOCTYPE) was not taken for XML."""
    text = with_doctype(members(clean)[part], XXE, b"&xxe;").decode("utf-8")
    wide = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-le")   # no BOM: "<" then "\0"
    assert zlib.decompress(_one_byte_first(wide), -15) == wide
    entries = [(n, _one_byte_first(wide), zlib.crc32(wide), len(wide), 8) if n == part else e
               for e in deflated_entries(clean) for n in [e[0]]]
    refused(check(raw_zip(tmp_path / "一字节.xlsx", entries), issued), "XF005", part, "DOCTYPE")

    spaced = b" \n" * 100 + with_doctype(members(clean)[part].split(b"?>", 1)[1], XXE, b"&xxe;")
    path = rewrite(clean, tmp_path / "空白开头.xlsx", lambda n, d: spaced if n == part else d)
    refused(check(path, issued), "XF005", part, "DOCTYPE")


@pytest.mark.parametrize("part, code", [("xl/workbook.xml", "XF005"), ("docProps/custom.xml", "XF005"),
                                        (FORM_SHEET, "XF002"), ("xl/sharedStrings.xml", "XF002")])
def test_without_the_doctype_scan_the_parsers_still_refuse(issued, clean, tmp_path, monkeypatch, part, code):
    """Defence in depth: with the byte scan switched off, expat (our parts: its DTD handlers refuse) and
    calamine (sheets, strings) still refuse to expand entities, quickly, and nothing from /etc/passwd shows up."""
    monkeypatch.setattr(read, "_DTD_RE", re.compile(rb"(?!)"))
    for dtd, ref in ((LAUGHS, b"&lol9;"), (XXE, b"&xxe;")):
        def fn(n, d):
            if n != part:
                return d
            if n == FORM_SHEET:     # the entity in a text cell (an inline string), where it would show
                d = re.sub(rb'<c r="A1"[^>]*?(?:/>|>.*?</c>)', b'<c r="A1" t="inlineStr"><is><t>X' + ref
                           + b"</t></is></c>", d, count=1, flags=re.S)
            return with_doctype(d, dtd, b"" if n == FORM_SHEET else ref)
        path = rewrite(clean, tmp_path / "实体.xlsx", fn)
        t = time.perf_counter()
        r = check(path, issued)
        assert time.perf_counter() - t < HANG_S
        text = json.dumps(r.to_dict(), ensure_ascii=False)
        assert "root:" not in text and "lollollol" not in text
        assert code in codes(r) and not r.valid, r.findings


@pytest.mark.parametrize("junk", [b"<c>" * 40_000, b"<row>" * 40_000 + b"<c>", b"<c><f/><v>" * 40_000,
                                  b"<sheetProtection " * 20_000])
def test_unclosed_tags_in_a_sheet_are_scanned_in_linear_time(issued, clean, tmp_path, junk):
    """The byte scans of sheet XML (extent, formulas, protection) run before any parser: each tag
    pattern stops at the next tag, so 40,000 unclosed <c> or <row> tags (120 KB) are not each searched
    to the end of the part (quadratic: about a minute here, hours for a few MB)."""
    formula = b'<row r="900"><c r="A900"><f>1+1</f><v>2</v></c></row>'
    path = rewrite(clean, tmp_path / "未闭合.xlsx",
                   lambda n, d: d.replace(b"</sheetData>", formula + junk + b"</sheetData>") if n == FORM_SHEET else d)
    t = time.perf_counter()
    r = check(path, issued)
    assert time.perf_counter() - t < HANG_S
    assert not r.valid and r.findings


# ---------------------------------------------------------------- encrypted, macros

def test_encrypted_workbook(issued, clean, tmp_path):
    from msoffcrypto.format.ooxml import OOXMLFile
    path = tmp_path / "加密.xlsx"
    with open(clean, "rb") as src, open(path, "wb") as dst:
        OOXMLFile(src).encrypt("密码123", dst)
    refused(check(path, issued), "XF004", "加密")


def _xlsm(clean: Path, path: Path) -> Path:
    def fn(name, data):
        if name == "[Content_Types].xml":
            data = data.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
            data = data.replace(b"</Types>", b'<Default Extension="bin" '
                                             b'ContentType="application/vnd.ms-office.vbaProject"/></Types>')
        if name == "xl/_rels/workbook.xml.rels":
            data = data.replace(b"</Relationships>", b'<Relationship Id="rId99" Type="http://schemas.microsoft.com/'
                                                     b'office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
                                                     b"</Relationships>")
        return data
    return rewrite(clean, path, fn, add={"xl/vbaProject.bin": b"\xcc\x61VBA-MACRO-Sub AutoOpen() Shell(\"calc\")"})


def test_xlsm_values_read_macros_never_carried(issued, clean, clean_report, tmp_path):
    path = _xlsm(clean, tmp_path / "带宏.xlsm")
    out = tmp_path / "out" / "带宏-批注.xlsx"
    r = check(path, issued, out)
    assert r.valid and r.score == clean_report.score
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        types = z.read("[Content_Types].xml")
    assert not any("vba" in n.lower() for n in names)
    assert b"macroEnabled" not in types and b"vbaProject" not in types


# ---------------------------------------------------------------- identity

def _sub(member: str, old: bytes, new: bytes, count: int = 0):
    def fn(name, data):
        if name == member:
            assert old in data, (member, old)
            data = data.replace(old, new) if not count else data.replace(old, new, count)
        return data
    return fn


def _chain(*fns):
    def fn(name, data):
        for f in fns:
            data = f(name, data)
        return data
    return fn


def _meta_cell(path: Path, key: str) -> str:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("_xlform").to_python()
    return f"B{next(i for i, r in enumerate(rows) if r[0] == key) + 1}"


def _drop_meta_sheet(name, data):
    if name == "xl/workbook.xml":
        return re.sub(rb'<sheet name="_xlform"[^>]*/>', b"", data)
    return data


def _drop_props(name, data):
    if name == "docProps/custom.xml":
        return re.sub(rb"<property\b.*?</property>", b"", data, flags=re.S)
    return data


def test_unrelated_workbook(issued, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "部门", "金额"])
    ws.append(["张三", "教育局", 100])
    ws.append(["项目编码", SEED_CODE, "项目名称"])        # a couple of our labels are not enough
    path = tmp_path / "通讯录.xlsx"
    wb.save(path)
    refused(check(path, issued), "XF101", "不是本系统下发的工作簿")


def test_workbook_of_another_form(issued, clean, tmp_path):
    path = rewrite(clean, tmp_path / "另一种表.xlsx", _chain(
        _sub("xl/sharedStrings.xml", b">yulin-2021<", b">national-2020<"),
        _sub("docProps/custom.xml", b">yulin-2021<", b">national-2020<")))
    refused(check(path, issued), "XF103", "national-2020", "yulin-2021", name=CLEAN_CODE)


def test_project_not_in_the_manifest(issued, clean, tmp_path):
    other = b"450900219999999999999"
    path = rewrite(clean, tmp_path / "别的批次.xlsx", _chain(
        _sub("xl/sharedStrings.xml", CLEAN_CODE.encode(), other),
        _sub("docProps/custom.xml", CLEAN_CODE.encode(), other)))
    refused(check(path, issued), "XF102", other.decode(), name=other.decode())


def test_metadata_edited_to_another_project_is_caught_by_the_locked_cells(issued, clean, tmp_path):
    """Sheet and properties both say OTHER_YULIN: the 项目编码 cell (locked, issued as OTHER_YULIN's
    code in that project's template) still says CLEAN_CODE -> XF201 on G4, and more."""
    ref = _meta_cell(clean, "project_code")
    path = rewrite(clean, tmp_path / "改了元数据.xlsx", _chain(
        lambda n, d: set_cells(d, {ref: OTHER_YULIN}) if n == META_SHEET_XML else d,
        _sub("docProps/custom.xml", CLEAN_CODE.encode(), OTHER_YULIN.encode())))
    r = check(path, issued)
    assert r.project_code == OTHER_YULIN and not r.valid
    g4 = [f for f in r.findings if f.code == "XF201" and f.cell == "G4"]
    assert g4 and g4[0].label == "项目编码" and CLEAN_CODE in g4[0].message and OTHER_YULIN in g4[0].message


def test_metadata_sheet_disagreeing_with_the_properties(issued, clean, tmp_path):
    ref = _meta_cell(clean, "project_code")
    path = rewrite(clean, tmp_path / "元数据不一致.xlsx",
                   lambda n, d: set_cells(d, {ref: OTHER_YULIN}) if n == META_SHEET_XML else d)
    r = check(path, issued)
    meta = [f for f in r.findings if f.code == "XF201" and f.sheet == "_xlform"]
    assert meta and OTHER_YULIN in meta[0].message and CLEAN_CODE in meta[0].message
    assert any(f.code == "XF201" and f.cell == "G4" for f in r.findings)


def test_metadata_sheet_deleted_properties_still_identify(issued, clean, clean_report, tmp_path):
    r = check(rewrite(clean, tmp_path / "删了元数据表.xlsx", _drop_meta_sheet), issued)
    assert r.valid and r.project_code == CLEAN_CODE and r.score == clean_report.score
    assert not codes(r) & {"XF101", "XF109"}


def test_metadata_gone_recognised_by_labels(issued, clean, clean_report, tmp_path):
    r = check(rewrite(clean, tmp_path / "没有元数据.xlsx", _chain(_drop_meta_sheet, _drop_props)), issued)
    f = only(r, "XF109")
    assert f.severity == WARNING and CATALOGUE["XF109"].severity == WARNING
    assert "标签" in f.message and CLEAN_CODE in f.message
    assert r.valid and r.project_code == CLEAN_CODE and r.score == clean_report.score


def test_sheet_renamed(issued, clean, clean_report, tmp_path):
    new = "我们的表".encode()
    path = rewrite(clean, tmp_path / "改了表名.xlsx", _chain(
        _sub("xl/workbook.xml", f'name="{SHEET}"'.encode(), b'name="' + new + b'"'),
        _sub("xl/workbook.xml", f"'{SHEET}'!".encode(), b"'" + new + b"'!")))
    r = check(path, issued)
    f = only(r, "XF108")
    assert SHEET in f.message and "我们的表" in f.message and "改名" in f.message
    assert r.score == clean_report.score           # still read, through the defined names
    assert not codes(r) & {"XF201", "XF107"}


@pytest.mark.parametrize("edited", ["copy", "original"])
def test_names_pointing_at_two_sheets_labels_compared_where_most_fields_were_read(issued, clean, clean_report,
                                                                                  tmp_path, edited):
    """The form sheet copied to 自评表 (2) and most defined names pointed at the copy, the 项目编码 one
    left on the original: the values come from the copy, and so do the labels the tamper check
    compares (the sheet most fields were read from), not from the original still named 自评表."""
    from xlform.layout import build_layout
    from xlform.projects import Project
    e = issued.entries[CLEAN_CODE]
    lay = build_layout(issued.forms[e.form_id], Project.from_dict(e.project), e.year)
    label = next(c for c in lay.cells if c.field is None and c.ref in e.locked and isinstance(c.value, str))
    copy = f"{SHEET} (2)"
    sheet = members(clean)[FORM_SHEET]
    changed = set_cells(sheet, {label.ref: "改过的标签"})
    fn, add = _add_sheet(copy, changed if edited == "copy" else sheet)
    names = f"'{SHEET}'!".encode()

    def repoint(name, data):
        data = fn(name, data)
        if name == "xl/workbook.xml":
            data = data.replace(names, f"'{copy}'!".encode())
            data = data.replace(b'name="xf_project_code">\'' + copy.encode(), b'name="xf_project_code">\'' + SHEET.encode())
        if name == FORM_SHEET and edited == "original":
            data = changed
        return data

    path = rewrite(clean, tmp_path / "两张表.xlsx", repoint, add)
    names = read.read_workbook(path).names
    assert names["xf_project_code"][0] == SHEET and names["xf_project_name"][0] == copy
    r = check(path, issued)
    assert r.score == clean_report.score
    if edited == "original":
        assert "XF201" not in codes(r)
    else:
        f = only(r, "XF201")
        assert f.sheet == copy and f.cell == label.ref and label.value in f.message and "改过的标签" in f.message


def test_protection_removed_and_target_edited(issued, tmp_path):
    e = issued.entries[CLEAN_CODE]
    path = fill_module().fill_workbook(e, clean_values(), tmp_path / "改了指标值.xlsx",
                                       tamper={"ind_001_target": "≥1人"}, unprotect=True)
    r = check(path, issued)
    assert "XF202" in codes(r)
    f = only(r, "XF201")
    issued_target = e.locked[f.cell]
    assert f.field == "xf_ind_001_target" and str(issued_target) in f.message and "≥1人" in f.message


def _copy_to_new_workbook(src: Path, dst: Path, dr: int = 2, dc: int = 1, drop: set[str] = frozenset()):
    rows = CalamineWorkbook.from_path(str(src)).get_sheet_by_index(0).to_python()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v != "" and v not in drop:
                ws.cell(row=i + 1 + dr, column=j + 1 + dc, value=v)
    wb.save(dst)
    return dst


def test_content_copied_into_a_new_workbook(issued, clean, clean_report, tmp_path):
    r = check(_copy_to_new_workbook(clean, tmp_path / "复制到新表.xlsx"), issued)
    f = only(r, "XF109")
    assert "Sheet1" in f.message and "复制" in f.message
    assert r.project_code == CLEAN_CODE and r.score == clean_report.score
    assert r.valid and not codes(r) & {"XF201", "XF107"}      # XF202: a new workbook has no protection


def test_national_form_copied_into_a_new_workbook(issued, tmp_path):
    e = issued.entries[NATIONAL_CODE]
    src = fill_module().fill_workbook(e, {"executed_total": 181.6, "executed_current": 181.6},
                                      tmp_path / "national.xlsx")
    expected = check(src, issued)
    r = check(_copy_to_new_workbook(src, tmp_path / "复制.xlsx", dr=0, dc=0), issued)
    assert "XF109" in codes(r) and r.project_code == NATIONAL_CODE
    assert r.score == expected.score


def test_copied_without_the_project_code(issued, clean, tmp_path):
    r = check(_copy_to_new_workbook(clean, tmp_path / "没编码.xlsx", drop={CLEAN_CODE}), issued)
    refused(r, "XF101", "项目编码", "标签")


# ---------------------------------------------------------------- odd content

def test_100000_character_cell(issued, clean, tmp_path):
    path = with_cells(clean, tmp_path / "超长.xlsx", {"C14": "很长的说明" * 20_000})
    t = time.perf_counter()
    r = check(path, issued, tmp_path / "out" / "超长-批注.xlsx")
    assert time.perf_counter() - t < HANG_S and r.score is not None
    assert Path(r.annotated).is_file()


def test_dimension_claiming_a_million_rows(issued, clean, clean_report, tmp_path):
    path = rewrite(clean, tmp_path / "百万行.xlsx",
                   lambda n, d: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', d)
                   if n == FORM_SHEET else d)
    t = time.perf_counter()
    r = check(path, issued)
    assert time.perf_counter() - t < HANG_S and r.score == clean_report.score and r.valid


def _far_cell(name, data):
    return data.replace(b"</sheetData>", b'<row r="1048576">' + cell_xml("XFD1048576", 1) + b"</row></sheetData>")


def test_value_at_XFD1048576_on_the_form_sheet(issued, clean, tmp_path):
    """calamine would allocate 17 billion cells for it and abort the process: refused first."""
    path = rewrite(clean, tmp_path / "最远的格.xlsx", lambda n, d: _far_cell(n, d) if n == FORM_SHEET else d)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    f = refused(check(path, issued), "XF005", "XFD1048576", SHEET)
    assert f.sheet == SHEET
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200_000      # KiB


@pytest.mark.parametrize("how", ["another id attribute", "two sheets of one name", "a name in other case",
                                 "a name with ./"])
def test_value_at_XFD1048576_behind_a_second_part_for_the_sheet(clean, tmp_path, how):
    """The cell-area guard bounds every part a reader could load for a sheet: a sheet element with
    another `…:id` before its r:id (pointing at the small metadata sheet), a second sheet of the same
    name after it, a later member whose name differs only in case (calamine matches names without
    case), a target spelled with "./" and a member of that very name. Each time the guard had measured
    a small part while calamine loaded the far cell and aborted the process; run in a child process so
    that a regression cannot abort this one."""
    far = _far_cell(FORM_SHEET, members(clean)[FORM_SHEET])
    add = {"a name in other case": {"xl/worksheets/SHEET1.xml": far},
           "a name with ./": {"xl/worksheets/./sheet1.xml": far}}.get(how, {})

    def fn(n, d):
        if n == FORM_SHEET:
            return d if add else far
        if n == "xl/_rels/workbook.xml.rels" and how == "a name with ./":
            return d.replace(b'Target="worksheets/sheet1.xml"', b'Target="worksheets/./sheet1.xml"')
        if n == "xl/workbook.xml" and how == "another id attribute":
            return d.replace(b'sheetId="1" r:id="rId1"/>', b'sheetId="1" xr:id="rId2" r:id="rId1" xmlns:xr="urn:x"/>')
        if n == "xl/workbook.xml":
            return d.replace(b'<sheet name="_xlform"', f'<sheet name="{SHEET}"'.encode())
        return d

    _refused_in_a_child(rewrite(clean, tmp_path / "两个部件.xlsx", fn, add))


def _refused_in_a_child(path: Path) -> None:
    """read_workbook(path) in a child process (a calamine abort cannot take this one with it) refuses
    the form sheet for its cell at XFD1048576."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
            "from xlform import read\n"
            f"wb = read.read_workbook({str(path)!r})\n"
            "print(wb.unread_sheets)")
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(read.__file__).parents[1], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert "XF005" in done.stdout and "XFD1048576" in done.stdout


@pytest.mark.parametrize("cell", [b"<row r='1048576'><c r='XFD1048576'><v>1</v></c></row>",
                                  b'<row r = "1048576"><c r = "XFD1048576"><v>1</v></c></row>',
                                  b'<row r="1048576"><c r="A1" r="XFD1048576"><v>1</v></c></row>',
                                  b'<row r="1048576"><c r="A1" s="1"\tr="XFD1048576"><v>1</v></c></row>',
                                  b'<c r="XFD1048576"><v>1</v></c>'])
def test_value_at_XFD1048576_however_its_reference_is_spelled(clean, tmp_path, cell):
    """calamine reads r='…' and r = "…" as r="…", of two r attributes the later, and a cell outside any
    <row> (here after the last one): the area guard read neither spelling (the cell counted as one
    without a reference, in row 1), took the first of two, and looked for cells only inside rows;
    calamine aborted the process."""
    path = rewrite(clean, tmp_path / "引用写法.xlsx",
                   lambda n, d: d.replace(b"</sheetData>", cell + b"</sheetData>") if n == FORM_SHEET else d)
    _refused_in_a_child(path)


def _add_sheet(name: str, xml: bytes):
    def fn(member, data):
        if member == "xl/workbook.xml":
            data = data.replace(b"</sheets>", f'<sheet name="{name}" sheetId="9" r:id="rId99"/></sheets>'.encode())
        elif member == "xl/_rels/workbook.xml.rels":
            data = data.replace(b"</Relationships>", b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org'
                                                     b'/officeDocument/2006/relationships/worksheet" '
                                                     b'Target="worksheets/sheet9.xml"/></Relationships>')
        elif member == "[Content_Types].xml":
            data = data.replace(b"</Types>", b'<Override PartName="/xl/worksheets/sheet9.xml" ContentType="application/'
                                             b'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        return data
    return fn, {"xl/worksheets/sheet9.xml": xml}


def test_value_at_XFD1048576_on_an_extra_sheet_does_not_stop_the_form(issued, clean, clean_report, tmp_path):
    xml = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
           b'spreadsheetml/2006/main"><sheetData><row r="1">' + cell_xml("A1", "附表") + b'</row><row r="1048576">'
           + cell_xml("XFD1048576", 7) + b"</row></sheetData></worksheet>")
    fn, add = _add_sheet("附表", xml)
    r = check(rewrite(clean, tmp_path / "附表.xlsx", fn, add), issued)
    assert r.valid and r.score == clean_report.score


def test_sixty_thousand_styles(issued, clean, clean_report, tmp_path):
    """Excel's own ceiling is 64,000 cell formats; a 5 MB styles.xml is read quickly."""
    def fn(name, data):
        if name != "xl/styles.xml":
            return data
        m = re.search(rb'<cellXfs count="(\d+)">(.*?)</cellXfs>', data, re.S)
        extra = b"".join(b'<xf numFmtId="%d" fontId="0" fillId="0" borderId="%d" xfId="0" applyNumberFormat="1"/>'
                         % (i % 50, i % 2) for i in range(60_000))
        n = int(m.group(1)) + 60_000
        return data[:m.start()] + b'<cellXfs count="%d">' % n + m.group(2) + extra + b"</cellXfs>" + data[m.end():]
    t = time.perf_counter()
    r = check(rewrite(clean, tmp_path / "样式.xlsx", fn), issued)
    assert time.perf_counter() - t < HANG_S and r.score == clean_report.score


def test_formula_without_a_cached_value(issued, tmp_path):
    e = issued.entries[CLEAN_CODE]
    path = fill_module().fill_workbook(e, clean_values(), tmp_path / "公式.xlsx",
                                       formulas_without_value=["ind_001_actual"])
    f = only(check(path, issued), "XF203")
    assert f.field == "xf_ind_001_actual" and f.cell and "公式" in f.message


def test_dates_typed_as_text_are_accepted(issued, tmp_path):
    values = {**clean_values(), "start_date": "2021-01-01", "end_date": "2021-12-31"}
    r = check(fill_module().fill_workbook(issued.entries[CLEAN_CODE], values, tmp_path / "文本日期.xlsx"), issued)
    assert not [f for f in r.findings if f.field in ("xf_start_date", "xf_end_date")], r.findings
    assert r.valid


def test_amounts_typed_as_text_are_read_as_numbers(issued, tmp_path):
    e = issued.entries[CLEAN_CODE]                       # 资金总额 120
    ok = check(fill_module().fill_workbook(e, {**clean_values(), "fund_central": "80", "fund_region": "40.00"},
                                           tmp_path / "文本金额.xlsx"), issued)
    assert "XF501" not in codes(ok) and ok.score is not None
    off = check(fill_module().fill_workbook(e, {**clean_values(), "fund_central": "80", "fund_region": "30"},
                                            tmp_path / "文本金额不符.xlsx"), issued)
    assert "110" in only(off, "XF501").message


# ---------------------------------------------------------------- a whole hostile batch through the CLI

@pytest.fixture(scope="module")
def hostile_batch(issued, clean, tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile") / "回收"
    d.mkdir()
    (d / "正常.xlsx").write_bytes(clean.read_bytes())
    for name, (make, _, _) in NOT_WORKBOOKS.items():
        make(clean.read_bytes(), d / name)
    _bomb(d, clean, 50)
    rewrite(clean, d / "实体.xlsx", lambda n, dd: with_doctype(dd, XXE, b"&xxe;") if n == FORM_SHEET else dd)
    rewrite(clean, d / "最远.xlsx", lambda n, dd: _far_cell(n, dd) if n == FORM_SHEET else dd)
    _xlsm(clean, d / "带宏.xlsm")
    _copy_to_new_workbook(clean, d / "复制.xlsx")
    from msoffcrypto.format.ooxml import OOXMLFile
    with open(clean, "rb") as src, open(d / "加密.xlsx", "wb") as dst:
        OOXMLFile(src).encrypt("x", dst)
    return d


def test_hostile_batch_through_validate(issued, hostile_batch, tmp_path):
    before = sha256_tree(hostile_batch)
    out = tmp_path / "校验"
    result = CliRunner().invoke(main, ["validate", str(hostile_batch), "--manifest", str(issued.manifest_path),
                                       "--out", str(out), "--json", str(tmp_path / "r.json"), "-j", "2"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "内部错误" not in result.output
    for name in before:
        assert name in result.output
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    read_fine = ("正常.xlsx", "带宏.xlsm", "复制.xlsx")       # one project three times: only XF105 against them
    for name, f in by_name.items():
        errors = {x["code"] for x in f["findings"] if x["severity"] == "error"}
        if name in read_fine:
            assert errors == {"XF105"} and f["score"], f
        else:
            assert errors - {"XF105"}, f
        assert not any("处理时出错" in x["message"] for x in f["findings"]), f
    assert sha256_tree(hostile_batch) == before                  # inputs never change
    assert {p.name for p in out.iterdir()} == {"正常-批注.xlsx", "带宏-批注.xlsx", "复制-批注.xlsx"}


@pytest.mark.skipif(importlib.util.find_spec("xlform.consolidate") is None, reason="xlform consolidate not there yet")
def test_hostile_batch_through_consolidate(issued, hostile_batch, tmp_path):
    before = sha256_tree(hostile_batch)
    result = CliRunner().invoke(main, ["consolidate", str(hostile_batch), "--manifest", str(issued.manifest_path),
                                       "--out", str(tmp_path / "汇总.xlsx"), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "内部错误" not in result.output
    assert (tmp_path / "汇总.xlsx").is_file()
    assert sha256_tree(hostile_batch) == before


# ---------------------------------------------------------------- LibreOffice: rows inserted and deleted, .xls

DELETED = 3     # the indicator whose row is deleted


@pytest.fixture(scope="module")
def lo_files(issued, clean, tmp_path_factory):
    """Two soffice jobs side by side (about 5 s in all): rows inserted and deleted; a save as .xls.

    Two rows are inserted above row 3 (before any named cell), one inside the indicator table, and
    indicator DELETED's row is deleted, each as Insert > Rows Above / Delete Rows would.
    """
    from concurrent.futures import ThreadPoolExecutor

    from xlform.layout import build_layout
    from xlform.projects import Project
    e = issued.entries[CLEAN_CODE]
    lay = build_layout(issued.forms[e.form_id], Project.from_dict(e.project), e.year)
    ind = {r.number: r.row + 1 for r in lay.indicator_rows}            # 1-based rows as issued
    d = tmp_path_factory.mktemp("lo")
    rows = [  # applied in order: a row number after an insert counts the inserted rows
        {"how": "insert_rows", "sheet": SHEET, "row": 3, "count": 2},
        {"how": "insert_rows", "sheet": SHEET, "row": ind[6] + 2, "count": 1},
        {"how": "delete_rows", "sheet": SHEET, "row": ind[DELETED] + 2, "count": 1},
    ]
    with ThreadPoolExecutor(2) as ex:
        moved = ex.submit(lo_edit, clean, d / "增删行.xlsx", rows, unprotect=True, timeout=60)
        xls = ex.submit(lo_convert, clean, d, "xls", timeout=60)
        return SimpleNamespace(moved=d / "增删行.xlsx", report=moved.result(), xls=xls.result())


@pytest.mark.libreoffice
@requires_libreoffice
def test_rows_inserted_and_deleted_in_libreoffice(issued, lo_files):
    """The names move with the cells, so values read right; the labels are compared where they
    went, so only the deleted row's locked cells are reported (not every label below the insert)."""
    assert all(x["applied"] for x in lo_files.report["edits"])
    r = check(lo_files.moved, issued)
    tampered = [f for f in r.findings if f.code == "XF201"]
    assert tampered and all(f.field and f.field.startswith(f"xf_ind_{DELETED:03d}_") for f in tampered), tampered
    assert "XF202" in codes(r)
    gone = only(r, "XF107")
    assert f"xf_ind_{DELETED:03d}_" in gone.message and "#REF!" in gone.message
    actual = {x["number"]: x["actual"] for x in r.indicators}
    want = {n: a for n, (a, _) in enumerate(CLEAN_ACTUALS, 1)}
    for n in (1, 2, 7, 8, 14):
        assert actual[n] == want[n]


@pytest.mark.libreoffice
@requires_libreoffice
def test_legacy_xls_from_libreoffice(issued, lo_files):
    refused(check(lo_files.xls, issued), "XF006", ".xls", "另存为")


def test_department_text_that_looks_like_a_formula_stays_text(issued, tmp_path):
    """A reason typed as =cmd|… (a DDE payload) is written back as text in the annotated copy."""
    payload = "=cmd|'/c calc'!A1"
    values = {**clean_values(), "ind_001_actual": "800人", "ind_001_reason": payload}
    src = fill_module().fill_workbook(issued.entries[CLEAN_CODE], values, tmp_path / "公式文字.xlsx")
    out = tmp_path / "out" / "公式文字-批注.xlsx"
    r = check(src, issued, out)
    assert r.annotated
    sheet = members(out)[FORM_SHEET]
    assert b"<f>" not in sheet and b"cmd|" not in sheet               # a shared string, not a formula
    assert payload.encode() in members(out)["xl/sharedStrings.xml"].replace(b"&apos;", b"'")


def test_annotated_copy_never_overwrites_an_input(issued, clean, tmp_path):
    """A returned annotated copy (X-批注.xlsx) validated with --out pointing at its own folder."""
    folder = tmp_path / "校验"
    folder.mkdir()
    src = folder / "就业援助-批注.xlsx"
    src.write_bytes(clean.read_bytes())
    before = sha256_tree(folder)
    result = CliRunner().invoke(main, ["validate", str(src), "--manifest", str(issued.manifest_path),
                                       "--out", str(folder), "-j", "1"])
    assert result.exit_code == 0, result.output
    after = sha256_tree(folder)
    assert after[src.name] == before[src.name]
    assert set(after) == {src.name, "就业援助-批注(2).xlsx"}


def _prefixed(data: bytes) -> bytes:
    """The sheet as the Open XML SDK writes it: every element in the x: prefix, r and sheet in single quotes."""
    data = re.sub(rb"<(/?)([A-Za-z]\w*)([\s/>])", rb"<\1x:\2\3", data)
    data = data.replace(b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                        b'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', 1)
    data = re.sub(rb' r="([A-Z]+\d+)"', rb" r='\1'", data)
    return re.sub(rb'(<x:sheetProtection\b[^>]*?) sheet="1"', rb"\1 sheet='1'", data)


def test_a_sheet_in_a_namespace_prefix_and_single_quotes_is_scanned_alike(issued, tmp_path):
    """Protection and formula cells are found whatever prefix and quotes the writer used: no false
    XF202 (protection removed) and no missed XF203 (formula without a value)."""
    e = issued.entries[CLEAN_CODE]
    plain = fill_module().fill_workbook(e, clean_values(), tmp_path / "公式.xlsx",
                                        formulas_without_value=["ind_001_actual"])
    path = rewrite(plain, tmp_path / "前缀.xlsx", lambda n, d: _prefixed(d) if n == FORM_SHEET else d)
    assert b"<x:sheetProtection" in members(path)[FORM_SHEET] and b"<x:f" in members(path)[FORM_SHEET]
    r = check(path, issued)
    assert "XF202" not in codes(r)
    f = only(r, "XF203")
    assert f.field == "xf_ind_001_actual"


# ---------------------------------------------------------------- a FIFO or folder where a file should be

def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The CLI in a child process: a regression here would block forever, so it gets a timeout."""
    return subprocess.run([sys.executable, "-c", "from xlform.cli import run; run()", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=Path(read.__file__).parents[1])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_named_as_a_returned_file_is_refused_not_waited_on(issued, clean, tmp_path):
    pipe = tmp_path / "管道.xlsx"
    os.mkfifo(pipe)           # open() for reading would wait for a writer that never comes
    done = _cli("validate", str(clean), str(pipe), "--manifest", str(issued.manifest_path), "-j", "1",
                "--json", str(tmp_path / "r.json"))
    assert done.returncode == 1, done.stdout + done.stderr
    files = {Path(f["path"]).name: f for f in json.loads((tmp_path / "r.json").read_text("utf-8"))["files"]}
    assert [x["code"] for x in files["管道.xlsx"]["findings"]] == ["XF001"]
    assert "不是普通文件" in files["管道.xlsx"]["findings"][0]["message"]
    assert files[clean.name]["score"]          # the batch went on


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_pipe_or_folder_given_as_the_manifest_is_refused_not_waited_on(clean, tmp_path, jobs):
    pipe = tmp_path / "manifest.json"
    os.mkfifo(pipe)
    folder = tmp_path / "文件夹.json"
    folder.mkdir()
    for manifest in (pipe, folder):
        for command in (["consolidate", str(clean), "--out", str(tmp_path / "汇总.xlsx")],
                        ["validate", str(clean)]):
            done = _cli(*command, "--manifest", str(manifest), "-j", jobs)
            assert done.returncode == 2, done.stdout + done.stderr
            # a folder is refused by the command line itself, a pipe when it is opened
            why = f"“{manifest}”是文件夹，这里应为文件" if manifest == folder else \
                f"manifest 文件 {manifest.name} 不是普通文件"
            assert why in done.stdout + done.stderr
            assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "汇总.xlsx").exists()

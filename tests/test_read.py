"""read.py below check_file: the file is opened once and calamine gets the bytes that were checked;
the small XML parts read the same however a writer spells them; the sheet-extent guard's fast bound."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from xlform import read
from xlform.generate import generate
from xlform.manifest import Manifest
from tests.support.hostile import (CLEAN_CODE, FORM_SHEET, META_SHEET_XML, PROJECTS, cell_xml, clean_values,
                                   fill_module, members, rewrite)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("read")
    manifest = Manifest.load(generate(PROJECTS, out / "issued").manifest_path)
    return fill_module().fill_workbook(manifest.by_code()[CLEAN_CODE], clean_values(), out / "clean.xlsx")


def _same(a: read.WorkbookData, b: read.WorkbookData) -> None:
    assert (a.sheet_names, a.meta, a.properties, a.names, a.deleted_names, a.unread_sheets, a.application) == \
           (b.sheet_names, b.meta, b.properties, b.names, b.deleted_names, b.unread_sheets, b.application)
    assert {n: (s.start, s.rows, s.protected, s.formulas) for n, s in a.sheets.items()} == \
           {n: (s.start, s.rows, s.protected, s.formulas) for n, s in b.sheets.items()}


def test_calamine_reads_the_bytes_that_were_checked(clean, tmp_path, monkeypatch):
    """A file replaced after the checks (say by one with a cell at XFD1048576, which would abort the
    process) is not what gets parsed: the path is opened once."""
    path = tmp_path / "换过.xlsx"
    path.write_bytes(clean.read_bytes())
    expected = read.read_workbook(clean)
    sniff = read.sniff

    def sniff_then_swap(p):
        pkg = sniff(p)
        p.write_bytes(b"not a zip any more")
        return pkg

    monkeypatch.setattr(read, "sniff", sniff_then_swap)
    _same(read.read_workbook(path), expected)
    assert path.read_bytes() == b"not a zip any more"


def _respelled(name: str, data: bytes) -> bytes:
    """workbook.xml, its relationships and custom.xml as another writer might spell them: an `x:`
    prefix, single quotes, character references, a comment, CDATA, CRLF line ends."""
    if name == "xl/workbook.xml":
        text = data.decode()
        text = text.replace('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                            'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')
        text = re.sub(r"<(/?)(?=[a-zA-Z])(?!r:)", r"<\1x:", text.split("?>", 1)[1])
        text = text.replace("<x:definedNames>", "<x:definedNames>\r\n<!-- <x:definedName name='xf_ghost'>"
                                                "'自评表'!$A$1</x:definedName> -->\r\n")
        text = re.sub(r'name="(xf_goal)">([^<]*)<', r"name='\1'><![CDATA[\2]]><", text)
        text = re.sub(r'name="(xf_department)">\'', lambda m: f'name="{m.group(1)}">&apos;', text)
        return ('<?xml version="1.0" encoding="UTF-8"?>\r\n' + text).encode()
    if name == "xl/_rels/workbook.xml.rels":
        return re.sub(rb'Target="worksheets/([^"]*)"', rb"Target='/xl/worksheets/\1'", data)
    if name == "docProps/custom.xml":
        return data.replace(b"<vt:lpwstr>yulin-2021</vt:lpwstr>", b"\n  <vt:lpwstr>&#121;ulin-2021</vt:lpwstr>")
    return data


def test_xml_parts_read_the_same_however_spelled(clean, tmp_path):
    path = rewrite(clean, tmp_path / "另一种写法.xlsx", _respelled)
    assert b"x:definedName" in read.sniff(path).read("xl/workbook.xml")
    _same(read.read_workbook(path), read.read_workbook(clean))


def test_xml_parts_in_utf16(clean, tmp_path):
    """(calamine reads workbook.xml only in UTF-8: the parts only we read)"""
    def utf16(name, data):
        if name not in ("docProps/custom.xml", "docProps/app.xml"):
            return data
        return "\ufeff".encode("utf-16-le") + data.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"') \
            .encode("utf-16-le")

    _same(read.read_workbook(rewrite(clean, tmp_path / "utf16.xlsx", utf16)), read.read_workbook(clean))


def test_xml_parts_with_a_utf8_byte_order_mark(clean, tmp_path):
    def bom(name, data):
        return b"\xef\xbb\xbf" + data if name in ("docProps/custom.xml", "docProps/app.xml") else data

    _same(read.read_workbook(rewrite(clean, tmp_path / "bom.xlsx", bom)), read.read_workbook(clean))


@pytest.mark.parametrize("part", ["xl/workbook.xml", "docProps/custom.xml", "docProps/app.xml",
                                  "xl/_rels/workbook.xml.rels"])
def test_a_part_that_is_not_well_formed_is_refused(clean, tmp_path, part):
    path = rewrite(clean, tmp_path / "坏.xlsx", lambda n, d: d.replace(b"</", b"<</", 1) if n == part else d)
    with pytest.raises(read.ReadError) as exc:
        read.read_workbook(path)
    assert exc.value.code == "XF002" and part in str(exc.value) and "不是有效的 XML" in str(exc.value)


def test_a_recurring_part_is_checked_once_and_a_refused_one_every_time(clean, tmp_path, monkeypatch):
    """The workbook relationships and app.xml recur across a batch: expat checks a part's bytes once.
    A refused part is refused again the next time: nothing of it is remembered."""
    checked: list[str] = []
    checked_text = read._checked_text
    monkeypatch.setattr(read, "_checked_text", lambda name, data: checked.append(name) or checked_text(name, data))
    monkeypatch.setattr(read, "_SEEN_PARTS", {})
    _same(read.read_workbook(clean), read.read_workbook(clean))
    assert [checked.count(n) for n in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "docProps/app.xml")] == [2, 1, 1]
    bad = rewrite(clean, tmp_path / "坏.xlsx", lambda n, d: d.replace(b"</", b"<</", 1) if n == "docProps/app.xml" else d)
    for _ in range(2):
        with pytest.raises(read.ReadError, match="docProps/app.xml"):
            read.read_workbook(bad)


@pytest.mark.parametrize("text", [
    "", "<sheet/>", "<sheets><sheet name='a' r:id='rId1'/><x:sheet name=\"b\" sheetId=\"2\"/></sheets>",
    "<sheet name='<sheet'/><sheet/>", "sheet<sheet>t<a.b-c:sheet\t/>", "<<sheet/><sheet x='>'>sheet</sheet>",
    "<a:b:sheet/><sheetx/><sheet", "<sheet name='sheet'>text<sheet/>",
])
def test_tags_are_found_as_findall_finds_them(text):
    assert read._findall_tags(read._SHEET, text, "sheet") == read._SHEET.findall(text)


def _sheet(*cells: bytes, prefix: str = "") -> bytes:
    p = f"{prefix}:" if prefix else ""
    ns = f' xmlns{":" + prefix if prefix else ""}="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    body = b"".join(c.replace(b"<c ", f"<{p}c ".encode()).replace(b"</c>", f"</{p}c>".encode()) for c in cells)
    return (f'<?xml version="1.0"?><{p}worksheet{ns}><{p}sheetData><{p}row r="1">'.encode() + body
            + f"</{p}row></{p}sheetData></{p}worksheet>".encode())


@pytest.mark.parametrize("cells, extent", [
    ((cell_xml("A1", 1), cell_xml("ZZ999", 2)), read._SMALL),               # proved small without a per-cell loop
    ((cell_xml("A1", 1), cell_xml("C1000", 2)), (1000, 3, "C1000")),         # four digits: every ref is looked at
    ((cell_xml("A1", 1), cell_xml("AAA1", 2)), (1, 703, "AAA1")),
    ((b'<c r="A1"/>', b'<c r="XFD1048576" s="1"/>'), (0, 0, "A1")),          # over the limit but empty: precise
    ((cell_xml("A1", 1), b"<c><v>2</v></c>"), (1, 2, "B1")),                 # a cell without a ref: precise
    ((b'<c s="0" r="A1"><v>1</v></c>',), (1, 1, "A1")),                      # ref not first: precise
])
def test_sheet_extent(cells, extent):
    assert read._sheet_extent(_sheet(*cells)) == extent


@pytest.mark.parametrize("cells, extent", [
    ((cell_xml("A1", 1), cell_xml("Z99999", 2)), read._NARROW),             # one C-speed scan: within Z99999
    ((cell_xml("A1", 1), cell_xml("AA1000", 2)), (1000, 27, "AA1000")),     # two letters: every ref looked at
    ((cell_xml("A1", 1), cell_xml("B100000", 2)), (100000, 2, "B100000")),  # six digits: every ref looked at
    ((cell_xml("C1200", 1), b'<c r="A1" r="Z999999"><v>2</v></c>'), (999999, 26, "Z999999")),  # a second r
])
def test_sheet_extent_of_a_long_narrow_sheet_where_its_bound_is_allowed(cells, extent):
    """A project list: one letter and up to five digits bound it at Z99999 where that many cells are
    allowed; the bound is never used where it would refuse (the returned workbooks' limit)."""
    assert read._sheet_extent(_sheet(*cells), limit=40_000_000) == extent
    assert read._sheet_extent(_sheet(cell_xml("A1", 1), cell_xml("Z99999", 2))) == (99999, 26, "Z99999")


def test_sheet_extent_of_prefixed_cells():
    assert read._sheet_extent(_sheet(cell_xml("A1", 1), cell_xml("XFD1048576", 2), prefix="x")) == \
           (1048576, 16384, "XFD1048576")


# ---------------------------------------------------------------- the metadata sheet, read without calamine

def _calamine_meta(path: Path) -> dict[str, str]:
    return read._read_meta(read.open_calamine(path), "_xlform")


def _meta_variant(clean: Path, tmp_path: Path, fn) -> Path:
    return rewrite(clean, tmp_path / "元数据.xlsx", lambda n, d: fn(d) if n == META_SHEET_XML else d)


def _assert_meta_from_xml(path: Path, monkeypatch) -> None:
    """The metadata is read without calamine parsing the hidden sheet, and is what calamine reads."""
    calls = []
    monkeypatch.setattr(read, "_read_meta", lambda *a: calls.append(a) or {})
    meta = read.read_workbook(path).meta
    assert not calls and meta["project_code"] == CLEAN_CODE
    monkeypatch.undo()
    assert meta == _calamine_meta(path)


def test_metadata_read_from_the_xml_is_what_calamine_reads(clean, monkeypatch):
    _assert_meta_from_xml(clean, monkeypatch)


# a text of mixed fonts as LibreOffice Calc saves it: runs with their font properties
_CALC_RUNS = (b'<r><rPr><sz val="11"/><color rgb="FF000000"/><rFont val="Calibri"/><family val="2"/>'
              b'<charset val="1"/></rPr><t xml:space="preserve">{a}</t></r><r><rPr><b val="true"/><sz val="11"/>'
              b'<rFont val="\xe5\xae\x8b\xe4\xbd\x93"/></rPr><t xml:space="preserve">{b}</t></r>')
_OTHER_SHAPES = {   # how -> a shared string's new <si> content, from its text split in two
    "rich": lambda a, b: b"<r><t>" + a + b"</t></r><r><t>" + b + b"</t></r>",
    "calc-runs": lambda a, b: _CALC_RUNS.replace(b"{a}", a).replace(b"{b}", b),
    "spaces": lambda a, b: b'<t xml:space="preserve"> ' + a + b + b"</t>",
    # each of these fails a reader that joins every <t> (what calamine reads is in the comment):
    # a phonetic run, left out
    "phonetic": lambda a, b: b"<r><t>" + a + b"</t></r><r><t>" + b + b'</t></r><rPh sb="0" eb="1"><t>x</t></rPh>',
    # a run's edge spaces, trimmed where xml:space="preserve" is not given: a + b
    "trimmed-run": lambda a, b: b"<r><t>" + a + b"  </t></r><r><t>" + b + b"</t></r>",
    # a quote left open: the parser reads the rest of the tag, the first <t> included, as its value: a + b
    "open-quote": lambda a, b: b'<r><rPr><b v="/></rPr><t>X</t></r><r><rPr><b v="/></rPr><t>' + a + b + b"</t></r>",
    # an _xHHHH_ escape spelt with an entity: decoded after the entity, to "1"
    "escaped-entity": lambda a, b: b"<t>" + a + b"&#95;x0031_" + b + b"</t>",
    "escape-split": lambda a, b: b"<r><t>" + a + b"_x00</t></r><r><t>41_" + b + b"</t></r>",   # not decoded
}


@pytest.mark.parametrize("how", ["inline", "number", "styled", "order", "cdata", "comment", *_OTHER_SHAPES])
def test_metadata_of_any_other_shape_is_read_by_calamine(clean, tmp_path, how):
    """A cell of A:B that is not a plain shared string, or rows out of order: calamine reads it, and
    the result is the same as calamine's whatever path was taken. Cell tags inside CDATA (text to
    calamine) and shared strings inside a comment are not taken for cells and strings."""
    def fn(d: bytes) -> bytes:
        a2 = re.search(rb'<c r="B2"[^>]*>.*?</c>', d).group(0)
        if how == "cdata":   # a row whose only cell is text that spells A:B cells overriding A2's key
            key = re.search(rb'<c r="A2" t="s"><v>(\d+)</v></c>', d).group(1)
            fake = b'<c r="A999" t="s"><v>' + key + b'</v></c><c r="B999" t="s"><v>0</v></c>'
            return d.replace(b"</sheetData>", b'<row r="999"><c r="D999" t="inlineStr"><is><t><![CDATA['
                             + fake + b"]]></t></is></c></row></sheetData>")
        if how == "inline":
            return d.replace(a2, cell_xml("B2", "手改的值"))
        if how == "number":
            return d.replace(a2, cell_xml("B2", 2021))
        if how == "styled":
            return d.replace(a2, a2.replace(b'r="B2"', b'r="B2" s="0"'))
        if how == "order":
            rows = re.findall(rb'<row r="[23]".*?</row>', d)
            return d.replace(rows[0] + rows[1], rows[1] + rows[0])
        return d

    def shared(d: bytes) -> bytes:
        index = int(re.search(rb'<c r="B2"[^>]*><v>(\d+)</v>', members(clean)[META_SHEET_XML]).group(1))
        items = d.split(b"<si>")
        text = re.search(rb"<t[^>]*>(.*?)</t>", items[index + 1]).group(1)
        if how in _OTHER_SHAPES:
            new = _OTHER_SHAPES[how](text[:2], text[2:])
            items[index + 1] = new + b"</si>" + items[index + 1].split(b"</si>", 1)[1]
        if how == "comment":   # every index one off, were the comment's <si> counted
            items[1] = b"<t>x</t></si><!-- <si><t>y</t></si> -->" + items[1].split(b"</si>", 1)[1]
        return b"<si>".join(items)

    path = rewrite(clean, tmp_path / f"{how}.xlsx",
                   lambda n, d: fn(d) if n == META_SHEET_XML else shared(d) if n == "xl/sharedStrings.xml" else d)
    assert read.read_workbook(path).meta == _calamine_meta(path)


@pytest.mark.parametrize("how", ["rich", "calc-runs"])
def test_metadata_in_runs_of_plain_text_is_read_from_the_xml(clean, tmp_path, monkeypatch, how):
    """Calc saves the title (shared with the metadata sheet) as runs of two fonts: that is read
    without calamine parsing the whole hidden sheet (twice the time of the rest of the read), and
    gives what calamine gives."""
    code = CLEAN_CODE.encode()

    def shared(d: bytes) -> bytes:
        return d.replace(b"<t>" + code + b"</t>", _OTHER_SHAPES[how](code[:5], code[5:]), 1)

    path = rewrite(clean, tmp_path / f"{how}.xlsx", lambda n, d: shared(d) if n == "xl/sharedStrings.xml" else d)
    assert _OTHER_SHAPES[how](code[:5], code[5:]) in members(path)["xl/sharedStrings.xml"]
    _assert_meta_from_xml(path, monkeypatch)


@pytest.mark.parametrize("item", [b"<t>a&#1114112;b</t></si>", b"<t>a&#99999999999999999999;b</t></si>",
                                  b"<r><t>a&#x110000;</t></r><r><t>b</t></r></si>", b"<t>\xff</t></si>"])
def test_a_shared_string_past_unicode_is_left_to_calamine(item):
    """A character reference no character has, or bytes that are not UTF-8: None (calamine decides),
    not an exception out of the reader."""
    assert read._shared_text([item], 0) is None


@pytest.mark.parametrize("odd", [b'<c r="B2" t="inlineStr"><is><t>x</t></is></c>', b'<c r="A2" t="n"><v>1</v></c>',
                                 b'<c r="B2" t="s"><v>1</v><f>A1</f></c>'])
def test_metadata_xml_with_an_a_b_cell_of_another_shape_is_left_to_calamine(odd):
    shared = b"<sst><si><t>key</t></si><si><t>value</t></si></sst>"
    header = b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    assert read._meta_from_xml(_sheet().replace(b"<sheetData>", b"<sheetData>" + header), shared) == {}
    assert read._meta_from_xml(_sheet(odd).replace(b"<sheetData>", b"<sheetData>" + header), shared) is None


def test_metadata_read_though_the_rest_of_its_sheet_is_damaged(clean, tmp_path):
    """Pinned: damage outside A:B of the hidden sheet (which calamine refuses whole) no longer hides
    the identity written in A:B; it is read, and checked against the properties, as usual."""
    path = _meta_variant(clean, tmp_path, lambda d: re.sub(rb'<c r="D2".*?</c>', b'<c r="D2" t="inlineStr"><is><t>'
                                                          b"a&b</t></is></c>", d, count=1))
    assert _calamine_meta(path) == {}
    assert read.read_workbook(path).meta == read.read_workbook(clean).meta

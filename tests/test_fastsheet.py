"""xlform.fastsheet writes the same bytes as stock XlsxWriter: every zip member of every workbook
xlform writes (both forms, an annotated copy with awkward values) and of a workbook that uses the
corners the fast paths hand back to the stock code. This test is what makes fastsheet.SUPPORTED true."""
from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from xlsxwriter.workbook import Workbook

import xlform.workbook as workbook
from xlform import fastsheet
from xlform.annotate import annotate
from xlform.findings import finding
from xlform.score import compute
from tests.support.samples import NATIONAL_CODE, SEED_CODE, layout_for

FIXED = dt.datetime(2024, 5, 6, 7, 8, 9)
AWKWARD = ["A & B <c> \"d\" 'e'", "  leading", "trailing  ", "\x01control\x1f", "_x0041_ literal", "tab\there",
           "line\nbreak", "=SUM(A1:A2)", "http://example.com/x", "全角　空格　", "\ufffe", "",
           dt.date(2021, 3, 4), dt.datetime(2021, 12, 31, 23, 59, 59), True, False, 0, -12.5, 1e-7,
           123456789.123456789, 10 ** 15, 0.1 + 0.2, "长" * 17000]


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def fixed_created(cls, rows_class=None):
    class Fixed(cls):
        string_rows_class = rows_class

        def set_properties(self, properties):
            return super().set_properties({**properties, "created": FIXED})
    return Fixed


def assert_same(write, tmp_path: Path, monkeypatch) -> None:
    """`write(path)` with stock XlsxWriter and with fastsheet: the same members, byte for byte.
    The metadata sheet is xlform's own writer (StringRows) in both: here on the stock Worksheet.
    The fast writer writes twice: the second time from its per-process caches (styles.xml)."""
    out = {}
    for name, cls, rows in (("stock", Workbook, fastsheet.StringRowsSheet),
                            ("fast", fastsheet.FastWorkbook, fastsheet.FastStringRowsSheet),
                            ("fast-again", fastsheet.FastWorkbook, fastsheet.FastStringRowsSheet)):
        monkeypatch.setattr(workbook, "workbook_class", lambda cls=cls, rows=rows: fixed_created(cls, rows))
        write(tmp_path / f"{name}.xlsx")
        out[name] = members(tmp_path / f"{name}.xlsx")
    for fast in ("fast", "fast-again"):
        assert list(out["stock"]) == list(out[fast])
        for member, data in out["stock"].items():
            assert out[fast][member] == data, (fast, member)


def test_version_is_covered():
    assert fastsheet.supported(), f"xlsxwriter {xlsxwriter.__version__}: run this test and extend SUPPORTED"
    assert fastsheet.workbook_class() is fastsheet.FastWorkbook
    assert not fastsheet.supported("4.0.0") and not fastsheet.supported("3.3.10")


@pytest.mark.parametrize("code", [SEED_CODE, NATIONAL_CODE])
def test_generated_workbook_is_byte_identical(code, tmp_path, monkeypatch):
    layout = layout_for(code)
    meta = {"form_id": layout.spec.id, "project_code": code, "fingerprint": "sha256:0", "year": "2021",
            "title": "标题 & <测试>"}
    assert_same(lambda p: workbook.write_workbook(layout, p, meta, password="pw"), tmp_path, monkeypatch)


@pytest.mark.parametrize("code", [SEED_CODE, NATIONAL_CODE])
def test_annotated_workbook_is_byte_identical(code, tmp_path, monkeypatch):
    layout = layout_for(code)
    inputs = [name for name, f in layout.fields.items() if f.input is not None]
    values = {name: AWKWARD[i % len(AWKWARD)] for i, name in enumerate(inputs)}
    findings = [finding("XF401", f"说明 & <{i}> \"引号\"  ", field=f"xf_{name}", cell="B7")
                for i, name in enumerate(inputs[:12])]
    findings.append(finding("XF601", "\x02 控制字符 _x0009_", field="xf_" + inputs[0]))
    score = compute(layout, {n: v for n, v in values.items() if isinstance(v, (int, float)) and v is not True})

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2024, 1, 2, 3, 4, 5)

    monkeypatch.setattr("xlform.annotate.dt.datetime", Frozen)
    assert_same(lambda p: annotate(layout, p, project_code=code, fingerprint="sha256:0", values=values,
                                   score=score, findings=findings, source=Path("报送 & 1.xlsx"), self_score=88.5),
                tmp_path, monkeypatch)


def test_corners_handed_back_to_the_stock_code(tmp_path, monkeypatch):
    """Formats by row and by column, cells without a format, comments on empty rows, formulas,
    booleans, rich strings, URLs, rows far apart and columns far right (spans per 16 rows)."""
    def write(path: Path) -> None:
        wb = workbook.workbook_class()(str(path), {"in_memory": True})
        wb.set_properties({"title": "t"})
        bold, red = wb.add_format({"bold": True}), wb.add_format({"font_color": "red"})
        ws = wb.add_worksheet("数据")
        ws.set_column(2, 3, 12, red)
        ws.set_row(5, 30, bold)
        ws.set_row(40, 20)
        ws.set_row(41, None, None, {"hidden": True})
        ws.set_row(42, 15, None, {"level": 1, "collapsed": True})
        ws.set_row(43, None, red, {"level": 2})
        for r in range(0, 70, 3):
            for c in (0, 2, 3, 7, 120, 700, 16383):
                v = AWKWARD[(r + c) % len(AWKWARD)]
                ws.write(r, c, v)
        ws.write_string(5, 1, "row format")
        ws.write_number(5, 3, 3.5)
        ws.write_blank(6, 4, None, bold)
        ws.write_formula(8, 1, "=1+2", None, 3)
        ws.write_boolean(9, 1, True, bold)
        ws.write_rich_string(10, 1, "a ", bold, "bold", " c")
        ws.write_url(11, 1, "https://example.com", None, "link & <x>")
        ws.write_comment(50, 9, "comment on an empty row & <x>")
        ws.write_comment(0, 0, "on a cell")
        ws.merge_range(60, 1, 61, 4, "merged", bold)
        ws.merge_range(65, 3, 64, 1, "reversed, no format")
        ws.merge_range(66, 1, 66, 2, 12.5, red)
        ws.merge_range(67, 1, 68, 1, None, bold)
        with pytest.raises(Exception, match="overlaps"):
            ws.merge_range(61, 4, 62, 5, "overlap", bold)
        ws.write_row(62, 0, ["a", "", " b", "c\x03", 7])
        ws.data_validation(2, 2, 4, 4, {"validate": "integer", "criteria": "between", "minimum": 1, "maximum": 9,
                                        "multi_range": "C3:E5 G7"})
        other = wb.add_worksheet("empty")
        other.write_comment(3, 3, "only a comment")
        wb.add_worksheet("blank").very_hidden()
        chart = wb.add_chart({"type": "line"})
        chart.add_series({"values": "=数据!$A$1:$A$9"})
        wb.add_chartsheet("图").set_chart(chart)
        wb.define_name("plain_name", "=数据!$A$1")
        wb.define_name("数据!local_name", "=数据!$B$1")
        wb.define_name("名称_中文", "='数据'!$C$1")
        wb.define_name("odd_name", "=数据!$A$1&\"<x>\"")
        ws.print_area(0, 0, 10, 5)
        wb.close()

    assert_same(write, tmp_path, monkeypatch)


def test_put_cells_writes_what_the_per_cell_calls_write(tmp_path, monkeypatch):
    """FastWorksheet.put_cells against merge_range + write_* per cell (the stock path of
    workbook._put_cells): merged ranges reaching past every other cell, merges and blanks without
    a format, a reversed range, every awkward value, NaN and infinities, a cell far away."""
    def write(path: Path) -> None:
        wb = workbook.workbook_class()(str(path), {"in_memory": True, "nan_inf_to_errors": True,
                                                   "strings_to_formulas": False, "strings_to_urls": False})
        f1, f2 = wb.add_format({"border": 1}), wb.add_format({"bold": True, "num_format": "0.00"})
        ws = wb.add_worksheet("s")
        cells = [(r + 1, c, r + 1, c, v, (f1, f2, None)[(r + c) % 3])
                 for r, v in enumerate([*AWKWARD, float("nan"), float("inf"), None]) for c in (1, 2)]
        cells += [(0, 1, 0, 9, "title", f2), (40, 0, 44, 0, None, None), (45, 3, 46, 12, 7.5, f1),
                  (47, 5, 47, 3, "reversed", f1), (48, 20, 48, 20, None, None), (900, 2, 900, 2, "far", None)]
        workbook._put_cells(ws, cells)
        # a reversed range whose first corner is past the last row: stock writes nothing of it
        workbook._put_cells(wb.add_worksheet("t"), [(0, 0, 0, 0, "a", None), (1048576, 0, 5, 1, "off", f1)])
        wb.close()

    assert_same(write, tmp_path, monkeypatch)
    wb = fastsheet.FastWorkbook(str(tmp_path / "o.xlsx"), {"in_memory": True})
    ws = wb.add_worksheet("s")
    with pytest.raises(Exception, match="overlaps"):
        workbook._put_cells(ws, [(0, 0, 1, 1, "a", None), (1, 1, 2, 2, "b", None)])


def test_styles_are_reused_only_for_the_same_formats(tmp_path, monkeypatch):
    """styles.xml comes from the per-process cache for a workbook with the same formats, and is
    written afresh when a format was changed after add_format (the same properties, then bold)."""
    def write(path: Path, change: bool) -> None:
        wb = workbook.workbook_class()(str(path), {"in_memory": True})
        fmt = wb.add_format({"font_name": "宋体", "border": 1, "num_format": "0.00%"})
        if change:
            fmt.set_bold()
        ws = wb.add_worksheet("a")
        ws.write_number(0, 0, 0.5, fmt)
        wb.close()
        return wb

    for change in (False, True, False):
        assert_same(lambda p: write(p, change), tmp_path, monkeypatch)
    fast = fastsheet.FastWorkbook(str(tmp_path / "k.xlsx"), {"in_memory": True})
    fast.add_worksheet("a").write_number(0, 0, 1, fast.add_format({"font_name": "宋体", "border": 1,
                                                                   "num_format": "0.00%"}))
    fast.close()
    assert fast.styles_key in fastsheet._STYLES           # the unchanged workbook was cached ...
    changed = write(tmp_path / "c.xlsx", True)
    assert changed.styles_key is None                     # ... the changed one never is


def test_a_file_backed_workbook_never_takes_styles_from_the_cache(tmp_path, monkeypatch):
    """The cache serves in-memory workbooks only; a file-backed one with the same formats, made
    after an in-memory one, numbers its fonts and fills itself (its styles.xml was empty once)."""
    def write(path: Path, in_memory: bool) -> None:
        wb = workbook.workbook_class()(str(path), {"in_memory": in_memory})
        fmt = wb.add_format({"bold": True, "border": 1, "bg_color": "#F2F2F2", "num_format": "0.000"})
        wb.add_worksheet("a").write_number(0, 0, 1.5, fmt)
        wb.close()

    for in_memory in (True, False, False):
        assert_same(lambda p: write(p, in_memory), tmp_path, monkeypatch)


@pytest.mark.parametrize("code", [SEED_CODE, NATIONAL_CODE])
def test_metadata_sheet_holds_what_the_cell_api_wrote(code, tmp_path, monkeypatch):
    """StringRows (inline strings straight from rows) against the stock cell API (write_row,
    write_string, shared strings): every cell the same to calamine, to openpyxl, and to the
    readers of the catalogue and the metadata."""
    import openpyxl
    from python_calamine import CalamineWorkbook

    from xlform.read import read_field_catalogue, read_workbook

    layout = layout_for(code)
    meta = {"form_id": layout.spec.id, "project_code": code, "fingerprint": "sha256:0", "year": "2021",
            "title": "  标题 & <测试> \x01", "empty": ""}
    paths = {}
    for name, cls in (("cell-api", Workbook), ("rows", fastsheet.FastWorkbook)):
        monkeypatch.setattr(workbook, "workbook_class", lambda cls=cls: cls)
        paths[name] = tmp_path / f"{name}.xlsx"
        workbook.write_workbook(layout, paths[name], meta)
    seen = {}
    for name, path in paths.items():
        cal = CalamineWorkbook.from_path(str(path))
        ws = openpyxl.load_workbook(path)[workbook.META_SHEET]
        seen[name] = (cal.get_sheet_by_name(workbook.META_SHEET).to_python(skip_empty_area=False),
                      [[c.value for c in row] for row in ws.iter_rows()], ws.sheet_state, ws.protection.sheet,
                      read_field_catalogue(cal), read_workbook(path).meta)
    assert seen["rows"] == seen["cell-api"]
    assert len(seen["rows"][4]) == len(layout.fields) and seen["rows"][2] == "veryHidden"


def test_string_rows_read_back_as_the_cell_api_writes_them(tmp_path):
    """Awkward texts (escapes, control characters, _xHHHH_, white space at either end, a "|")
    in inline and shared columns: read back by calamine and openpyxl like write_string's cells."""
    import openpyxl
    from python_calamine import CalamineWorkbook

    texts = [t for t in AWKWARD if isinstance(t, str) and t != "\ufffe"] + ["a|", " |b", "x_x00", "41_", "中文"]
    rows = [[None, *texts[i:i + 4]] for i in range(0, len(texts), 4)] + [[None], ["last", None, ""]]
    path = tmp_path / "rows.xlsx"
    wb = fastsheet.FastWorkbook(str(path), {"in_memory": True})
    wb.add_worksheet("rows", worksheet_class=fastsheet.FastStringRowsSheet).put_string_rows(rows, inline_from=2)
    api = wb.add_worksheet("api")
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is not None:
                api.write_string(r, c, v)
    wb.close()
    cal = CalamineWorkbook.from_path(str(path))
    assert cal.get_sheet_by_name("rows").to_python() == cal.get_sheet_by_name("api").to_python()
    book = openpyxl.load_workbook(path)
    values = {name: [[c.value for c in row] for row in book[name].iter_rows()] for name in ("rows", "api")}
    assert values["rows"] == values["api"]

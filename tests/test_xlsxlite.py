"""xlform.xlsxlite writes the same bytes as stock XlsxWriter: every zip member of every kind of
workbook xlform makes (both forms, blank templates, annotated copies with awkward values, a
synthetic city's projects), from cold and from warm caches. This test is what makes
xlsxlite.SUPPORTED true; the fallback through XlsxWriter's public API is checked cell for cell."""
from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from xlsxwriter.worksheet import Worksheet as StockWorksheet

import xlform.workbook as workbook
from xlform import xlsxlite
from xlform.annotate import annotate
from xlform.findings import finding
from xlform.score import compute
from tests.support.samples import NATIONAL_CODE, SEED_CODE, layout_for

ROOT = Path(__file__).resolve().parent.parent
FIXED = dt.datetime(2024, 5, 6, 7, 8, 9)
AWKWARD = ["A & B <c> \"d\" 'e'", "  leading", "trailing  ", "\x01control\x1f", "_x0041_ literal", "tab\there",
           "line\nbreak", "=SUM(A1:A2)", "http://example.com/x", "全角　空格　", "\ufffe", "",
           dt.date(2021, 3, 4), dt.datetime(2021, 12, 31, 23, 59, 59), True, False, 0, -12.5, 1e-7,
           123456789.123456789, 10 ** 15, 0.1 + 0.2, "长" * 17000, "超" * 40000,
           "😀" * 20000, "长" * 32000 + "😀" * 1000,      # over Excel's limit in UTF-16 units, not in characters
           dt.date(1900, 1, 1), dt.date(1900, 2, 28), dt.datetime(1900, 1, 1, 12)]


class StockRowsSheet(StockWorksheet):
    """The metadata sheet on stock XlsxWriter: xlsxlite's rows, through the stock sheet writer."""
    _rows: str | None = None

    def put_string_rows(self, rows, inline_from=0):
        self._rows, (r1, c1, r2, c2) = xlsxlite.string_rows_xml(rows, inline_from,
                                                                self.str_table._get_shared_string_index)
        self._check_dimensions(r1, c1)
        self._check_dimensions(r2, c2)

    def _write_sheet_data(self):
        if self._rows is None:
            return super()._write_sheet_data()
        self.fh.write(f"<sheetData>{self._rows}</sheetData>")


class FixedCreated:
    """A workbook class with a fixed creation time (core.xml), whether or not properties are set."""
    def __init__(self, filename, options=None):
        super().__init__(filename, options)
        self.set_properties({})

    def set_properties(self, properties):
        return super().set_properties({**properties, "created": FIXED})


class Stock(FixedCreated, xlsxwriter.Workbook):
    def add_worksheet(self, name=None, worksheet_class=None):
        return super().add_worksheet(name, worksheet_class=StockRowsSheet)


class Lite(FixedCreated, xlsxlite.Workbook):
    pass


class Frozen(dt.datetime):
    """The annotation time in an annotated copy's metadata, the same in both writes."""
    @classmethod
    def now(cls, tz=None):
        return cls(2024, 1, 2, 3, 4, 5)


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def assert_same(write, tmp_path: Path, monkeypatch) -> None:
    """`write(path)` through stock XlsxWriter and through xlsxlite, twice (the second time from its
    per-process caches): the same members in the same order, byte for byte."""
    out = {}
    for name, cls in (("stock", Stock), ("lite", Lite), ("lite-again", Lite)):
        monkeypatch.setattr(workbook, "workbook_class", lambda cls=cls: cls)
        write(tmp_path / f"{name}.xlsx")
        out[name] = members(tmp_path / f"{name}.xlsx")
    for lite in ("lite", "lite-again"):
        assert list(out["stock"]) == list(out[lite])
        for member, data in out["stock"].items():
            assert out[lite][member] == data, (lite, member)


def test_version_is_covered():
    assert xlsxlite.supported(), f"xlsxwriter {xlsxwriter.__version__}: run this test and extend SUPPORTED"
    assert workbook.workbook_class() is xlsxlite.Workbook
    assert not xlsxlite.supported("4.0.0") and not xlsxlite.supported("3.3.10")


@pytest.mark.parametrize("code", [SEED_CODE, NATIONAL_CODE, None])
def test_generated_workbook_is_byte_identical(code, tmp_path, monkeypatch):
    layout = layout_for(code) if code else _blank_layout()
    meta = {"form_id": layout.spec.id, "project_code": code or "", "fingerprint": "sha256:0", "year": "2021",
            "title": "标题 & <测试>"}
    assert_same(lambda p: workbook.write_workbook(layout, p, meta, password="pw"), tmp_path, monkeypatch)


def _blank_layout():
    from xlform.layout import build_layout
    from xlform.spec import available_forms
    return build_layout(available_forms()["national-2020"], None, 2021)


@pytest.mark.parametrize("code", [SEED_CODE, NATIONAL_CODE])
def test_annotated_workbook_is_byte_identical(code, tmp_path, monkeypatch):
    layout = layout_for(code)
    inputs = [name for name, f in layout.fields.items() if f.input is not None]
    values = {name: AWKWARD[i % len(AWKWARD)] for i, name in enumerate(inputs)}
    findings = [finding("XF401", f"说明 & <{i}> \"引号\"  ", field=f"xf_{name}", cell="B7")
                for i, name in enumerate(inputs[:12])]
    findings.append(finding("XF601", "\x02 控制字符 _x0009_", field="xf_" + inputs[0]))
    score = compute(layout, {n: v for n, v in values.items() if isinstance(v, (int, float)) and v is not True})

    monkeypatch.setattr("xlform.annotate.dt.datetime", Frozen)
    assert_same(lambda p: annotate(layout, p, project_code=code, fingerprint="sha256:0", values=values,
                                   score=score, findings=findings, source=Path("报送 & 1.xlsx"), self_score=88.5),
                tmp_path, monkeypatch)


def test_a_citys_projects_generate_and_annotate_byte_identical(tmp_path, monkeypatch):
    """The benchmark's synthetic projects (15–40 indicators, both forms, long texts): generated,
    filled with returned values as departments write them, then checked with annotated copies."""
    sys.path.insert(0, str(ROOT / "bench"))
    import synth
    from xlform.generate import generate, workbook_meta
    from xlform.layout import build_layout
    from xlform.manifest import Manifest
    from xlform.manifest_index import load_for_batch
    from xlform.projects import Project
    from xlform.spec import available_forms
    from xlform.validate import check_file

    monkeypatch.setattr("xlform.annotate.dt.datetime", Frozen)
    projects = synth.make_projects(24)
    listing = synth.write_project_list(projects, tmp_path / "projects.xlsx")
    forms = available_forms()
    out = {}
    for name, cls in (("stock", Stock), ("lite", Lite)):
        monkeypatch.setattr(workbook, "workbook_class", lambda cls=cls: cls)
        out[name] = generate(listing, tmp_path / name, jobs=1)
    stock_files = sorted(p for p in (tmp_path / "stock").rglob("*.xlsx"))
    assert len(stock_files) == 24
    for f in stock_files:
        assert members(f) == members(tmp_path / "lite" / f.relative_to(tmp_path / "stock")), f.name

    manifest_path = out["lite"].manifest_path
    returned = tmp_path / "returned"
    returned.mkdir()
    for e in Manifest.load(manifest_path).entries:
        layout = build_layout(forms[e.form_id], Project.from_dict(e.project), e.year)
        workbook.write_workbook(layout, returned / Path(e.file).name,
                                workbook_meta(layout, e.project_code, e.fingerprint),
                                extras=workbook.Extras(values=synth.returned_values(e, layout)))
    manifest = load_for_batch(str(manifest_path))
    commented = 0
    for f in sorted(returned.glob("*.xlsx")):
        copies = {}
        for name, cls in (("stock", Stock), ("lite", Lite)):
            monkeypatch.setattr(workbook, "workbook_class", lambda cls=cls: cls)
            copies[name] = tmp_path / f"{name}-{f.name}"
            check_file(f, manifest, forms, copies[name])
        got = members(copies["lite"])
        assert got == members(copies["stock"]), f.name
        commented += "xl/comments1.xml" in got
    assert commented > 5        # most have findings, so comments and marks were compared too


def test_put_cells_writes_what_the_per_cell_calls_write(tmp_path, monkeypatch):
    """xlsxlite's put_cells against stock merge_range + write_* per cell (workbook._put_cells'
    fallback): merged ranges reaching past every other cell, merges and blanks without a format,
    a reversed range, every awkward value, cells far away and out of bounds."""
    def write(path: Path) -> None:
        wb = workbook.workbook_class()(io.BytesIO(), {"in_memory": True, "strings_to_formulas": False,
                                                      "strings_to_urls": False})
        f1, f2 = wb.add_format({"border": 1}), wb.add_format({"bold": True, "num_format": "0.00"})
        ws = wb.add_worksheet("s")
        cells = [(r + 1, c, r + 1, c, v, (f1, f2, None)[(r + c) % 3])
                 for r, v in enumerate([*AWKWARD, None]) for c in (1, 2)]
        cells += [(0, 1, 0, 9, "title", f2), (40, 0, 44, 0, None, None), (45, 3, 46, 12, 7.5, f1),
                  (47, 5, 47, 3, "reversed", f1), (48, 20, 48, 20, None, None), (900, 2, 900, 2, "far", None)]
        workbook._put_cells(ws, cells)
        # a reversed range whose first corner is past the last row: nothing of it is written
        workbook._put_cells(wb.add_worksheet("t"), [(0, 0, 0, 0, "a", None), (1048576, 0, 5, 1, "off", f1)])
        wb.close()
        path.write_bytes(wb.filename.getvalue())

    assert_same(write, tmp_path, monkeypatch)


def test_another_sheet_activated_and_an_over_long_footer_as_stock(tmp_path, monkeypatch):
    """The first sheet is selected only when it is the active one; a footer over Excel's 255 characters
    is left out with a warning, as stock does (form specs refuse one: test_spec)."""
    def write(path: Path) -> None:
        wb = workbook.workbook_class()(io.BytesIO(), {"in_memory": True})
        first, second = wb.add_worksheet("一"), wb.add_worksheet("二")
        first.write_string(0, 0, "a")
        second.write_string(0, 0, "b")
        second.set_footer("&P" * 200)
        second.activate()
        wb.close()
        path.write_bytes(wb.filename.getvalue())

    with pytest.warns(UserWarning):
        assert_same(write, tmp_path, monkeypatch)


def test_what_stock_refuses_is_refused(tmp_path):
    with pytest.raises(ValueError, match="strings_to_formulas"):     # text is never a formula here
        xlsxlite.Workbook(io.BytesIO(), {"strings_to_formulas": True})
    wb = xlsxlite.Workbook(io.BytesIO())
    ws = wb.add_worksheet("s")
    with pytest.raises(ValueError, match="overlaps"):
        workbook._put_cells(ws, [(0, 0, 1, 1, "a", None), (1, 1, 2, 2, "b", None)])
    with pytest.warns(UserWarning):
        assert ws.merge_range(3, 3, 3, 3, "single", None) == -1
    with pytest.raises(TypeError):
        ws.write_number(0, 0, float("nan"))
    assert ws.write_string(2000000, 0, "off the sheet") == -1
    with pytest.raises(AttributeError):          # not part of what xlform writes: no silent difference
        ws.write_formula(0, 0, "=1+1")


def test_styles_come_from_the_cache_only_for_the_same_formats_in_the_same_order(tmp_path, monkeypatch):
    """styles.xml depends on the formats in the order cells first use them: the same formats in
    another order, or one more, give another styles.xml, each the same as stock's."""
    def write(path: Path, order: list[int], comment: bool) -> None:
        wb = workbook.workbook_class()(io.BytesIO(), {"in_memory": True, "strings_to_urls": False})
        fmts = [wb.add_format(p) for p in ({"font_name": "宋体", "border": 1, "num_format": "0.00%"},
                                           {"bold": True, "bg_color": "#F2F2F2"}, {"font_size": 9, "italic": True})]
        ws = wb.add_worksheet("a")
        for row, i in enumerate(order):
            ws.write_number(row, 0, 0.5, fmts[i])
        if comment:
            ws.write_comment(0, 0, "批注")
        wb.close()
        path.write_bytes(wb.filename.getvalue())

    for order, comment in (([0, 1], False), ([1, 0], False), ([0, 1, 2], False), ([0, 1], True), ([0, 1], False)):
        assert_same(lambda p: write(p, order, comment), tmp_path, monkeypatch)


@pytest.mark.parametrize("code", [SEED_CODE, NATIONAL_CODE])
def test_metadata_sheet_holds_what_the_cell_api_wrote(code, tmp_path, monkeypatch):
    """The rows written straight from text (inline strings) against XlsxWriter's public cell API
    (the fallback for other versions: write_row, write_string, shared strings): every cell the same
    to calamine, to openpyxl, and to the readers of the catalogue and the metadata."""
    import openpyxl
    from python_calamine import CalamineWorkbook

    from xlform.read import read_field_catalogue, read_workbook

    layout = layout_for(code)
    meta = {"form_id": layout.spec.id, "project_code": code, "fingerprint": "sha256:0", "year": "2021",
            "title": "  标题 & <测试> \x01", "empty": ""}
    paths = {}
    for name, cls in (("cell-api", xlsxwriter.Workbook), ("rows", xlsxlite.Workbook)):
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

    texts = [t for t in AWKWARD if isinstance(t, str) and t != "\ufffe" and len(t) < 1000] + ["a|", " |b", "x_x00", "41_", "中文"]
    rows = [[None, *texts[i:i + 4]] for i in range(0, len(texts), 4)] + [[None], ["last", None, ""]]
    path = tmp_path / "rows.xlsx"
    wb = xlsxlite.Workbook(io.BytesIO())
    wb.add_worksheet("rows").put_string_rows(rows, inline_from=2)
    api = wb.add_worksheet("api")
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is not None:
                api.write_string(r, c, v)
    wb.close()
    path.write_bytes(wb.filename.getvalue())
    cal = CalamineWorkbook.from_path(str(path))
    assert cal.get_sheet_by_name("rows").to_python() == cal.get_sheet_by_name("api").to_python()
    book = openpyxl.load_workbook(path)
    values = {name: [[c.value for c in row] for row in book[name].iter_rows()] for name in ("rows", "api")}
    assert values["rows"] == values["api"]


def test_text_that_looks_like_rich_text_stays_text(tmp_path):
    """Stock XlsxWriter writes a string "<r>…</r>" into sharedStrings.xml unescaped, as if it were
    its own rich-text XML; a department typing that would get a broken annotated copy. Here it is
    escaped like any text and reads back as typed."""
    from python_calamine import CalamineWorkbook

    wb = xlsxlite.Workbook(io.BytesIO())
    wb.add_worksheet("s").write_string(0, 0, "<r>x & y</r>")
    wb.close()
    path = tmp_path / "r.xlsx"
    path.write_bytes(wb.filename.getvalue())
    assert b"<si><t>&lt;r&gt;x &amp; y&lt;/r&gt;</t></si>" in members(path)["xl/sharedStrings.xml"]
    assert CalamineWorkbook.from_path(str(path)).get_sheet_by_name("s").to_python() == [["<r>x & y</r>"]]

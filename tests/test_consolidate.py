"""consolidate: each sheet's rows against the inputs (hand-checked numbers), the missing / duplicate /
failed states, files that are not ours, text that looks like a formula, determinism, mixed forms, the
Excel tables, totals and charts, the CLI's summary and exit status.

The committed sample set (sample_workbooks/returned/) is consolidated against a manifest generated
afresh from sample_workbooks/projects.xlsx (generation is deterministic, so the fingerprints match).
"""
from __future__ import annotations

import functools
import json
import shutil
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from xlform.cli import main
from xlform.consolidate import CHARTS, DETAIL, ISSUES, STATS, SUMMARY, consolidate
from xlform.generate import generate
from xlform.manifest import Manifest
from xlform.validate import collect_files, iter_batch, run_batch, validate

REPO = Path(__file__).resolve().parent.parent
RETURNED = REPO / "sample_workbooks" / "returned"
TOOLS = REPO / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

SEED = "450900210340100004007"          # Yulin seed, returned twice
CLEAN = "450900210340100005001"         # Yulin, returned clean
NATIONAL = "450900220370200002002"      # national form, returned clean
NATIONAL_FULL = "450900220370100001001"  # national form, with errors
NOT_OURS = "玉林市教育局_说明材料.xlsx"


# ---------------------------------------------------------------- fixtures and readers

@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("issued")
    return generate(REPO / "sample_workbooks" / "projects.xlsx", out, jobs=1).manifest_path


@pytest.fixture(scope="module")
def full(manifest, tmp_path_factory):
    """The whole sample folder consolidated once through the CLI (two worker processes)."""
    out = tmp_path_factory.mktemp("full") / "汇总.xlsx"
    res = CliRunner().invoke(main, ["consolidate", str(RETURNED), "--manifest", str(manifest), "--out", str(out),
                                    "--jobs", "2"])
    assert res.exit_code == 0, res.output
    return out, res.output


@functools.lru_cache(maxsize=8)
def _rows(path: Path, mtime: float, sheet: str, data_only: bool) -> list[tuple]:
    return list(openpyxl.load_workbook(path, data_only=data_only)[sheet].iter_rows(values_only=True))


def sheet_rows(path: Path, sheet: str, data_only: bool = False) -> list[dict]:
    """A sheet's rows as dicts under its header row (empty rows and everything after them dropped)."""
    rows = _rows(path, path.stat().st_mtime_ns, sheet, data_only)
    head = rows[0]
    out = []
    for r in rows[1:]:
        if all(v is None for v in r):
            break
        out.append(dict(zip(head, r)))
    return out


def summary(path: Path, data_only: bool = False) -> tuple[list[dict], dict]:
    rows = sheet_rows(path, SUMMARY, data_only)
    assert rows[-1]["序号"] == "合计"
    return rows[:-1], rows[-1]


def by_code(rows: list[dict]) -> dict[str, dict]:
    return {r["项目编码"]: r for r in rows}


def all_values(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb}


def fill_workbook(manifest: Path, code: str, values: dict, out: Path) -> Path:
    from fill import fill_workbook as fill   # tools/fill.py
    return fill(Manifest.load(manifest).by_code()[code], values, out)


# ---------------------------------------------------------------- 汇总表

def test_summary_has_every_manifest_project_sorted(full, manifest):
    out, _ = full
    rows, _ = summary(out)
    entries = Manifest.load(manifest).entries
    assert [r["项目编码"] for r in rows] == [e.project_code for e in sorted(
        entries, key=lambda e: (e.department, e.project_code))]
    assert [r["序号"] for r in rows] == list(range(1, len(entries) + 1))
    assert all(r["主管部门"] and r["项目名称"] and r["项目实施单位"] for r in rows)


def test_summary_seed_row_hand_checked(full):
    """forms.md §1: the seed scores 83.19 by the rules (良), the department said 88.33; sent twice."""
    seed = by_code(summary(full[0])[0])[SEED]
    assert seed["主管部门"] == "玉林市人力资源和社会保障局"
    assert seed["项目实施单位"] == "玉林市社会保险事业管理中心"
    assert seed["项目名称"] == "社会保险业务改革专项业务经费"
    assert seed["表单"] == "yulin-2021"
    assert seed["资金总额"] == pytest.approx(91.56)
    assert seed["执行率"] == pytest.approx(1.0)
    assert seed["全年执行数"] == pytest.approx(91.56)
    assert seed["自评得分"] == pytest.approx(88.33)
    assert round(seed["复核得分"], 2) == 83.19
    assert seed["得分差异"] == pytest.approx(83.1868 - 88.33, abs=1e-3)
    assert seed["等级"] == "良"
    assert seed["状态"] == "重复提交"
    assert seed["错误"] >= 1                       # XF105 at least
    # both files are equally good: the first by file name is used (原 U+539F < 重 U+91CD)
    assert "原表数据" in seed["采用文件"]


def test_summary_clean_rows_hand_checked(full):
    rows = by_code(summary(full[0])[0])
    clean = rows[CLEAN]    # every indicator met: 90 + 10 × 98.5% = 99.85, as the department said
    assert (clean["状态"], clean["错误"], clean["等级"]) == ("已提交", 0, "优")
    assert clean["复核得分"] == pytest.approx(99.85)
    assert clean["自评得分"] == pytest.approx(99.85)
    assert clean["资金总额"] == pytest.approx(120.0)
    assert clean["全年执行数"] == pytest.approx(118.2)
    nat = rows[NATIONAL]   # national: 181.6 of 186 executed -> 10 × 0.97634 + 90 = 99.76
    assert nat["表单"] == "national-2020"
    assert nat["资金总额"] == pytest.approx(186.0)
    assert nat["全年执行数"] == pytest.approx(181.6)
    assert nat["执行率"] == pytest.approx(181.6 / 186)
    assert nat["复核得分"] == pytest.approx(90 + 10 * 181.6 / 186, abs=1e-3)
    assert nat["状态"] == "已提交"
    assert rows[NATIONAL_FULL]["状态"] == "校验未通过" and rows[NATIONAL_FULL]["错误"] > 0


def test_file_not_ours_is_not_a_row_but_is_counted(full):
    out, output = full
    rows, _ = summary(out)
    assert len(rows) == 7
    assert all(NOT_OURS != r["采用文件"] for r in rows)
    assert f"{NOT_OURS}：" in output
    assert "文件 9 个：8 个对应到项目，1 个未计入汇总表" in output
    notes = [r[0] for r in openpyxl.load_workbook(out)[SUMMARY].iter_rows(values_only=True)
             if isinstance(r[0], str) and r[0].startswith(("说明", "共读取"))]
    assert any("1 个不是本批次下发的工作簿" in n for n in notes)


def test_totals_row_sums(full):
    out, _ = full
    rows, total = summary(out)
    assert total["资金总额"] == "=SUBTOTAL(109,G2:G8)"             # the 7 project rows, as the filter shows them
    assert total["错误"] == "=SUBTOTAL(109,N2:N8)"
    assert total["复核得分"] == "=SUBTOTAL(101,K2:K8)"
    assert total["项目编码"] == "=SUBTOTAL(103,D2:D8)"
    # the cached values (what Excel shows before it recalculates, and what a reader without Excel sees)
    _, cached = summary(out, data_only=True)
    assert cached["资金总额"] == pytest.approx(sum(r["资金总额"] for r in rows))
    assert cached["资金总额"] == pytest.approx(4858.81)       # 91.56 + 120 + 2350 + 186 + 1268.45 + 486 + 356.8
    assert cached["全年执行数"] == pytest.approx(sum(r["全年执行数"] or 0 for r in rows))
    assert cached["错误"] == sum(r["错误"] for r in rows)
    assert cached["警告"] == sum(r["警告"] for r in rows)
    assert cached["项目编码"] == 7
    scores = [r["复核得分"] for r in rows if r["复核得分"] is not None]
    assert cached["复核得分"] == pytest.approx(sum(scores) / len(scores))
    executed = [r for r in rows if r["全年执行数"] is not None]
    assert cached["执行率"] == pytest.approx(sum(r["全年执行数"] for r in executed)
                                           / sum(r["资金总额"] for r in executed))


def test_summary_filter_bands_and_print_area(full):
    """汇总表 is streamed, so it is not an Excel table: it has what the table gave users instead."""
    ws = openpyxl.load_workbook(full[0])[SUMMARY]
    assert not ws.tables
    assert ws.auto_filter.ref == "A1:Q8"                             # header + 7 projects, not the totals
    rules = {str(r.sqref): [x.formula for x in r.rules] for r in ws.conditional_formatting}
    assert rules["A2:Q8"] == [["MOD(ROW(),2)=0"]]                    # banded rows
    assert "P2:P8" in rules                                          # 状态 in colour
    assert ws.print_area == "'汇总表'!$A$1:$P$14"                     # 采用文件 is for the screen only
    totals = list(ws[9])
    assert totals[0].value == "合计" and totals[0].font.b and totals[3].number_format == '"共 "0" 个项目"'


def test_tables_frozen_headers_print_setup(full):
    wb = openpyxl.load_workbook(full[0])
    ws = wb[SUMMARY]
    assert [c.value for c in ws[1]][:5] == ["序号", "主管部门", "项目实施单位", "项目编码", "项目名称"]
    assert wb[STATS].tables["部门汇总"].ref == "A1:O6"                # header + 4 departments + totals
    for name in (SUMMARY, STATS, DETAIL, ISSUES):
        s = wb[name]
        assert s.freeze_panes is not None and s.freeze_panes[1:] == "2"   # the header row stays
        assert s.page_setup.orientation == "landscape" and s.page_setup.paperSize == 9
        assert s.sheet_properties.pageSetUpPr.fitToPage                 # one page wide (1 is the default)
        assert s.page_setup.fitToWidth in (None, 1) and s.page_setup.fitToHeight == 0
        assert "1:$1" in (s.print_title_rows or "")
    assert wb[DETAIL].auto_filter.ref and wb[ISSUES].auto_filter.ref
    # widths show the text: the 项目编码 column holds 21 digits, the department column wraps at most twice
    assert ws.column_dimensions["D"].width >= 21


def test_charts_exist(full):
    out, _ = full
    with zipfile.ZipFile(out) as z:
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
        assert len(charts) == 3
        xml = [z.read(n).decode("utf-8") for n in charts]
    assert 'barDir val="col"' in xml[0] and "等级" in xml[0]             # grade distribution
    assert 'barDir val="bar"' in xml[1] and "平均复核得分" in xml[1]      # average score by department
    assert 'grouping val="stacked"' in xml[2]                            # grades per department
    assert f"{STATS}" in xml[1]
    assert len(openpyxl.load_workbook(out)[CHARTS]._charts) == 3


# ---------------------------------------------------------------- 部门统计

def test_department_stats(full):
    out, _ = full
    rows, _ = summary(out)
    stats = {r["主管部门"]: r for r in sheet_rows(out, STATS)}
    total = stats.pop("合计")
    assert sorted(stats) == sorted({r["主管部门"] for r in rows})
    for dept, s in stats.items():
        mine = [r for r in rows if r["主管部门"] == dept]
        assert s["项目数"] == len(mine)
        assert s["已提交"] == sum(r["状态"] != "未提交" for r in mine)
        assert s["未提交"] == sum(r["状态"] == "未提交" for r in mine)
        assert s["资金总额"] == pytest.approx(sum(r["资金总额"] for r in mine))
        for g in "优良中差":
            assert s[g] == sum(r["等级"] == g for r in mine)
        scores = [r["复核得分"] for r in mine if r["复核得分"] is not None]
        assert s["平均复核得分"] == pytest.approx(sum(scores) / len(scores))
    hr = stats["玉林市人力资源和社会保障局"]          # the seed (83.1868) and the clean project (99.85)
    assert (hr["重复提交"], hr["优"], hr["良"]) == (1, 1, 1)
    assert hr["平均复核得分"] == pytest.approx((83.1868 + 99.85) / 2)
    assert total["项目数"] == "=SUBTOTAL(109,[项目数])"
    # the department totals' averages are over all projects: 汇总表's cells
    assert total["平均复核得分"] == """=IFERROR(AVERAGE('汇总表'!$K$2:$K$8),"")"""
    cached = {r["主管部门"]: r for r in sheet_rows(out, STATS, data_only=True)}["合计"]
    assert cached["项目数"] == 7 and cached["未提交"] == 0 and cached["重复提交"] == 1


# ---------------------------------------------------------------- 指标明细

def test_indicator_details_of_the_seed(full):
    out, _ = full
    rows = [r for r in sheet_rows(out, DETAIL) if r["项目编码"] == SEED]
    assert [r["序号"] for r in rows] == list(range(1, 27))              # one file's 26 rows, not both files'
    software = rows[2]
    assert (software["指标内容"], software["指标值"], software["实际完成值"]) == ("采购正版软件", "35套", "20套")
    assert software["完成率"] == pytest.approx(20 / 35)
    assert software["分值"] == pytest.approx(20 / 6)
    assert software["得分"] == pytest.approx(20 / 6 * 20 / 35)
    assert (software["原因说明"], software["状态"]) == ("电脑硬件跟不上", "未达成")
    office = rows[19]                                                    # 30万元 → 39万元: a cost overrun
    assert (office["二级指标"], office["实际完成值"], office["状态"]) == ("产出成本", "39万元", "超支")
    assert office["得分"] == pytest.approx(10 / 6 * 30 / 39)
    assert rows[21]["状态"] == "不适用" and rows[21]["分值"] is None     # 经济效益: 无
    assert rows[25]["状态"] == "未填"                                    # 满意度 left blank
    assert rows[5]["状态"] == "需复核"                                   # not comparable
    # the indicator scores and the execution score (10 × 100%) add up to the 复核得分
    assert 10 + sum(r["得分"] or 0 for r in rows) == pytest.approx(83.1868, abs=1e-3)


def test_details_mix_forms_in_one_sheet(full):
    out, _ = full
    rows = sheet_rows(out, DETAIL)
    codes = {r["项目编码"] for r in rows}
    assert {SEED, CLEAN, NATIONAL, NATIONAL_FULL} <= codes
    level1 = {r["一级指标"] for r in rows}
    assert {"产出指标", "效果指标"} <= level1          # Yulin
    assert {"效益指标", "满意度指标"} <= level1        # national
    assert {r["二级指标"] for r in rows} >= {"产出数量", "数量指标"}
    keys = [(r["主管部门"], r["项目编码"], r["序号"]) for r in rows]
    assert keys == sorted(keys)


# ---------------------------------------------------------------- 问题清单

def test_issues_list_every_finding_of_every_file(full, manifest):
    out, _ = full
    rows = sheet_rows(out, ISSUES)
    run = validate([RETURNED], manifest, jobs=1)          # the same files, validated without annotating
    expected = sorted((Path(f.path).name, x.code, x.severity) for f in run.files for x in f.findings)
    zh = {"error": "错误", "warning": "警告", "info": "提示"}
    assert sorted((r["文件"], r["代码"], r["级别"]) for r in rows) == sorted(
        (n, c, zh[s]) for n, c, s in expected)
    dup = [r for r in rows if r["代码"] == "XF105"]
    assert len(dup) == 2 and all(r["项目编码"] == SEED for r in dup)
    assert {r["说明"].split("汇总表采用：")[1] for r in dup} == {
        "本文件", next(r["文件"] for r in dup if r["说明"].endswith("本文件"))}
    other = [r for r in rows if r["文件"] == NOT_OURS]
    assert len(other) == 1 and other[0]["级别"] == "错误" and other[0]["主管部门"] is None
    assert rows[-1]["文件"] == NOT_OURS                     # files that are not ours come last
    # sheet and cell of a content finding
    short = next(r for r in rows if r["项目编码"] == SEED and r["代码"] == "XF302")
    assert (short["工作表"], short["单元格"]) == ("自评表", "F43")


# ---------------------------------------------------------------- missing, unknown, annotated

def test_missing_projects_from_a_subset(manifest, tmp_path):
    folder = tmp_path / "回收"
    folder.mkdir()
    for code in (CLEAN, NATIONAL):
        src = next(RETURNED.glob(f"*_{code}_*.xlsx"))
        shutil.copy(src, folder / src.name)
    seed = next(RETURNED.glob(f"*_{SEED}_*原表数据*.xlsx"))
    shutil.copy(seed, folder / seed.name)
    r = consolidate([folder], manifest, tmp_path / "汇总.xlsx", jobs=1)
    assert (r.projects, r.submitted, r.missing, r.duplicates) == (7, 3, 4, 0)
    rows = by_code(summary(tmp_path / "汇总.xlsx")[0])
    assert rows[CLEAN]["状态"] == rows[NATIONAL]["状态"] == "已提交"
    assert rows[SEED]["状态"] == "校验未通过" and round(rows[SEED]["复核得分"], 2) == 83.19   # blank 满意度 etc.
    missing = [r for c, r in rows.items() if c not in (CLEAN, NATIONAL, SEED)]
    assert len(missing) == 4
    for m in missing:
        assert m["状态"] == "未提交"
        assert m["复核得分"] is None and m["自评得分"] is None and m["错误"] is None and m["采用文件"] is None
        assert m["资金总额"] > 0                           # the issued budget, from the manifest
    edu = {s["主管部门"]: s for s in sheet_rows(tmp_path / "汇总.xlsx", STATS)}["玉林市教育局"]
    assert (edu["项目数"], edu["已提交"], edu["未提交"], edu["平均复核得分"]) == (2, 0, 2, None)
    assert {r["项目编码"] for r in sheet_rows(tmp_path / "汇总.xlsx", DETAIL)} == {CLEAN, NATIONAL, SEED}


def test_file_of_a_project_not_in_the_manifest(manifest, tmp_path):
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"] = [e for e in data["files"] if e["project_code"] != NATIONAL]
    smaller = tmp_path / "manifest.json"
    smaller.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    r = consolidate([next(RETURNED.glob(f"*_{NATIONAL}_*.xlsx")), next(RETURNED.glob(f"*_{CLEAN}_*.xlsx"))],
                    smaller, tmp_path / "汇总.xlsx", jobs=1)
    assert r.projects == 6 and r.matched_files == 1 and len(r.rejected) == 1
    assert NATIONAL not in by_code(summary(tmp_path / "汇总.xlsx")[0])
    issue = next(x for x in sheet_rows(tmp_path / "汇总.xlsx", ISSUES) if x["代码"] == "XF102")
    assert issue["项目编码"] == NATIONAL and issue["主管部门"] is None
    assert NATIONAL not in {x["项目编码"] for x in sheet_rows(tmp_path / "汇总.xlsx", DETAIL)}


def test_annotated_workbooks_consolidate_like_returned_ones(manifest, tmp_path):
    files = [next(RETURNED.glob(f"*_{c}_*.xlsx")) for c in (CLEAN, NATIONAL)]
    validate(files, manifest, tmp_path / "批注", jobs=1)
    consolidate([tmp_path / "批注"], manifest, tmp_path / "a.xlsx", jobs=1)
    consolidate(files, manifest, tmp_path / "r.xlsx", jobs=1)
    a, r = by_code(summary(tmp_path / "a.xlsx")[0]), by_code(summary(tmp_path / "r.xlsx")[0])
    for code in (CLEAN, NATIONAL):
        assert a[code]["复核得分"] == pytest.approx(r[code]["复核得分"])
        assert a[code]["状态"] == "已提交"


# ---------------------------------------------------------------- text stays text

def test_formula_looking_text_is_written_as_text(manifest, tmp_path):
    texts = ["=1+1", "+86 10", "-3", "@x", "=HYPERLINK(\"http://x\",\"y\")"]
    values = {f"ind_{n:03d}_reason": t for n, t in enumerate(texts, start=1)}
    values["ind_006_actual"] = "=SUM(A1:A3)"
    folder = tmp_path / "回收"
    fill_workbook(manifest, CLEAN, values, folder / "公式.xlsx")
    out = tmp_path / "汇总.xlsx"
    consolidate([folder], manifest, out, jobs=1)
    ws = openpyxl.load_workbook(out)[DETAIL]
    head = [c.value for c in ws[1]]
    reason, actual = head.index("原因说明") + 1, head.index("实际完成值") + 1
    for n, text in enumerate(texts, start=2):
        cell = ws.cell(n, reason)
        assert cell.value == text and cell.data_type == "s"
    assert ws.cell(7, actual).value == "=SUM(A1:A3)" and ws.cell(7, actual).data_type == "s"
    with zipfile.ZipFile(out) as z:                       # no formula anywhere outside the two totals rows
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet") and name not in ("xl/worksheets/sheet1.xml",
                                                                       "xl/worksheets/sheet2.xml"):
                assert "<f>" not in z.read(name).decode("utf-8"), name


# ---------------------------------------------------------------- determinism, streaming, batches

def test_two_runs_give_the_same_workbook(full, manifest, tmp_path):
    again = tmp_path / "again.xlsx"
    consolidate([RETURNED], manifest, again, jobs=1)
    assert all_values(again) == all_values(full[0])
    assert again.read_bytes() == full[0].read_bytes()     # fixed dates: byte-for-byte, serial or parallel


def test_long_sheets_are_streamed(full):
    """汇总表, 指标明细 and 问题清单 are written in constant_memory mode (inline strings); 部门统计 is not."""
    with zipfile.ZipFile(full[0]) as z:
        names = {n: z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/sheet")}
    for sheet in ("sheet1", "sheet4", "sheet5"):
        assert 't="inlineStr"' in names[f"xl/worksheets/{sheet}.xml"]
    assert 't="inlineStr"' not in names["xl/worksheets/sheet2.xml"]
    assert openpyxl.load_workbook(full[0]).sheetnames == [SUMMARY, STATS, CHARTS, DETAIL, ISSUES]


def _deflated_by(path: Path, compressobj) -> None:
    """Every member of the zip at `path` is intact and is what `compressobj()` makes of it."""
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        for info in z.infolist():
            data = z.read(info.filename)
            packed = compressobj()
            assert len(packed.compress(data) + packed.flush()) == info.compress_size, info.filename


def test_parts_are_deflated_fast_and_xlsxwriter_is_left_as_it_was(full):
    """The summary's parts are deflated by fastzlib (ISA-L's level 1 where installed, the serial tail:
    指标明细 is ~22 MB of XML at 1,000 files), through a ZipFile XlsxWriter is given only while it
    stores this workbook."""
    import xlsxwriter.workbook
    from xlform import fastzlib
    _deflated_by(full[0], fastzlib.compressobj)
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile


def test_without_isal_the_parts_are_deflated_by_zlib_at_level_1(manifest, tmp_path, monkeypatch):
    import zlib

    from xlform import fastzlib
    monkeypatch.setattr(fastzlib, "_isal", None)
    out = tmp_path / "汇总.xlsx"
    consolidate([RETURNED], manifest, out, jobs=1)
    _deflated_by(out, lambda: zlib.compressobj(1, zlib.DEFLATED, -15))


def test_row_xml_is_what_xlsxwriter_writes(tmp_path):
    """_Sheet writes a streamed sheet's rows as XML itself (XlsxWriter's per-cell path was most of the
    time): the same rows through XlsxWriter's write_* and set_row give the same sheet, byte for byte."""
    import xlsxwriter
    from xlform.consolidate import _Col, _Formats, _Sheet, _StreamingWorksheet, _clean
    cols = [_Col("文字", "wrap", 8), _Col("编码", "text", 12), _Col("数", "amount", 10), _Col("率", "pct", 8),
            _Col("序", "int", 5, 4), _Col("状态", "center", 6)]
    rows = [["很长的一段需要换行显示的文字内容，超过列宽", "450900210340100004007", 1234.5, 0.98765, 3, "达成"],
            [" 前后有空格 ", "a&b<c>d", -0.5, None, 12, "=1+1"],
            ["第一行\n第二行\r\n第三行", "_x0041_ 字面", float("nan"), 1e-12, 0, ""],
            ["x\x01y\ufffe", "+86 10", 0, 12345678901234.5, -7, "@x"], [None, None, None, None, None, None],
            [1234567.891, True, "文字", "", 2.5, float("inf")]]
    sheets = {}
    for how in ("xml", "xlsxwriter"):
        path = tmp_path / f"{how}.xlsx"
        wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                             "strings_to_numbers": False})
        ws = wb.add_worksheet("s", worksheet_class=_StreamingWorksheet)
        sheet = _Sheet(ws, cols, _Formats(wb))
        for r in rows:
            sheet.measure(r)
        sheet.layout()
        sheet.header()
        sheet.streaming = how == "xml"                  # else cell by cell through XlsxWriter's write_*
        for i, r in enumerate(rows, start=1):
            sheet.put(i, r)
        ws.write_string(len(rows) + 2, 0, "说明", sheet.fmts.note)
        wb.close()
        with zipfile.ZipFile(path) as z:
            sheets[how] = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert sheets["xml"] == sheets["xlsxwriter"]
    assert 'ht="' in sheets["xml"] and "_x005F_x0041_" in sheets["xml"] and "_x000D_" in sheets["xml"]
    assert "a&amp;b&lt;c&gt;d" in sheets["xml"] and 'xml:space="preserve"' in sheets["xml"]
    assert _clean("x\x01y\ufffe") == "xy"


def test_widths_measured_by_extremes_and_caps_are_exact():
    """measure() skips columns at their cap and keeps only the extremes of 0.00-style columns; the
    widths are those of measuring every shown value."""
    import random
    from xlform.consolidate import _Col, _line_units, _Sheet, _shown
    cols = [_Col("金额", "amount", 30), _Col("率", "pct", 30), _Col("分", "score", 30), _Col("序", "int", 30),
            _Col("文字", "wrap", 12), _Col("编码", "text", 40)]
    rng = random.Random(7)
    rows = [[rng.uniform(-5e4, 5e6), rng.uniform(-0.5, 3), rng.choice([-0.004, 9.994, 9.996, 99.5, 0]),
             rng.randint(-3, 2_000_000), "字" * rng.randint(0, 9), rng.choice(["x" * rng.randint(1, 30), None])]
            for _ in range(300)] + [[None, "合计", "", None, None, None]]
    sheet = _Sheet(None, cols, None)           # measuring needs no worksheet
    for r in rows:
        sheet.measure(r)
    sheet.measure_extremes()
    brute = [max([0.0] + [max(_line_units(_shown(r[c], col.kind))) for r in rows if r[c] not in (None, "")])
             for c, col in enumerate(cols)]
    assert [min(m, col.cap) for m, col in zip(sheet.measured, cols)] == [min(b, col.cap) for b, col in
                                                                          zip(brute, cols)]


def test_iter_batch_yields_in_order_and_matches_run_batch(manifest):
    files = collect_files([RETURNED])[:4]
    serial = run_batch(files, manifest, [None] * len(files), jobs=1, templates=None, progress=None)
    parallel = list(iter_batch(files, manifest, jobs=2))
    assert [r.path for r in parallel] == [str(f) for f in files]
    assert [(r.project_code, r.score) for r in parallel] == [(r.project_code, r.score) for r in serial]


# ---------------------------------------------------------------- CLI

def test_cli_summary(full):
    _, output = full
    assert "项目 7 个：已提交 2，重复提交 1，校验未通过 4，未提交 0" in output
    assert "已写出：" in output and "问题清单" in output and "指标明细" in output


def test_cli_cannot_start(manifest, tmp_path):
    run = CliRunner().invoke
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cases = [
        ["consolidate", str(RETURNED), "--manifest", str(bad), "--out", str(tmp_path / "o.xlsx")],
        ["consolidate", str(RETURNED), "--manifest", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o.xlsx")],
        ["consolidate", str(empty), "--manifest", str(manifest), "--out", str(tmp_path / "o.xlsx")],
        ["consolidate", str(tmp_path / "missing"), "--manifest", str(manifest), "--out", str(tmp_path / "o.xlsx")],
        ["consolidate", str(RETURNED), "--manifest", str(manifest), "--out", str(blocker / "o.xlsx")],
        ["consolidate", str(RETURNED), "--manifest", str(manifest), "--out", str(tmp_path / "o.csv")],
    ]
    for args in cases:
        res = run(main, args)
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output
    assert not (tmp_path / "o.xlsx").exists()


def test_output_is_atomic_and_skips_itself(manifest, tmp_path):
    folder = tmp_path / "回收"
    folder.mkdir()
    src = next(RETURNED.glob(f"*_{CLEAN}_*.xlsx"))
    shutil.copy(src, folder / src.name)
    out = folder / "汇总.xlsx"              # inside the folder it reads: a second run must not read it
    first = consolidate([folder], manifest, out, jobs=1)
    second = consolidate([folder], manifest, out, jobs=1)
    assert first.files == second.files == 1 and not second.rejected
    assert sorted(p.name for p in folder.iterdir()) == sorted([src.name, "汇总.xlsx"])   # no temp files left
    (folder / "链接.xlsx").symlink_to(out)   # the output under another name is the output too
    third = consolidate([folder, out], manifest, out, jobs=1)
    assert third.files == 1 and not third.rejected


# ---------------------------------------------------------------- the manifest, streamed

@pytest.mark.parametrize("chunk", [13, 1 << 20])
def test_manifest_index_reads_what_manifest_load_reads(manifest, tmp_path, chunk):
    """Streamed in chunks of any size (cutting strings, numbers and CJK text), the index holds the same
    entries as Manifest.load, and answers check_file's questions the same way."""
    from xlform.manifest_index import INDEX_SUFFIX, ManifestIndex
    full = Manifest.load(manifest)
    seen = []
    index = ManifestIndex.build(manifest, tmp_path / f"m{INDEX_SUFFIX}", on_entry=seen.append, chunk=chunk)
    assert seen == full.entries
    assert list(index.entries) == full.entries
    assert index.created == full.created and index.year == full.year
    lookup = index.by_code()
    assert lookup.get(SEED) == full.by_code()[SEED] and SEED in lookup
    assert lookup.get("no-such-code") is None and "no-such-code" not in lookup
    index.close()


def test_manifest_index_key_order_and_errors(tmp_path):
    from xlform.errors import XlformError
    from xlform.manifest_index import ManifestIndex
    entry = {"file": "a.xlsx", "project_code": "123", "department": "部门", "project_name": "项目",
             "form_id": "yulin-2021", "form_version": "1", "year": 2021, "fingerprint": "x", "locked": {"A1": 12345}}
    good = tmp_path / "late-header.json"        # the header after the files, a number cut by a chunk boundary
    good.write_text(json.dumps({"files": [entry, {**entry, "project_code": "456"}], "year": 20212021,
                                "created": "2026-01-01T00:00:00", "manifest_version": 1}, ensure_ascii=False),
                    encoding="utf-8")
    index = ManifestIndex.build(good, tmp_path / "a.manifest.sqlite", chunk=3)
    assert index.year == 20212021 and index.by_code().get("456").locked == {"A1": 12345}
    index.close()
    for n, text in enumerate(['{"manifest_version": 2, "files": []}', '{"manifest_version": 1}',
                              '{"manifest_version": 1, "files": [1]}', '{"manifest_version": 1, "files": [',
                              '{"manifest_version": 1, "files": [{"project_code": "1"}]}', '']):
        bad = tmp_path / f"bad{n}.json"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(XlformError):
            ManifestIndex.build(bad, tmp_path / f"bad{n}.manifest.sqlite")
    with pytest.raises(XlformError):
        ManifestIndex.build(tmp_path / "missing.json", tmp_path / "missing.manifest.sqlite")


def test_manifest_read_while_the_workers_start_gives_the_same_workbook(manifest, tmp_path, monkeypatch):
    """With --jobs 2 the manifest is read by a child process while the workers check the first files.
    A code listed twice (the later entry counts) may have been looked up before its later entry came:
    the files are then checked again, and the workbook is the one --jobs 1 writes, byte for byte."""
    from xlform import consolidate as C
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"] = [{**data["files"][0], "project_name": "先列出的名称"}] + data["files"]
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    starts = []
    iter_batch = C.iter_batch
    monkeypatch.setattr(C, "iter_batch", lambda *a, **k: starts.append(1) or iter_batch(*a, **k))
    for m in (manifest, twice):
        starts.clear()
        one, two = tmp_path / f"{m.stem}-1.xlsx", tmp_path / f"{m.stem}-2.xlsx"
        consolidate([RETURNED], m, one, jobs=1)
        consolidate([RETURNED], m, two, jobs=2)
        assert one.read_bytes() == two.read_bytes()
        assert len(starts) == (3 if m is twice else 2)
    assert "先列出的名称" not in str(_rows(two, two.stat().st_mtime, SUMMARY, False))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_bad_manifest_is_reported_before_anything_else(tmp_path, jobs):
    """Whether the manifest is read first or beside the workers: a missing, broken or empty one is the
    error reported (exit 2, in Chinese), even when the files or the output are wrong too."""
    from xlform.errors import XlformError
    broken, empty = tmp_path / "broken.json", tmp_path / "empty.json"
    broken.write_text('{"manifest_version": 1, "files": [', encoding="utf-8")
    empty.write_text('{"manifest_version": 1, "created": "", "files": []}', encoding="utf-8")
    for m, message in ((broken, "无法读取或已损坏"), (tmp_path / "nope.json", "找不到 manifest 文件"),
                       (empty, "中没有项目")):
        for inputs, out in (([RETURNED], tmp_path / "o.xlsx"), ([tmp_path / "missing"], tmp_path / "o.xlsx"),
                            ([RETURNED], tmp_path / "o.csv")):
            with pytest.raises(XlformError, match=message):
                consolidate(inputs, m, out, jobs=jobs)
    assert not (tmp_path / "o.xlsx").exists()


# ---------------------------------------------------------------- rows made as the reports arrive

def test_rows_made_on_arrival_are_what_row_cells_makes():
    """_Rows.render (one pass, texts remembered) gives the widths measure() keeps and the cells and lines
    row_cells() makes, for every kind of value a column can get."""
    import io
    import marshal
    import xlsxwriter
    from xlform.consolidate import (_ROW, _Col, _Formats, _height_attr, _row_height, _Rows, _Sheet)
    cols = [_Col("文字", "wrap", 8), _Col("编码", "text", 12), _Col("数", "amount", 10), _Col("率", "pct", 8),
            _Col("序", "int", 5, 4), _Col("状态", "center", 6), _Col("说明", "wrap", 30)]
    rows = [("很长的一段需要换行显示的文字内容，超过列宽", "450900210340100004007", 1234.5, 0.98765, 3, "达成", "短"),
            (" 前后有空格 ", "a&b<c>d", -0.5, None, 12, "=1+1", "第一行\n第二行\r\n第三行" * 3),
            ("第一行\n第二行", "_x0041_ 字面", float("nan"), 1e-12, 0, "", None),
            ("x\x01y\ufffe", "+86 10", 0, 12345678901234.5, -7, "@x", "很长" * 40),
            (None, None, None, None, None, None, ""), (1234567.891, True, "文字", "", 2.5, float("inf"), 7),
            ("很长的一段需要换行显示的文字内容，超过列宽", "a&b<c>d", True, "文字", "3", 1, "很长" * 40)]
    rows.insert(0, ("长" * 17000, "x" * 20000, 1.0, 0.5, 1, "达成", "行\n" * 9000))    # past what a cell holds
    fmts = _Formats(xlsxwriter.Workbook(io.BytesIO()))
    made = _Rows(cols, fmts)
    widths, xml = made.render(rows)
    sheet = _Sheet(None, cols, fmts)
    sheet.layout_at_caps()
    for r in rows:
        sheet.measure(r)
    assert list(marshal.loads(widths)) == [sheet.measured, sheet.lowest, sheet.highest]
    expected = []
    for r in rows:
        cells, lines = sheet.row_cells(r, _ROW)
        expected.append(f'<row r="{_ROW}"{_height_attr(_row_height(lines))}>{cells}</row>')
    assert xml.split(b"\x01") == [e.encode("utf-8") for e in expected]
    assert made.narrower(sheet) == []
    # a file's rows share their first columns (the project's): made once, the same rows and widths
    for head in [(rows[0][0],), rows[1][:2], rows[3][:3], (None, "", 7.5)]:
        same = [(*head, *r[len(head):]) for r in rows]
        assert made.render([r[len(head):] for r in rows], head) == made.render(same)
    assert made.render([], ("不计入",)) == made.render([])


@pytest.mark.parametrize("how", ["none", "wider"])
def test_rows_made_again_when_the_layout_differs(manifest, tmp_path, monkeypatch, how):
    """Rows made on arrival are used only where they are exact: with none usable, or made for wider
    columns than the sheet gets (texts wrap differently), the workbook is the same, byte for byte."""
    from xlform import consolidate as C
    plain = tmp_path / "plain.xlsx"
    consolidate([RETURNED], manifest, plain, jobs=1)
    used = []
    put_made = C._Sheet.put_made
    monkeypatch.setattr(C._Sheet, "put_made", lambda self, *a: used.append(put_made(self, *a)) or used[-1])
    if how == "none":
        monkeypatch.setattr(C._Rows, "narrower", lambda self, sheet: None)
    else:
        layout_at_caps = C._Sheet.layout_at_caps

        def wider(self):
            layout_at_caps(self)
            self._cells = [(start, style, room + 9 if col.header in ("指标内容", "说明") else room)
                           for (start, style, room), col in zip(self._cells, self.cols)]
        monkeypatch.setattr(C._Sheet, "layout_at_caps", wider)
    again = tmp_path / "again.xlsx"
    consolidate([RETURNED], manifest, again, jobs=1)
    assert again.read_bytes() == plain.read_bytes()
    if how == "none":
        assert used == []
    else:                   # some files' rows fit the narrower columns, others were made again
        assert True in used and False in used

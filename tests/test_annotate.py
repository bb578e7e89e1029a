"""The annotated copy (退回修改): a fresh template with the returned values, the computed scores,
every finding shaded with a Chinese comment, a 校验结果 sheet — and it validates again to the same result.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter, range_boundaries

from xlform.annotate import RESULT_SHEET
from xlform.findings import SEVERITY_ZH
from xlform.validate import validate
from xlform.workbook import MARK_COLORS
from tests.support.samples import (CLEAN_CODE, NATIONAL_CODE, RETURNED, SEED_CODE, TAMPERED_CODE, has_cjk,
                                   issued, layout_for, returned, seed_returned)

SHEET = "自评表"
RANK = {"info": 0, "warning": 1, "error": 2}
INTEGRITY = {"XF201", "XF202", "XF203"}   # about the returned file itself: a fresh copy cannot carry them


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The sample folder validated with annotated copies."""
    out = tmp_path_factory.mktemp("annotated")
    result = validate([RETURNED], issued().manifest_path, out / "批注", jobs=1)
    return result, out / "批注"


def load(path) -> openpyxl.Workbook:
    """A workbook read once per module (never modified: tests that edit one load their own)."""
    return _load(str(Path(path).resolve()))


@functools.lru_cache(maxsize=None)
def _load(path: str) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path)


def report_for(result, path: Path):
    return next(f for f in result.files if Path(f.path).name == path.name)


def annotated(result, path: Path) -> Path:
    return Path(report_for(result, path).annotated)


def unlocked(ws) -> set[str]:
    covered = set()
    for rng in ws.merged_cells.ranges:
        c1, r1, c2, r2 = range_boundaries(str(rng))
        covered |= {f"{get_column_letter(c)}{r}" for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)
                    if (r, c) != (r1, c1)}
    return {c.coordinate for row in ws.iter_rows() for c in row
            if not c.protection.locked and c.coordinate not in covered}


def scored_files(result):
    return [f for f in result.files if f.score is not None]


# ---------------------------------------------------------------- the workbook

def test_every_scored_file_gets_an_annotated_copy(run):
    result, out = run
    for f in result.files:
        if f.score is None:
            assert f.annotated is None                     # the text file: nothing to annotate
        else:
            assert Path(f.annotated).parent == out and Path(f.annotated).name.endswith("-批注.xlsx")


@pytest.mark.parametrize("code", [SEED_CODE, NATIONAL_CODE, TAMPERED_CODE])
def test_protected_with_the_templates_unlocked_cells(run, code):
    result, _ = run
    wb = load(annotated(result, returned(code)))
    template = load(issued().files[code])
    sheet = template.sheetnames[0]
    assert wb[sheet].protection.sheet is True           # even when the returned file was unprotected
    assert unlocked(wb[sheet]) == unlocked(template[sheet])
    assert wb["_xlform"].sheet_state == "veryHidden"
    assert set(wb.defined_names) == set(template.defined_names)


def test_seed_score_cells(run):
    result, _ = run
    ws = load(annotated(result, seed_returned()))[SHEET]
    lay = layout_for(SEED_CODE)
    cell = {name: ws[f.ref].value for name, f in lay.fields.items()}
    assert ws["H18"].value == pytest.approx(20 / 6 * (4 + 20 / 35))     # 产出数量, merged per 二级指标
    assert cell["grp_1_2_score"] == pytest.approx(10 * 5 / 6)
    assert cell["grp_1_3_score"] == 10
    assert cell["grp_1_4_score"] == pytest.approx(10 * (5 + 30 / 39) / 6)
    assert [cell[f"grp_2_{j}_score"] for j in (1, 2, 3, 4)] == [0, 15, 0, 15]
    assert cell["grp_3_1_score"] == 0
    assert cell["execution_score"] == 10
    assert cell["total_score"] == pytest.approx(83.18681318681318)
    assert cell["grade"] == "良"
    assert ws[lay.fields["total_score"].ref].number_format == "0.00"     # shown to 2 decimals


def test_national_indicator_score_cells(run):
    result, _ = run
    r = report_for(result, returned(NATIONAL_CODE))
    ws = load(r.annotated)["绩效自评表"]
    lay = layout_for(NATIONAL_CODE)
    for row in r.indicators:
        value = ws[lay.fields[f"ind_{row['number']:03d}_score"].ref].value
        if row["status"] == "na":
            assert value is None                                        # 无 rows stay empty
        else:
            assert value == pytest.approx(row["score"])
    assert ws[lay.fields["total_score"].ref].value == pytest.approx(r.score["total"])
    assert ws[lay.fields["grade"].ref].value == r.score["grade"]
    assert ws[lay.fields["execution_rate"].ref].value == pytest.approx(r.score["execution_rate"])


def test_every_entered_value_is_kept_exactly(run):
    result, _ = run
    for f in scored_files(result):
        src = load(f.path)
        dst = load(f.annotated)
        lay = layout_for(f.project_code)
        for name, field in lay.fields.items():
            if field.input is None:
                continue
            a, b = src[lay.sheet][field.ref].value, dst[lay.sheet][field.ref].value
            if src[lay.sheet][field.ref].data_type == "f":
                a = None                      # a formula without a cached value (XF203): nothing to keep
            assert (a, type(a)) == (b, type(b)), (Path(f.path).name, name)


def test_every_finding_is_shaded_with_a_chinese_comment(run):
    result, _ = run
    checked = 0
    for f in scored_files(result):
        ws = load(f.annotated)[layout_for(f.project_code).sheet]
        worst: dict[str, str] = {}
        for fd in f.findings:
            if fd.cell and RANK[fd.severity] >= RANK.get(worst.get(fd.cell), -1):
                worst[fd.cell] = fd.severity
        for fd in f.findings:
            if fd.cell is None:
                assert fd.code == "XF202"     # sheet-level: listed on 校验结果 only
                continue
            c = ws[fd.cell]
            assert c.fill.fill_type == "solid"
            assert c.fill.fgColor.rgb.upper().endswith(MARK_COLORS[worst[fd.cell]].lstrip("#").upper()), fd
            assert c.comment is not None, fd
            assert f"[{fd.code} {SEVERITY_ZH[fd.severity]}] {fd.message}" in c.comment.text
            assert has_cjk(c.comment.text)
            checked += 1
    assert checked >= 30   # the sample set has 40 findings on field cells


def test_cells_without_findings_are_not_shaded(run):
    result, _ = run
    f = report_for(result, returned(CLEAN_CODE))
    assert f.findings == []
    ws = load(f.annotated)[SHEET]
    marks = {c.lstrip("#").upper() for c in MARK_COLORS.values()}
    for row in ws.iter_rows():
        for c in row:
            assert c.comment is None
            assert not (c.fill.fill_type == "solid" and c.fill.fgColor.rgb[-6:].upper() in marks), c.coordinate


# ---------------------------------------------------------------- the 校验结果 sheet

def result_rows(path: Path) -> list[tuple]:
    ws = load(path)[RESULT_SHEET]
    return [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]


def test_result_sheet_summary(run):
    result, _ = run
    r = report_for(result, seed_returned())
    rows = result_rows(Path(r.annotated))
    summary = {row[0]: row[3] for row in rows if row[0] and row[3] is not None}
    assert summary["项目编码"] == SEED_CODE
    assert summary["项目名称"] == "社会保险业务改革专项业务经费"
    assert summary["复核得分"] == pytest.approx(83.18681318681318)
    assert summary["评价等级"] == "良"
    assert summary["自评得分"] == 88.33
    assert summary["错误 / 警告 / 提示"] == "3 / 2 / 2"       # XF105, XF302, XF501 / XF304, XF601 / 2 × XF404
    assert summary["结论"].startswith("未通过")
    assert summary["报送文件"] == seed_returned().name
    groups = {row[0].strip("\u3000").split("（")[0]: row[5] for row in rows
              if row[0] and row[5] is not None and isinstance(row[5], (int, float)) and row[1] is None}
    assert groups["预算执行率"] == 10
    assert groups["产出数量"] == pytest.approx(20 / 6 * (4 + 20 / 35))
    assert groups["社会效益"] == 15


def test_result_sheet_lists_every_finding(run):
    result, _ = run
    for f in scored_files(result):
        rows = result_rows(Path(f.annotated))
        head = next(i for i, row in enumerate(rows) if row[:2] == ("序号", "代码"))
        listed = [(row[1], SEVERITY_ZH_INV[row[2]], row[3] or None, row[5]) for row in rows[head + 1:]]
        assert sorted(listed) == sorted((fd.code, fd.severity, fd.cell, fd.message) for fd in f.findings)
        assert [row[0] for row in rows[head + 1:]] == list(range(1, len(f.findings) + 1))
        assert all(has_cjk(row[6]) for row in rows[head + 1:])      # the fix hint


SEVERITY_ZH_INV = {v: k for k, v in SEVERITY_ZH.items()}


def test_clean_file_summary(run):
    result, _ = run
    rows = result_rows(annotated(result, returned(CLEAN_CODE)))
    summary = {row[0]: row[3] for row in rows if row[0] and row[3] is not None}
    assert summary["错误 / 警告 / 提示"] == "0 / 0 / 0" and summary["结论"] == "通过"


# ---------------------------------------------------------------- validating the annotated copy again

def keyed(findings, *, message=True):
    return sorted((f.code, f.severity, f.sheet, f.cell, f.field) + ((f.message,) if message else ())
                  for f in findings)


def test_annotated_seed_validates_to_the_same_result(run):
    result, _ = run
    alone = validate([seed_returned()], issued().manifest_path, jobs=1).files[0]
    again = validate([annotated(result, seed_returned())], issued().manifest_path, jobs=1).files[0]
    assert keyed(again.findings) == keyed(alone.findings)
    assert again.score == alone.score and again.self_score == alone.self_score


def test_annotated_folder_validates_to_the_same_result(run):
    result, out = run
    again = validate([out], issued().manifest_path, jobs=1)
    assert len(again.files) == len(scored_files(result))
    for f in scored_files(result):
        g = next(x for x in again.files if Path(x.path).name == Path(f.annotated).name)
        expected = [x for x in f.findings if not (f.project_code == TAMPERED_CODE and x.code in INTEGRITY)]
        dup = lambda fs: [x for x in fs if x.code == "XF105"]  # noqa: E731 - names the other copies
        assert keyed(dup(g.findings), message=False) == keyed(dup(expected), message=False)
        rest = lambda fs: [x for x in fs if x.code != "XF105"]  # noqa: E731
        assert keyed(rest(g.findings)) == keyed(rest(expected)), Path(f.path).name
        assert g.score == f.score and g.self_score == f.self_score


def test_tampered_sample_annotated_copy_restores_issued_content(run):
    result, _ = run
    f = report_for(result, returned(TAMPERED_CODE))
    assert INTEGRITY <= {x.code for x in f.findings}
    ws = load(f.annotated)[SHEET]
    t = next(x for x in f.findings if x.code == "XF201")
    assert ws[t.cell].value == issued().entries[TAMPERED_CODE].locked[t.cell]     # the issued target
    assert "≥5000人" in ws[t.cell].comment.text                                  # what came back


def test_junk_in_the_result_sheet_is_ignored(run, tmp_path):
    result, _ = run
    src = annotated(result, seed_returned())
    wb = openpyxl.load_workbook(src)
    ws = wb[RESULT_SHEET]
    for row in ws.iter_rows(min_row=1, max_row=60, max_col=10):
        for c in row:
            if type(c).__name__ == "Cell":
                c.value = None
    ws["A1"] = "=1/0"
    ws["D3"] = "999999999999999999999"                 # another project code
    ws["D8"] = 100.0                                    # a better score
    ws["B30"] = "XF201"
    ws["F30"] = "xf_ind_001_actual"
    ws["A40"] = "项目编码"
    ws["A100"] = "垃圾" * 500
    junk = tmp_path / "junk.xlsx"
    wb.save(junk)
    assert load(junk)[SHEET].protection.sheet is True
    before = validate([src], issued().manifest_path, jobs=1).files[0]
    after = validate([junk], issued().manifest_path, jobs=1).files[0]
    assert keyed(after.findings) == keyed(before.findings)
    assert after.score == before.score and after.project_code == SEED_CODE


def test_json_report_points_at_the_annotated_copies(run):
    result, out = run
    data = json.loads(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
    for f in data["files"]:
        if f["score"] is not None:
            assert Path(f["annotated"]).is_file() and Path(f["annotated"]).parent == out

"""Write the annotated copy of a returned workbook (退回修改): a fresh template with the returned values.

Re-saving the department's file would lose features and trust its edits (lessons.md), so the
template is written again from the manifest's project, with every input exactly as returned, the
computed scores in the score cells, each finding's cell shaded with a Chinese comment, and a
校验结果 sheet. It stays protected with the same inputs open and the same fingerprint, so it can
be sent back, corrected and validated again like any returned workbook.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .findings import CATALOGUE, ERROR, INFO, SEVERITY_ZH, WARNING, Finding, counts
from .generate import workbook_meta
from .layout import Layout
from .score import ScoreResult
from .workbook import Extras, write_workbook

RESULT_SHEET = "校验结果"
_RANK = {INFO: 0, WARNING: 1, ERROR: 2}


def score_values(layout: Layout, score: ScoreResult) -> dict[str, Any]:
    """Computed numbers for the form's score fields, by field name."""
    out: dict[str, Any] = {}
    for f in layout.fields.values():
        if f.role == "group_score" and f.group in score.groups:
            out[f.name] = score.groups[f.group]
        elif f.role == "indicator_score":
            r = next((r for r in score.indicators if r.number == f.indicator), None)
            if r is not None and r.status != "na":
                out[f.name] = r.score
        elif f.role == "execution_score":
            out[f.name] = score.execution_score
        elif f.role == "execution_rate" and f.input is None and score.execution_rate is not None:
            out[f.name] = score.execution_rate
        elif f.role == "total_score":
            out[f.name] = score.total
        elif f.role == "grade":
            out[f.name] = score.grade
    return out


def annotate(layout: Layout, path: Path, *, project_code: str, fingerprint: str, values: dict[str, Any],
             score: ScoreResult | None, findings: list[Finding], source: Path, self_score: float | None) -> None:
    extras = Extras()
    for name, f in layout.fields.items():
        if f.input is not None and values.get(name) not in (None, ""):
            extras.values[name] = values[name]
    if score is not None:
        extras.values.update(score_values(layout, score))
    for fd in findings:
        name = fd.field[3:] if fd.field and fd.field.startswith("xf_") else None
        if name is None or name not in layout.fields:
            continue
        if _RANK[fd.severity] >= _RANK.get(extras.marks.get(name, INFO), 0) or name not in extras.marks:
            extras.marks[name] = fd.severity
        line = f"[{fd.code} {SEVERITY_ZH[fd.severity]}] {fd.message}"
        extras.comments[name] = (extras.comments[name] + "\n" + line) if name in extras.comments else line
    extras.add_sheets = lambda wb: _result_sheet(wb, layout, project_code, score, findings, source, self_score)
    meta = workbook_meta(layout, project_code, fingerprint)
    meta["annotated"] = dt.datetime.now().isoformat(timespec="seconds")
    write_workbook(layout, path, meta, extras=extras)


def _result_sheet(wb, layout: Layout, code: str, score: ScoreResult | None, findings: list[Finding],
                  source: Path, self_score: float | None) -> None:
    spec = layout.spec
    ws = wb.add_worksheet(RESULT_SHEET)
    font = {"font_name": spec.font, "font_size": 10, "valign": "vcenter"}
    title = wb.add_format({**font, "bold": True, "font_size": 14})
    label = wb.add_format({**font, "bold": True, "bg_color": "#F2F2F2", "border": 1})
    cell = wb.add_format({**font, "border": 1, "text_wrap": True})
    num = wb.add_format({**font, "border": 1, "num_format": "0.00"})
    sev = {s: wb.add_format({**font, "border": 1, "bg_color": c}) for s, c in
           {ERROR: "#F4B6B6", WARNING: "#FCE4A8", INFO: "#DDEBF7"}.items()}
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, 9)
    ws.set_column(2, 2, 7)
    ws.set_column(3, 3, 8)
    ws.set_column(4, 4, 26)
    ws.set_column(5, 5, 60)
    ws.set_column(6, 6, 40)
    ws.write_string(0, 0, f"校验结果：{layout.fields['project_name'].value or ''}", title)
    c = counts(findings)
    rows = [("项目编码", code), ("项目名称", layout.fields["project_name"].value or ""),
            ("主管部门", layout.fields["department"].value or ""),
            ("表单", f"{spec.name}（{spec.id} {spec.version}）"), ("报送文件", source.name),
            ("复核得分", score.total if score else "—"), ("评价等级", score.grade if score else "—"),
            ("自评得分", self_score if self_score is not None else "（未填）"),
            ("错误 / 警告 / 提示", f"{c[ERROR]} / {c[WARNING]} / {c[INFO]}"),
            ("结论", "通过" if c[ERROR] == 0 else "未通过：请按下表修改后重新报送")]
    for i, (k, v) in enumerate(rows, start=2):
        ws.merge_range(i, 0, i, 2, k, label)
        ws.merge_range(i, 3, i, 5, None, cell)
        if isinstance(v, float):
            ws.write_number(i, 3, v, num)
        else:
            ws.write_string(i, 3, str(v), cell)
    y = len(rows) + 3
    if score is not None:
        ws.merge_range(y, 0, y, 5, "分项得分（复核）", label)
        y += 1
        ind = spec.indicators
        ws.merge_range(y, 0, y, 4, "预算执行率", cell)
        ws.write_number(y, 5, score.execution_score, num)
        y += 1
        for key in sorted(score.groups, key=lambda k: (k[0], -1 if len(k) == 1 else k[1])):
            value = score.groups[key]
            g1 = ind.groups[key[0]]
            name = g1.name if len(key) == 1 else f"　{g1.children[key[1]].name}"
            ws.merge_range(y, 0, y, 4, f"{name}（{score.group_points[key]:.2f} 分）", cell)
            ws.write_number(y, 5, value, num)
            y += 1
        y += 1
    head = ["序号", "代码", "级别", "单元格", "字段", "说明", "修改建议"]
    for j, h in enumerate(head):
        ws.write_string(y, j, h, label)
    for n, fd in enumerate(sorted(findings, key=lambda f: (-_RANK[f.severity], f.code)), start=1):
        y += 1
        ws.write_number(y, 0, n, cell)
        ws.write_string(y, 1, fd.code, cell)
        ws.write_string(y, 2, SEVERITY_ZH[fd.severity], sev[fd.severity])
        ws.write_string(y, 3, fd.cell or "", cell)
        ws.write_string(y, 4, fd.label or "", cell)
        ws.write_string(y, 5, fd.message, cell)
        ws.write_string(y, 6, CATALOGUE[fd.code].hint, cell)
        # rows grow to show the message: Excel does not size wrapped rows written by a library
        lines = max(len(fd.message) // 28 + 1, len(CATALOGUE[fd.code].hint) // 19 + 1)
        ws.set_row(y, 14 * lines + 4)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)

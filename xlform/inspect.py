"""inspect: what a workbook says about itself — form, project, every field with its cell and value.

This is the contract other tools rely on: the field catalogue in the hidden metadata sheet (name,
role, label, input, indicator), resolved through the workbook's defined names, so it still points
at the right cell after a spreadsheet program moved rows. It reads the file as it is (openpyxl, not
the fast path: it also reports each cell's lock flag and data validation).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .errors import XlformError
from .read import ReadError, open_calamine, read_field_catalogue, sniff
from .workbook import META_SHEET

FIELD_ROLES_DOC = {
    "identity": "项目标识（项目名称、编码、主管部门、实施单位）",
    "fund_total": "资金总额", "fund_source": "资金来源（部门填报）", "fund_initial": "年初预算数",
    "fund_budget": "全年预算数", "fund_source_budget": "资金来源的全年预算数", "fund_executed": "全年执行数",
    "description": "项目概况", "goal": "年度绩效目标", "goal_result": "目标实际完成情况",
    "period_start": "项目起始时间", "period_end": "项目终止时间", "progress": "项目实施进度",
    "self_score": "部门自评得分", "execution_rate": "预算执行率", "execution_score": "预算执行率得分",
    "total_score": "复核总分", "grade": "评价等级", "contact": "填报人信息",
    "indicator_level1": "一级指标", "indicator_level2": "二级指标", "indicator_name": "指标内容（三级指标）",
    "indicator_target": "指标值（目标）", "indicator_actual": "实际完成值", "indicator_reason": "未完成/偏差原因",
    "indicator_points": "指标分值", "indicator_score": "指标得分（每个指标）", "group_score": "指标得分（每个二级指标）",
}


def _json_value(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def inspect_workbook(path: str | Path) -> dict:
    """Form, project code, protection and every field of an xlform workbook, as plain data."""
    import openpyxl

    path = Path(path)
    if not path.is_file():
        raise XlformError(f"找不到文件：{path}")
    sniff(path)
    catalogue = read_field_catalogue(open_calamine(path))
    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types on odd files
        raise ReadError("XF002", f"工作簿无法解析：{exc}") from None
    if META_SHEET not in wb.sheetnames or not catalogue:
        raise XlformError(f"{path.name} 不是 xlform 生成的工作簿（没有元数据工作表 {META_SHEET}）")
    meta_ws = wb[META_SHEET]
    meta = {str(r[0]): ("" if r[1] is None else str(r[1]))
            for r in meta_ws.iter_rows(min_row=2, max_col=2, values_only=True) if r[0]}
    props = {p.name: str(p.value) for p in wb.custom_doc_props.props} if wb.custom_doc_props else {}
    fields, missing = [], []
    validations: dict[str, list] = {}
    for f in catalogue:
        dn = wb.defined_names.get(f["name"])
        dest = next(iter(dn.destinations), None) if dn is not None else None
        if dest is None or dest[0] not in wb.sheetnames:
            missing.append(f["name"])
            continue
        sheet, ref = dest
        ref = ref.replace("$", "").split(":")[0]
        ws = wb[sheet]
        cell = ws[ref]
        if sheet not in validations:
            validations[sheet] = list(ws.data_validations.dataValidation)
        dv = next((d for d in validations[sheet] if ref in d.sqref), None)
        fields.append({
            "name": f["name"], "sheet": sheet, "cell": ref, "role": f["role"], "label": f["label"],
            "input": not cell.protection.locked, "value": _json_value(cell.value),
            "indicator": int(f["indicator"]) if f["indicator"] else None,
            "input_type": f["input"] or None,
            "validation": None if dv is None else {
                "type": dv.type, "operator": dv.operator, "formula1": dv.formula1, "formula2": dv.formula2,
                "prompt": dv.prompt, "error": dv.error},
        })
    main = wb[wb.sheetnames[0]]
    return {
        "file": str(path),
        "form": {"id": meta.get("form_id") or props.get("xlform.form_id"),
                 "version": meta.get("form_version") or props.get("xlform.form_version")},
        "project_code": meta.get("project_code") or props.get("xlform.project_code"),
        "year": meta.get("year"),
        "fingerprint": meta.get("fingerprint"),
        "properties": props,
        "sheets": {name: {"protected": bool(wb[name].protection.sheet),
                          "state": wb[name].sheet_state} for name in wb.sheetnames},
        "protected": bool(main.protection.sheet),
        "defined_names": len(wb.defined_names),
        "missing_names": missing,
        "fields": fields,
    }

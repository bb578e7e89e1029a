"""Findings: plain data with a stable code, a severity and a Chinese message (like frictionless, pyxform).

`CATALOGUE` is the single list of codes; `xlform rules` prints it and docs/rules.md is made from it.
Codes never change meaning once released; new checks get new codes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITY_ZH = {ERROR: "错误", WARNING: "警告", INFO: "提示"}


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    title: str
    hint: str


@dataclass
class Finding:
    code: str
    severity: str
    message: str
    sheet: str | None = None
    cell: str | None = None
    field: str | None = None      # the field's defined name, e.g. xf_ind_003_actual
    label: str | None = None      # the field's Chinese label

    def to_dict(self) -> dict:
        return asdict(self)


_RULES = [
    # 文件与身份：先确认这是我们发出的那一份
    Rule("XF001", ERROR, "文件无法读取", "检查文件是否被占用或权限不足，重新复制一份再校验。"),
    Rule("XF002", ERROR, "不是有效的 Excel 工作簿", "请部门用 Excel 或 WPS 打开下发的模板填写，另存为 .xlsx 后报送。"),
    Rule("XF004", ERROR, "工作簿已加密", "请部门在 Excel/WPS 中取消“用密码进行加密”后重新报送。"),
    Rule("XF005", ERROR, "文件超出安全限制", "文件过大、压缩比异常或含 XML 实体，已拒绝读取；请部门重新另存后报送。"),
    Rule("XF006", ERROR, "文件格式不支持", "请在 Excel/WPS 中“另存为” Excel 工作簿（.xlsx）后重新报送。"),
    Rule("XF101", ERROR, "不是本系统下发的工作簿", "工作簿缺少元数据（可能是自行新建或复制粘贴的表格）；请部门使用下发的模板填写。"),
    Rule("XF102", ERROR, "项目不在下发清单中", "核对项目编码；该项目可能不属于本批次，或使用了其他批次的模板。"),
    Rule("XF103", ERROR, "表单类型不符", "下发的是另一种表单；请部门使用下发给本项目的模板。"),
    Rule("XF104", WARNING, "表单版本不符", "模板版本与下发时不同（可能用了旧版模板）；核对后必要时重新下发。"),
    Rule("XF105", ERROR, "重复提交", "同一项目收到多份工作簿；请确认以哪一份为准，删除其余的。"),
    Rule("XF106", WARNING, "不是本批次下发的文件", "文件的指纹与 manifest 不符：可能是另一次生成的模板；锁定内容已逐项比对。"),
    Rule("XF107", WARNING, "定义名称缺失", "工作簿中缺少字段的定义名称，已按原位置读取；请核对该单元格。"),
    Rule("XF108", ERROR, "工作表缺失或被改名", "找不到表单工作表；请部门不要改动工作表名称。"),
    Rule("XF109", WARNING, "按标签识别的工作簿（元数据缺失）",
         "工作簿没有表单元数据（可能是把内容复制到了新工作簿）：已按表内标签识别表单、按项目编码对应清单，"
         "定义名称不可用时按位置读取；锁定内容已逐项比对，请核对后请部门改用下发的模板。"),
    # 篡改
    Rule("XF201", ERROR, "锁定内容被修改", "指标值、标签、分值或项目信息与下发时不同；以下发值为准，请部门改回。"),
    Rule("XF202", WARNING, "工作表保护被取消", "工作表保护被撤销；锁定内容已逐项比对，请留意其他改动。"),
    Rule("XF203", WARNING, "公式没有计算结果", "单元格是公式但没有保存计算结果；请部门在 Excel/WPS 中重新计算（F9）后保存，或直接填写数值。"),
    # 必填与取值
    Rule("XF301", ERROR, "必填项为空", "请部门补填该项。"),
    Rule("XF302", ERROR, "实际完成值为空", "请部门填写实际完成值；确实未开展的填 0 并说明原因。"),
    Rule("XF303", WARNING, "数值无法识别，需人工复核", "按“≥95%”“20套”“30.83万元”“2021年12月”等格式填写。"),
    Rule("XF304", WARNING, "指标值与实际完成值不可比较，需人工复核", "实际完成值应与指标值口径、单位一致。"),
    Rule("XF305", ERROR, "填写值不符合单元格的数据验证", "该单元格只接受特定类型或范围的值（金额、百分比、日期、得分、字数上限）；"
                                                   "粘贴或用其他软件填写会绕过下发模板的数据验证，请按单元格提示重新填写。"),
    # 偏差说明
    Rule("XF401", ERROR, "未完成指标且未说明原因", "实际完成值未达到指标值（或晚于时限、低于预期档次）时，必须填写未完成的原因。"),
    Rule("XF402", ERROR, "成本超支且未说明原因", "成本指标超出指标值、或执行数超出预算数时，必须说明原因。"),
    Rule("XF403", ERROR, "执行数超过预算数", "全年执行数（执行率）超过全年预算数（100%）；核对执行数并说明原因。"),
    Rule("XF404", INFO, "定性指标按文字计分，需人工确认", "定性指标未选择完成档次，已按设定档次暂计分；请复核。"),
    Rule("XF405", INFO, "大幅超额完成且未说明", "实际完成值超过指标值较多，按国家指引宜说明原因（目标是否偏低）。"),
    # 资金
    Rule("XF501", ERROR, "资金来源合计与总额不符", "各资金来源之和应等于合计（总额）；请核对并补填资金来源。"),
    Rule("XF502", WARNING, "预算执行率偏低且未说明", "执行率低于设定阈值，应在成本指标的原因栏说明原因。"),
    # 评分
    Rule("XF601", WARNING, "自评得分与复核得分不符", "按评分规则复核的得分与部门自评得分不同；请核对各项得分。"),
]
CATALOGUE: dict[str, Rule] = {r.code: r for r in _RULES}


def finding(code: str, message: str, **where) -> Finding:
    return Finding(code, CATALOGUE[code].severity, message, **where)


def counts(findings: list[Finding]) -> dict[str, int]:
    out = {ERROR: 0, WARNING: 0, INFO: 0}
    for f in findings:
        out[f.severity] += 1
    return out

"""Synthetic, deterministic inputs for the benchmark: a project list and the values departments return.

A province's list, not a toy: 15–40 indicators per project, long 项目概况 and 年度绩效目标 text,
mostly the Yulin form (`yulin-2021`) and some national ones (`national-2020`, with 分值 per indicator
summing to 50 / 30 / 10 per 一级指标). The returned values are what departments write: most
indicators met, a share short of target or over cost, some of those with no reason given, a few
blanks, budgets a little under- or over-executed, self scores that do not always match.

Everything comes from `random.Random` seeded by the run seed (and, for returned values, by the
project code), so the same N gives the same files on every machine and in every process.
"""
from __future__ import annotations

import datetime as dt
import random
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from make_sample_projects import HEAD  # noqa: E402  (the project-list columns)

Y, N = "yulin-2021", "national-2020"
SEED = 20211231
NATIONAL_SHARE = 0.15

# (department, department code, units)
DEPARTMENTS = [
    ("玉林市教育局", 350, ["玉林市第一中学", "玉林市第二中学", "玉林市实验小学", "玉林市教育局（本级）", "玉林市教育装备站"]),
    ("玉林市人力资源和社会保障局", 340, ["玉林市社会保险事业管理中心", "玉林市就业服务中心", "玉林市劳动人事争议仲裁院"]),
    ("玉林市卫生健康委员会", 360, ["玉林市疾病预防控制中心", "玉林市妇幼保健院", "玉林市卫生健康委员会（本级）"]),
    ("玉林市农业农村局", 370, ["玉林市农业技术推广站", "玉林市动物疫病预防控制中心", "玉林市农村经济经营管理站"]),
    ("玉林市交通运输局", 380, ["玉林市公路发展中心", "玉林市道路运输发展中心"]),
    ("玉林市水利局", 390, ["玉林市水利工程管理站", "玉林市水文中心"]),
    ("玉林市自然资源局", 410, ["玉林市不动产登记中心", "玉林市土地储备中心"]),
    ("玉林市生态环境局", 420, ["玉林市环境监测站", "玉林市生态环境局（本级）"]),
    ("玉林市住房和城乡建设局", 430, ["玉林市住房保障中心", "玉林市建设工程质量安全监督站"]),
    ("玉林市民政局", 440, ["玉林市社会福利院", "玉林市救助管理站", "玉林市民政局（本级）"]),
    ("玉林市文化广电体育和旅游局", 450, ["玉林市图书馆", "玉林市博物馆", "玉林市体育运动学校"]),
    ("玉林市应急管理局", 460, ["玉林市应急救援指挥中心"]),
    ("玉林市市场监督管理局", 470, ["玉林市食品药品检验所", "玉林市计量测试研究所"]),
    ("玉林市公安局", 480, ["玉林市公安局交通警察支队", "玉林市公安局（本级）"]),
    ("玉林市司法局", 490, ["玉林市法律援助中心", "玉林市公证处"]),
    ("玉林市财政局", 510, ["玉林市财政国库支付中心", "玉林市财政局（本级）"]),
    ("玉林市商务局", 520, ["玉林市商务局（本级）"]),
    ("玉林市科学技术局", 530, ["玉林市科技情报研究所", "玉林市生产力促进中心"]),
    ("玉林市林业局", 540, ["玉林市林业科学研究所", "玉林市森林病虫害防治站"]),
    ("玉林市退役军人事务局", 550, ["玉林市退役军人服务中心", "玉林市军队离休退休干部休养所"]),
]

TOPICS = ["教学设备更新改造", "校舍维修改造", "学生资助", "教师培训", "就业援助", "职业技能培训", "社会保险经办",
          "信息系统运行维护", "基本公共卫生服务", "重大疾病防控", "妇幼健康服务", "高标准农田建设", "动物疫病防控",
          "农业技术推广", "农村公路养护", "道路运输安全监管", "水利工程维修养护", "水文监测", "不动产登记",
          "土地储备", "环境质量监测", "污染防治", "保障性住房建设", "建筑工程质量监督", "社会救助", "养老服务",
          "公共文化服务", "全民健身", "安全生产执法", "应急物资储备", "食品安全抽检", "计量检定", "交通秩序管理",
          "法律援助", "财政信息化建设", "电子商务进农村", "科技创新券", "森林防火", "林业有害生物防治",
          "优抚对象服务", "档案数字化", "办公用房维修"]
SUFFIXES = ["专项经费", "项目", "补助资金", "工作经费", "专项资金", "运行经费"]

OBJECTS = ["设备", "教室", "道路", "渠道", "档案", "系统", "站点", "场馆", "课程", "样品", "项目", "设施"]
UNITS = ["人", "人次", "套", "台", "个", "项", "次", "公里", "亩", "户", "期", "家", "份", "批"]
VERBS = ["完成", "采购", "建设", "维修", "培训", "检测", "资助", "开展", "改造", "巡查"]
QUALITY = ["验收合格率", "设备完好率", "资金使用合规率", "群众知晓率", "任务完成率", "检测准确率", "培训合格率",
           "数据准确率", "覆盖率", "按时完成率"]
EFFECT_NUM = ["服务对象覆盖率", "问题整改率", "工作效率提升", "受益人口", "政策知晓率", "设施使用率"]
EFFECT_QUAL = [("社会效益", "持续提升"), ("社会效益", "有效提升公共服务水平"), ("可持续影响", "长效机制逐步完善"),
               ("可持续影响", "达成预期指标"), ("生态效益", "生态环境持续改善"), ("经济效益", "带动相关产业发展")]
SATISFIED = ["服务对象满意度", "群众满意度", "受益对象满意度", "师生满意度", "参保人员满意度", "养殖户满意度"]
PHRASES = ["按照上级部署和年度工作计划组织实施", "严格执行政府采购和财务管理制度", "资金按进度及时拨付",
           "项目实施过程中加强监督检查", "确保各项任务按期保质完成", "服务对象覆盖全市各县（市、区）",
           "提升公共服务能力和水平", "为经济社会发展提供有力保障", "建立健全长效管理机制",
           "做好项目绩效目标的跟踪监控", "主要用于设备购置、人员培训、运行维护及相关服务支出",
           "分两批组织实施，年底前完成全部建设内容并组织验收"]
REASONS = ["受疫情影响，部分工作延期开展", "政府采购流程较长，合同签订推迟", "实际需求少于年初预计",
           "部分资金下达较晚，项目进度滞后", "材料价格上涨，成本增加", "已于次年一季度完成", "按实际结算金额支付",
           "服务对象数量减少", "设备到货延迟，安装调试推迟", "部分任务调整至下一年度实施"]
PEOPLE = ["张会计", "李科长", "王站长", "陈主任", "刘出纳", "黄干事", "周科员", "吴会计"]


def _text(rng: random.Random, lo: int, hi: int) -> str:
    out = ""
    target = rng.randint(lo, hi)
    while len(out) < target:
        out += rng.choice(PHRASES) + "，"
    return out[:-1] + "。"


# ---------------------------------------------------------------- the project list

def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` points as `parts` positive integers (parts <= total)."""
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    return [b - a for a, b in zip([0, *cuts], [*cuts, total])]


def _quantity(rng: random.Random) -> tuple[str, str]:
    unit = rng.choice(UNITS)
    n = rng.choice([rng.randint(2, 60), rng.randint(50, 5000), rng.randint(100, 100000)])
    name = f"{rng.choice(VERBS)}{rng.choice(OBJECTS)}{rng.choice(['数量', '', '规模'])}"
    return name, f"{rng.choice(['≥', '≥', ''])}{n}{unit}"


def _percent(rng: random.Random, names: list[str]) -> tuple[str, str]:
    p = rng.choice([80, 85, 90, 95, 98, 100])
    return rng.choice(OBJECTS) + rng.choice(names), ("100%" if p == 100 else f"≥{p}%")


def _time(rng: random.Random, year: int) -> tuple[str, str]:
    if rng.random() < 0.5:
        return "资金拨付及时率", f"≥{rng.choice([90, 95])}%"
    m = rng.randint(6, 12)
    return rng.choice(["完成时间", "项目完工时间", "验收完成时间"]), (
        f"{year}年{m}月" if rng.random() < 0.6 else f"{year}年{m}月底前")


def _cost(rng: random.Random, total: float) -> tuple[str, str]:
    x = round(total * rng.uniform(0.05, 0.5), 2)
    return f"{rng.choice(OBJECTS)}{rng.choice(['采购成本', '运行维护成本', '建设成本', '补助标准'])}", f"≤{x:g}万元"


def _effect(rng: random.Random, level2: str) -> tuple[str, str]:
    if rng.random() < 0.5:
        name, target = rng.choice([q for q in EFFECT_QUAL if q[0] in level2] or EFFECT_QUAL)
        return f"{level2.replace('指标', '')}{rng.choice(['：', ''])}{name[:2]}情况", target
    return rng.choice(EFFECT_NUM), f"≥{rng.choice([80, 85, 90, 95])}%"


def make_projects(n: int, seed: int = SEED) -> list[dict]:
    """`n` projects with distinct codes, in list order."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        dept, dcode, units = DEPARTMENTS[k % len(DEPARTMENTS)] if k < len(DEPARTMENTS) else rng.choice(DEPARTMENTS)
        form = N if rng.random() < NATIONAL_SHARE else Y
        code = f"4509002{1 if form == Y else 2}0{dcode}{k + 1:09d}"
        name = f"{rng.choice(TOPICS)}{rng.choice(SUFFIXES)}"
        total = round(rng.choice([rng.uniform(5, 100), rng.uniform(100, 1000), rng.uniform(1000, 5000)]), 2)
        k_ind = rng.randint(15, 40)
        p = {"form": form, "dept": dept, "unit": rng.choice(units), "code": code, "name": name, "total": total,
             "overview": _text(rng, 60, 240), "goal": _text(rng, 40, 160)}
        p["indicators"] = (_yulin_indicators if form == Y else _national_indicators)(rng, k_ind, total)
        if form == N:
            current = round(total * rng.choice([1.0, 1.0, rng.uniform(0.6, 0.95)]), 2)
            carry = round(total - current, 2) if rng.random() < 0.7 else 0.0
            p.update(initial=round(total * rng.uniform(0.9, 1.0), 2), budget=total, current=current, carry=carry,
                     other=round(total - current - carry, 2))
        out.append(p)
    return out


def _yulin_indicators(rng: random.Random, k: int, total: float) -> list[tuple]:
    sat = rng.randint(1, 2)
    eff = {"经济效益": rng.randint(0, 2), "社会效益": rng.randint(1, 4), "生态效益": rng.randint(0, 2),
           "可持续影响": rng.randint(1, 3)}
    while sat + sum(eff.values()) > k - 6:
        g = rng.choice([g for g, c in eff.items() if c > (0 if g in ("经济效益", "生态效益") else 1)] or ["社会效益"])
        eff[g] = max(0, eff[g] - 1)
    rest = k - sat - sum(v or 1 for v in eff.values())
    out_groups = {"产出数量": 1, "产出质量": 1, "产出时效": 1, "产出成本": 1}
    for _ in range(rest - 4):
        out_groups[rng.choices(list(out_groups), weights=[4, 3, 1.5, 1.5])[0]] += 1
    rows = []
    for g2, c in out_groups.items():
        for _ in range(c):
            name, target = {"产出数量": lambda: _quantity(rng), "产出质量": lambda: _percent(rng, QUALITY),
                            "产出时效": lambda: _time(rng, 2021), "产出成本": lambda: _cost(rng, total)}[g2]()
            rows.append(("产出指标", g2, name, target, "", "", ""))
    for g2, c in eff.items():
        if c == 0:
            rows.append(("效果指标", g2, "无", "", "", "", ""))
        for _ in range(c):
            name, target = _effect(rng, g2)
            rows.append(("效果指标", g2, name, target, "", "", ""))
    for _ in range(sat):
        rows.append(("社会公众或服务对象满意度", "具体指标", rng.choice(SATISFIED), f"≥{rng.choice([85, 90, 95])}%",
                     "", "", ""))
    return rows


def _national_indicators(rng: random.Random, k: int, total: float) -> list[tuple]:
    sat = rng.randint(1, 2)
    eff = rng.randint(3, min(10, k - sat - 8))
    out_n = k - sat - eff
    groups = {"数量指标": 1, "质量指标": 1, "时效指标": 1, "成本指标": 1}
    for _ in range(out_n - 4):
        groups[rng.choices(list(groups), weights=[4, 3, 1.5, 1.5])[0]] += 1
    e_groups = {"经济效益指标": 0, "社会效益指标": 1, "生态效益指标": 0, "可持续影响指标": 1}
    for _ in range(eff - 2):
        e_groups[rng.choices(list(e_groups), weights=[1, 3, 1, 2])[0]] += 1
    rows = []
    pts = iter(_split(rng, 50, out_n))
    for g2, c in groups.items():
        for _ in range(c):
            name, target = {"数量指标": lambda: _quantity(rng), "质量指标": lambda: _percent(rng, QUALITY),
                            "时效指标": lambda: _time(rng, 2025), "成本指标": lambda: _cost(rng, total)}[g2]()
            rows.append(("产出指标", g2, name, target, next(pts), "反向" if g2 == "成本指标" else "", ""))
    pts = iter(_split(rng, 30, eff))
    for g2, c in e_groups.items():
        for _ in range(c):
            name, target = _effect(rng, g2)
            kind = "定性" if not re.search(r"\d", target) else ""
            rows.append(("效益指标", g2, name, target, next(pts), "", kind))
    pts = iter(_split(rng, 10, sat) if sat > 1 else [10])
    for _ in range(sat):
        rows.append(("满意度指标", "服务对象满意度指标", rng.choice(SATISFIED), f"≥{rng.choice([85, 90, 95])}%",
                     next(pts), "", ""))
    return rows


def list_rows(projects: list[dict]):
    """Project-list rows under HEAD: project columns on each project's first row only (as bureaus do)."""
    for p in projects:
        for k, (l1, l2, name, target, pts, direction, kind) in enumerate(p["indicators"]):
            if k == 0 and p["form"] == Y:
                head = [p["form"], p["dept"], p["unit"], p["code"], p["name"], p["total"], "", "", "", "", "",
                        p["overview"], p["goal"]]
            elif k == 0:
                head = [p["form"], p["dept"], p["unit"], p["code"], p["name"], "", p["initial"], p["budget"],
                        p["current"], p["carry"], p["other"], p["overview"], p["goal"]]
            else:
                head = [p["form"], "", "", p["code"]] + [""] * 9
            yield head + [l1, l2, name, target, pts, direction, kind]


def write_project_list(projects: list[dict], path: Path) -> Path:
    """.xlsx (sheet 项目清单) or, by the suffix, .csv (UTF-8 with BOM, as Excel saves it)."""
    import xlsxwriter
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        import csv
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(HEAD)
            w.writerows([f"{v:g}" if isinstance(v, float) else v for v in row] for row in list_rows(projects))
        return path
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("项目清单")
    ws.write_row(0, 0, HEAD)
    for r, row in enumerate(list_rows(projects), start=1):
        for c, v in enumerate(row):
            if isinstance(v, (int, float)):
                ws.write_number(r, c, v)
            elif v != "":
                ws.write_string(r, c, v)
    wb.close()
    return path


# ---------------------------------------------------------------- returned values

SHORT_SHARE = 0.10        # an indicator short of target (cost: over, date: late)
REASON_GIVEN = 0.55       # ... with a reason written
BLANK_SHARE = 0.01        # an indicator left blank
_NUM = re.compile(r"^(≥|≤)?(\d+(?:\.\d+)?)(.*)$")
_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(底前)?$")
TIERS = ("达成预期指标", "部分达成预期指标并具有一定效果", "未完成预期指标且效果较差")


def _fmt(x: float, unit: str) -> str:
    if unit == "%":
        return f"{x:.1f}".rstrip("0").rstrip(".") + "%"
    if unit == "万元":
        return f"{x:.2f}万元"
    return f"{int(round(x))}{unit}"


def _actual(rng: random.Random, target: str) -> tuple[str | None, str | None]:
    """(actual, reason) for one indicator; None for a cell left empty."""
    if rng.random() < BLANK_SHARE:
        return None, None
    short = rng.random() < SHORT_SHARE
    reason = rng.choice(REASONS) if short and rng.random() < REASON_GIVEN else None
    m = _DATE.match(target)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        if short:
            mo += rng.randint(1, 3)
            y, mo = (y + 1, mo - 12) if mo > 12 else (y, mo)
            return f"{y}年{mo}月{rng.randint(5, 28)}日", reason
        return f"{y}年{mo}月{rng.randint(1, 28)}日", None
    m = _NUM.match(target)
    if m:
        comp, x, unit = m.group(1), float(m.group(2)), m.group(3)
        if comp == "≤":
            v = x * (rng.uniform(1.03, 1.25) if short else rng.uniform(0.8, 1.0))
            return _fmt(v, unit), reason
        v = x * (rng.uniform(0.7, 0.97) if short else rng.uniform(1.0, 1.08))
        if unit == "%" and not short:
            v = min(v, 100.0)
        return _fmt(v, unit), reason
    # qualitative target: a tier
    return (TIERS[1] if short else TIERS[0]), reason


def returned_values(entry, layout) -> dict[str, Any]:
    """What a department types into the issued workbook for `entry` (its Layout `layout`)."""
    rng = random.Random(f"{SEED}:{entry.project_code}")
    values: dict[str, Any] = {}
    for row in layout.indicator_rows:
        if row.indicator is None or row.not_applicable:
            continue
        actual, reason = _actual(rng, str(row.indicator.target))
        key = f"ind_{row.number:03d}"
        if actual is not None:
            values[f"{key}_actual"] = actual
        if reason:
            values[f"{key}_reason"] = reason
    f = layout.fields
    year = layout.year
    rate = rng.choice([rng.uniform(0.9, 1.0)] * 8 + [rng.uniform(0.6, 0.9), rng.uniform(1.0, 1.05)])
    common = {"self_score": round(rng.uniform(85, 100), 2), "filled_by": rng.choice(PEOPLE),
              "phone": f"0775-{rng.randint(2000000, 2999999)}",
              "filled_on": dt.datetime(year + 1, rng.randint(2, 4), rng.randint(1, 28))}
    if "fund_total" in f:          # Yulin: sources of the total, execution rate, period
        total = float(f["fund_total"].value or 0)
        central = round(total * rng.choice([0.0, 0.3, 0.5, 0.7]), 2)
        region = round(total - central, 2) if rng.random() < 0.95 else round(total * 0.5, 2)
        values.update(fund_central=central, fund_region=region, execution_rate=round(rate, 4),
                      start_date=dt.datetime(year, 1, 1), end_date=dt.datetime(year, 12, 31),
                      progress=rng.choice(["已完成", "基本完成", "100%完成", "完成年度任务"]), **common)
    else:                          # national: executed amounts per source, result text
        def amount(name: str) -> float:
            v = f[name].value if name in f else None
            return float(v) if isinstance(v, (int, float)) else 0.0
        budget = amount("budget_total")
        current, carry, other = (amount(n) * rate for n in ("budget_current", "budget_carry", "budget_other"))
        values.update(executed_total=round(budget * rate, 2), executed_current=round(current, 2),
                      goal_result=_text(rng, 40, 160), **common)
        if carry:
            values["executed_carry"] = round(carry, 2)
        if other:
            values["executed_other"] = round(other, 2)
    values = {k: v for k, v in values.items() if k in f}
    if rng.random() < 0.7:         # most departments score themselves by the rules; others round up
        from xlform.score import compute
        issued = {name: fld.value for name, fld in f.items() if fld.value is not None}
        values["self_score"] = round(compute(layout, {**issued, **values}).total, 2)
    return values

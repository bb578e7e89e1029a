"""Build sample_workbooks/returned/: returned workbooks for the sample projects.

- the seed project filled with the seed form's own values (forms.md §1 lists its findings);
- one clean workbook;
- others that together trigger every content rule at least once.
Run after generating the samples: python tools/make_returned_samples.py [MANIFEST]
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fill import fill_workbook  # noqa: E402

from xlform.generate import generate  # noqa: E402
from xlform.manifest import Manifest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "sample_workbooks" / "returned"
D = dt.datetime

# The seed form's own values (seed-form-yulin-2021.txt), indicator rows in form order.
SEED_ACTUALS = [
    ("一项", ""), ("三项", ""), ("20套", "电脑硬件跟不上"), ("0", "疫情原因，企业减税降赋"), ("一项", ""),
    ("支付25%款项", ""),
    ("≥95%", ""), ("≥95%", ""), ("100%", ""), ("0", "疫情原因，企业减税降赋"), ("≥95%", ""), ("≥95%", ""),
    ("≥90%", ""), ("2021年12月", ""), ("100%", ""),
    ("30.83万元", "服务期结束后支付20%"), ("4.48万元", "服务期结束后支付50%"), ("2.6万元", "电脑硬件跟不上"),
    ("0", "疫情原因，企业减税降赋"), ("39万元", "不稽核企业，加强对各县检查"), ("14.65万元", "验收合格后支付总价的5%"),
    (None, None), ("完成各项社保经办业务，个别工作出彩，获得人社部、自治区表彰，", ""), (None, None),
    ("完成各项社保经办业务", ""),
    ("", ""),   # 满意度: left blank in the seed
]
SEED_FIELDS = {"start_date": D(2021, 1, 1), "end_date": D(2021, 12, 31), "progress": "100%完成",
               "self_score": 88.33, "execution_rate": 1.0}


def indicators(pairs):
    out = {}
    for n, (actual, reason) in enumerate(pairs, start=1):
        if actual is not None and actual != "":
            out[f"ind_{n:03d}_actual"] = actual
        if reason:
            out[f"ind_{n:03d}_reason"] = reason
    return out


def common(**extra):
    base = {"start_date": D(2021, 1, 1), "end_date": D(2021, 12, 31), "progress": "已完成",
            "filled_by": "张会计", "phone": "0775-2800000", "filled_on": D(2022, 3, 10)}
    base.update(extra)
    return base


def main(manifest_path: Path | None = None) -> None:
    if manifest_path is None:
        out = ROOT / "build" / "samples"
        generate(ROOT / "sample_workbooks" / "projects.xlsx", out)
        manifest_path = out / "manifest.json"
    m = Manifest.load(manifest_path).by_code()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.xlsx"):
        old.unlink()

    def save(code, name, values, **kw):
        e = m[code]
        fill_workbook(e, values, OUT / f"{e.department}_{code}_{name}.xlsx", **kw)

    # 1. the seed, exactly as filled in 2021
    save("450900210340100004007", "社会保险业务改革专项业务经费（原表数据）",
         {**SEED_FIELDS, **indicators(SEED_ACTUALS)})

    # 2. clean: everything met or explained, sources add up, self score = computed
    save("450900210340100005001", "就业困难人员就业援助专项经费",
         {**common(fund_central=80.0, fund_region=40.0, execution_rate=0.985, self_score=99.85),
          **indicators([("836人", ""), ("12期", ""), ("152个", ""), ("93.5%", ""), ("100%", ""), ("97%", ""),
                        ("2021年12月20日", ""), ("78.6万元", ""), ("39.6万元", ""), (None, None),
                        ("达成预期指标", ""), (None, None), ("达成预期指标", ""), ("94.2%", "")])})

    # 3. shortfalls without reasons, a cost overrun without a reason, late date, lower tier, blank actual,
    #    an unparseable value, sources that do not add up, self score far off, execution rate over 100%
    save("450900210350200001003", "普通高中教学设备更新改造项目",
         {**common(fund_central=200.0, fund_region=100.0, fund_other=20.0, execution_rate=1.02,
                   self_score=95),
          **indicators([("6间", ""), ("36间", ""), ("1,200台（套）", ""), ("", ""),
                        ("100%", ""), ("97%", ""), ("2021年11月", ""), ("2022年1月15日", ""),
                        ("236.5万元", ""), ("120万元", ""), (None, None),
                        ("实验教学开出率93%", ""), (None, None), ("八年，另有两年延保", ""),
                        ("92%", "")])})

    # 4. low execution without explanation, protection removed and a target changed,
    #    a formula with no cached value, units that do not compare, a large over-achievement,
    #    a date pasted as text past the cell's validation (XF305)
    save("450900210350100002001", "义务教育阶段家庭经济困难学生生活补助",
         {**common(fund_central=300.0, fund_region=186.0, execution_rate=0.72, self_score=88,
                   filled_on="2022.3.10"),
          **indicators([("6120人", ""), ("2980人", "部分学生转学"), ("7个", ""), ("100%", ""), ("100%", ""),
                        ("2021年6月28日", ""), ("2021年12月25日", ""), ("1250元/生·年", ""),
                        ("625元/生·年", ""), ("户均减负1100元", ""), ("0人", ""), (None, None),
                        ("部分达成预期指标并具有一定效果", ""), ("96%", "")])},
         tamper={"ind_001_target": "≥5000人"}, unprotect=True, formulas_without_value=["ind_011_actual"])

    # 5. the long list, on time and complete but with missing required fields
    long = [("5302000人", "")] + [("达成", "")] * 0
    save("450900210360100003002", "基本公共卫生服务项目（市本级）",
         {**common(fund_central=800.0, fund_region=300.0, fund_gov=0.0, fund_other=168.45, execution_rate=0.96,
                   progress=""),
          **indicators([("≥520万人", ""), ("1260次", ""), ("310次", ""), ("46.2万剂次", ""), ("38.5万人", ""),
                        ("6.6万人", ""), ("42.3万人", ""), ("28.4万人", ""), ("9.1万人", ""), ("1.85万人", ""),
                        ("3120人", ""), ("25.6万人", ""), ("2450次", ""), ("176万人", "部分乡镇签约进度滞后"),
                        ("91.2%", ""), ("62%", ""), ("96.1%", ""), ("91%", ""), ("92%", ""), ("72%", ""),
                        ("66%", ""), ("65.5%", ""), ("83%", ""), ("93%", ""), ("97%", ""), ("66%", ""),
                        ("100%", ""), ("2021年12月", ""), ("100%", ""), ("79元", ""), ("1268.45万元", ""),
                        (None, None), ("22.6%", ""), ("无暴发流行", ""), (None, None), ("持续提升", ""),
                        ("达成预期指标", ""), ("88%", "")])})

    # 6. national form: overrun of executed over budget, sources that do not add up
    save("450900220370100001001", "高标准农田建设项目",
         {"executed_total": 2380.0, "executed_current": 2000.0, "executed_carry": 350.0,
          "goal_result": "新建高标准农田2.52万亩，新增粮食产能262万公斤。", "self_score": 100,
          "filled_by": "李科长", "phone": "0775-2600000", "filled_on": D(2026, 2, 20),
          **indicators([("2.52万亩", ""), ("46.3公里", ""), ("100%", ""), ("2025年11月20日", ""),
                        ("1520元", ""), ("320万公斤", ""), ("8350户", ""), ("12%", ""), ("15年", ""),
                        ("93%", "")])})

    # 7. national form, complete and clean
    save("450900220370200002002", "重大动物疫病强制免疫补助",
         {"executed_total": 181.6, "executed_current": 181.6,
          "goal_result": "全年免疫密度保持在92%以上，抗体合格率76%，未发生区域性重大动物疫情。", "self_score": 100,
          "filled_by": "王站长", "phone": "0775-2300000", "filled_on": D(2026, 2, 18),
          **indicators([("326万毫升", ""), ("76%", ""), ("2025年5月20日", ""), ("181.6万元", ""),
                        (None, None), ("达成预期指标", ""), (None, None), ("达成预期指标", ""), ("95%", "")])})

    # 8. a duplicate submission of the seed project, and a file that is not one of ours
    save("450900210340100004007", "社会保险业务改革专项业务经费（重复报送）",
         {**SEED_FIELDS, **indicators(SEED_ACTUALS)})
    (OUT / "玉林市教育局_说明材料.xlsx").write_bytes(b"This is not a workbook, just text renamed to .xlsx\n")
    print(f"wrote {len(list(OUT.glob('*.xlsx')))} files to {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)

"""xlform demo: the whole job on the bundled samples, so a new user sees every step work."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

SAMPLES = Path(__file__).resolve().parent.parent / "sample_workbooks"


def run_demo(out: Path, echo: Callable[[str], None] = print) -> int:
    from .generate import generate
    from .validate import validate

    projects = SAMPLES / "projects.xlsx"
    returned = SAMPLES / "returned"
    issued = out / "1-下发模板"
    checked = out / "2-校验批注"
    echo(f"① 生成：从 {projects} 生成模板 …")
    g = generate(projects, issued, by_department=True)
    echo(f"   {len(g.files)} 个工作簿，按主管部门分文件夹并打包；manifest：{g.manifest_path}")
    echo(f"② 校验：{returned} 中的回收表 …")
    run = validate([returned], g.manifest_path, checked, json_path=out / "校验报告.json")
    for r in run.files:
        name = Path(r.path).name
        score = f"{r.score['total']:6.2f} {r.score['grade']}" if r.score else "   —    "
        c = {"error": 0, "warning": 0, "info": 0}
        for f in r.findings:
            c[f.severity] += 1
        echo(f"   {'通过  ' if r.valid else '未通过'} {score}  错误 {c['error']:>2} 警告 {c['warning']:>2}  {name}")
    st = run.stats()
    echo(f"   共 {st['files']} 个文件，通过 {st['valid']}，未通过 {st['invalid']}")
    try:
        from .consolidate import consolidate
    except ImportError:
        consolidate = None
    if consolidate is not None:
        target = out / "3-汇总.xlsx"
        echo("③ 汇总 …")
        consolidate([returned], g.manifest_path, target)
        echo(f"   汇总工作簿：{target}")
    echo("")
    echo(f"请打开：{checked}（每个回收表的批注副本，含“校验结果”工作表）")
    echo(f"        {out / '校验报告.json'}（机器可读的校验报告）")
    return 0

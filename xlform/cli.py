"""The `xlform` command: a thin layer over the Python API of the same shape.

Exit status (docs/cli.md): 0 success and no file has an error; 1 the run finished but some file has
an error finding; 2 the run could not start or its input is unusable (bad arguments, spec, project
list, manifest); 3 an unexpected internal error (reported in one Chinese line, never a traceback).
"""
from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from . import __version__
from .errors import XlformError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _friendly(fn):
    """Turn every failure into a Chinese message and a documented exit status."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except XlformError as exc:
            click.echo(f"错误：{exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("已中断。", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # `xlform validate … | head`: the reader left; that is not an error of ours
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_OK)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the CLI promises no tracebacks
            if os.environ.get("XLFORM_DEBUG"):
                raise
            click.echo(f"内部错误：{type(exc).__name__}: {exc}（设置环境变量 XLFORM_DEBUG=1 可查看详情，"
                       f"请把此信息报告给 xlform 维护者）", err=True)
            sys.exit(EXIT_INTERNAL)
    return wrapper


def _templates(option: str | None) -> list[Path] | None:
    value = option or os.environ.get("XLFORM_TEMPLATES")
    if not value:
        return None
    dirs = [Path(p) for p in value.split(os.pathsep) if p]
    for d in dirs:
        if not d.is_dir():
            raise XlformError(f"表单定义目录不存在：{d}")
    from .spec import spec_dirs
    return dirs + spec_dirs()


templates_option = click.option("--templates", "templates", metavar="DIR",
                                help="另外的表单定义目录（也可用环境变量 XLFORM_TEMPLATES）。")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="xlform")
def main() -> None:
    """xlform：预算绩效自评表的生成、校验评分与汇总。

    \b
    典型流程：
      xlform generate --projects 项目清单.xlsx --out 下发/      生成每个项目的锁定模板
      xlform validate 回收/ --manifest 下发/manifest.json --out 校验/   校验、复核评分、批注
      xlform consolidate 回收/ --manifest 下发/manifest.json --out 汇总.xlsx
      xlform demo                                            用自带样例走一遍
    """


@main.command("forms")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@templates_option
@_friendly
def forms_cmd(as_json: bool, templates: str | None) -> None:
    """列出可用的表单（表单定义在 templates/ 目录）。"""
    from .spec import available_forms
    forms = available_forms(_templates(templates))
    rows = [{"id": f.id, "title": f.render(f.title, year=f.default_year), "version": f.version,
             "name": f.name} for f in forms.values()]
    if as_json:
        click.echo(json.dumps([{k: r[k] for k in ("id", "title", "version")} for r in rows],
                              ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']:<16} {r['version']:<8} {r['name']}")


@main.command("generate")
@click.option("--form", "form", metavar="ID", help="默认表单（项目清单的“表单”列可逐个项目指定）。")
@click.option("--projects", "projects", type=click.Path(dir_okay=False), metavar="FILE",
              help="项目清单 .xlsx 或 .csv。")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), metavar="DIR", help="输出目录。")
@click.option("--year", type=int, help="年度（默认取表单定义中的年度）。")
@click.option("--password", help="工作表保护密码（可选；保护只防误改，不是安全措施）。")
@click.option("--blank", is_flag=True, help="生成一张空白表（带备用指标行），不需要项目清单。")
@click.option("--by-department", is_flag=True, help="按主管部门分文件夹存放，并各打一个 zip 包。")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None, help="并行进程数（默认：CPU 核数）。")
@templates_option
@_friendly
def generate_cmd(form, projects, out, year, password, blank, by_department, jobs, templates) -> None:
    """从项目清单生成锁定的自评表模板（每个项目一个工作簿）和 manifest.json。"""
    from .generate import generate
    from .progress import progress_for
    result = generate(projects, out, form=form, year=year, password=password, blank=blank,
                      by_department=by_department, templates=_templates(templates),
                      progress=progress_for("生成"), jobs=jobs)
    for f in result.files:
        click.echo(f"  {f}")
    for z in result.zips:
        click.echo(f"  {z}")
    click.echo(f"已生成 {len(result.files)} 个工作簿到 {result.out_dir}；清单：{result.manifest_path}")


@main.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@_friendly
def inspect_cmd(file: str, as_json: bool) -> None:
    """显示一个工作簿的表单、项目和每个字段（单元格、角色、是否填报、当前值）。"""
    from .inspect import inspect_workbook
    info = inspect_workbook(file)
    if as_json:
        out = {"form": info["form"], "project_code": info["project_code"],
               "fields": [{k: f[k] for k in ("name", "sheet", "cell", "role", "label", "input", "value",
                                             "indicator")} for f in info["fields"]],
               "protected": info["protected"], "missing_names": info["missing_names"]}
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    click.echo(f"文件：{info['file']}")
    click.echo(f"表单：{info['form']['id']}  版本：{info['form']['version']}  "
               f"项目编码：{info['project_code'] or '（空白表）'}")
    click.echo(f"工作表保护：{'是' if info['protected'] else '否'}   字段：{len(info['fields'])} 个"
               + (f"   缺少名称：{', '.join(info['missing_names'])}" if info["missing_names"] else ""))
    for f in info["fields"]:
        value = "" if f["value"] is None else str(f["value"]).replace("\n", " ")
        if len(value) > 40:
            value = value[:39] + "…"
        mark = "填" if f["input"] else "  "
        label = str(f["label"]).replace("\n", "")[:24]
        click.echo(f"  {f['cell']:>6} {mark} {f['role']:<18} {label:<24} {value}")


def _jobs_option(fn):
    return click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
                        help="并行进程数（默认：CPU 核数）。")(fn)


def _print_reports(reports, out) -> None:
    from .findings import counts
    for r in reports:
        c = counts(r.findings)
        name = Path(r.path).name
        if r.score:
            score = f"复核 {r.score['total']:6.2f} {r.score['grade']}"
            own = f"自评 {r.self_score:6.2f}" if r.self_score is not None else "自评   未填"
        else:
            score, own = "复核     —  ", "自评     —"
        status = "通过  " if r.valid else "未通过"
        click.echo(f"{status} {score}  {own}  错误 {c['error']:>2} 警告 {c['warning']:>2} 提示 {c['info']:>2}  {name}")
        if not r.score:
            for f in r.findings:
                click.echo(f"         [{f.code}] {f.message}")


@main.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--manifest", required=True, type=click.Path(dir_okay=False), help="生成时写出的 manifest.json。")
@click.option("--out", "out", type=click.Path(file_okay=False), metavar="DIR",
              help="批注工作簿的输出目录（每个报送文件一份，原文件不改动）。")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), metavar="FILE", help="另写一份 JSON 报告。")
@_jobs_option
@templates_option
@_friendly
def validate_cmd(paths, manifest, out, json_path, jobs, templates) -> None:
    """校验回收的工作簿：核对身份与锁定内容、检查规则、按评分规则复核得分、写批注副本。

    退出状态：0 没有文件有错误；1 有文件存在错误；2 无法开始（参数或 manifest 有误）。
    """
    from .progress import progress_for
    from .validate import validate
    run = validate(paths, manifest, out, json_path=json_path, jobs=jobs, templates=_templates(templates),
                   progress=progress_for("校验"))
    _print_reports(run.files, out)
    st = run.stats()
    avg = f"，平均复核得分 {st['average_score']:.2f}" if st["average_score"] is not None else ""
    click.echo(f"共 {st['files']} 个文件：通过 {st['valid']}，未通过 {st['invalid']}；"
               f"错误 {st['errors']}，警告 {st['warnings']}，提示 {st['infos']}{avg}")
    if out:
        click.echo(f"批注工作簿：{out}")
    if json_path:
        click.echo(f"JSON 报告：{json_path}")
    sys.exit(EXIT_OK if st["invalid"] == 0 else EXIT_FINDINGS)


@main.command("consolidate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--manifest", required=True, type=click.Path(dir_okay=False), help="生成时写出的 manifest.json。")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="汇总工作簿（.xlsx），原子写入。")
@_jobs_option
@templates_option
@_friendly
def consolidate_cmd(paths, manifest, out, jobs, templates) -> None:
    """汇总回收（或已批注）的工作簿：汇总表、部门统计、图表、指标明细、问题清单。

    每个 manifest 项目一行（含未提交的）；不属于本批次或无法读取的文件只列入问题清单。
    退出状态：0 已写出汇总（即使文件有问题）；2 无法开始（manifest、输入文件或输出路径有误）。
    """
    from .consolidate import consolidate
    from .progress import progress_for
    r = consolidate(paths, manifest, out, jobs=jobs, templates=_templates(templates),
                    progress=progress_for("汇总"))
    st = r.status
    avg = f"，平均复核得分 {r.average_score:.2f}" if r.average_score is not None else ""
    grades = "、".join(f"{g} {n}" for g, n in r.grades.items() if n)
    click.echo(f"项目 {r.projects} 个：已提交 {st['已提交']}，重复提交 {st['重复提交']}，"
               f"校验未通过 {st['校验未通过']}，未提交 {st['未提交']}{avg}" + (f"（{grades}）" if grades else ""))
    click.echo(f"文件 {r.files} 个：{r.matched_files} 个对应到项目，{len(r.rejected)} 个未计入汇总表"
               f"（不是本批次的工作簿、无法读取或项目不在清单中）")
    for name, reason in r.rejected[:10]:
        click.echo(f"  {name}：{reason}")
    if len(r.rejected) > 10:
        click.echo(f"  …… 另有 {len(r.rejected) - 10} 个，见“问题清单”")
    f = r.findings
    click.echo(f"问题清单 {r.finding_rows} 条（错误 {f['error']}，警告 {f['warning']}，提示 {f['info']}）；"
               f"指标明细 {r.indicator_rows} 行")
    if r.truncated_rows:
        click.echo(f"注意：有 {r.truncated_rows} 行超出 Excel 的行数上限，未写入", err=True)
    click.echo(f"已写出：{r.out_path}（{r.seconds:.1f} 秒）")
    sys.exit(EXIT_OK)


@main.command("rules")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
def rules_cmd(as_json: bool) -> None:
    """列出所有校验规则：代码、级别、含义与修改建议。"""
    from .findings import CATALOGUE, SEVERITY_ZH
    if as_json:
        click.echo(json.dumps([{"code": r.code, "severity": r.severity, "title": r.title, "hint": r.hint}
                               for r in CATALOGUE.values()], ensure_ascii=False, indent=1))
        return
    for r in CATALOGUE.values():
        click.echo(f"{r.code}  {SEVERITY_ZH[r.severity]}  {r.title}")
        click.echo(f"        {r.hint}")


@main.command("demo")
@click.option("--out", "out", default="demo-output", show_default=True, type=click.Path(file_okay=False),
              help="演示输出目录。")
@_friendly
def demo_cmd(out: str) -> None:
    """用自带样例走一遍：生成模板 → 校验回收表（含批注）→ 汇总。"""
    from .demo import run_demo
    code = run_demo(Path(out), echo=click.echo)
    sys.exit(code)


_USAGE_ZH = [
    (r"Missing option '([^']+)'.*", r"缺少选项 \1"),
    (r"Missing argument '([^']+)'.*", r"缺少参数 \1"),
    (r"No such option: (\S+).*", r"没有这个选项：\1"),
    (r"No such command '([^']+)'.*", r"没有这个命令：\1（可用：forms、generate、inspect、validate、consolidate、rules、demo）"),
    (r"Invalid value for '([^']+)': (.*)", r"选项或参数 \1 的值无效：\2"),
    (r"Got unexpected extra arguments? \((.*)\)", r"多余的参数：\1"),
    (r"Option '([^']+)' requires an argument.*", r"选项 \1 需要一个值"),
]
# click's reasons for refusing a path, inside "Invalid value for …"
_PATH_ZH = [(rf"(?:File|Directory|Path) '(.+?)' {reason}\.", rf"“\1”{zh}") for reason, zh in (
    ("is a directory", "是文件夹，这里应为文件"), ("is a file", "是文件，这里应为文件夹"), ("does not exist", "不存在"),
    ("is not readable", "无法读取（没有权限）"), ("is not writable", "无法写入（没有权限）"))]


def run() -> None:
    """Console entry point: click's own usage errors in Chinese too, exit status 2."""
    import re
    try:
        main.main(standalone_mode=False)
    except click.exceptions.UsageError as exc:
        message = exc.format_message()
        for pattern, zh in _USAGE_ZH:
            if re.match(pattern, message, re.S):
                message = re.sub(pattern, zh, message, count=1, flags=re.S)
                break
        for pattern, zh in _PATH_ZH:
            message = re.sub(pattern, zh, message)
        command = exc.ctx.command_path if exc.ctx else "xlform"
        click.echo(f"用法错误：{message}\n运行 {command} --help 查看用法。", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("已中断。", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":  # pragma: no cover
    run()

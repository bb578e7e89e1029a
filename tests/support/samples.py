"""The sample set for the validator tests: the issued templates + manifest, and the seed's values.

The committed returned workbooks (sample_workbooks/returned/, made by
tools/make_returned_samples.py) are validated against a manifest generated afresh from
sample_workbooks/projects.xlsx: generation is deterministic, so the fingerprints match the
committed files.  Everything here is a plain function, cached once per test process (no pytest
fixtures, so any test module can use it without conftest.py).
"""
from __future__ import annotations

import atexit
import functools
import hashlib
import re
import shutil
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RETURNED = REPO / "sample_workbooks" / "returned"
PROJECTS = REPO / "sample_workbooks" / "projects.xlsx"
TOOLS = REPO / "tools"

SEED_CODE = "450900210340100004007"         # the Yulin seed project (forms.md §1)
CLEAN_CODE = "450900210340100005001"        # Yulin, returned clean
NATIONAL_CODE = "450900220370200002002"     # national form, 无 groups and 定性 rows, returned clean
TAMPERED_CODE = "450900210350100002001"     # protection removed, a target changed, a text date

CJK = re.compile(r"[\u4e00-\u9fff]")
A1 = re.compile(r"^[A-Z]{1,3}[1-9][0-9]*$")

if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))


def tools():
    """tools/make_returned_samples.py and tools/fill.py as modules."""
    import fill
    import make_returned_samples
    return SimpleNamespace(fill=fill, samples=make_returned_samples)


@functools.lru_cache(maxsize=None)
def issued() -> SimpleNamespace:
    """The sample templates generated once into a temp dir: dir, manifest path, entries and files by code."""
    from xlform.generate import generate
    from xlform.manifest import Manifest

    out = Path(tempfile.mkdtemp(prefix="xlform-issued-"))
    atexit.register(shutil.rmtree, out, True)
    result = generate(PROJECTS, out / "issued")
    manifest = Manifest.load(result.manifest_path)
    entries = manifest.by_code()
    return SimpleNamespace(dir=result.out_dir, manifest_path=result.manifest_path, manifest=manifest,
                           entries=entries, files={c: result.out_dir / e.file for c, e in entries.items()})


def layout_for(code: str):
    """The Layout of an issued project, rebuilt from its manifest entry (as the validator does)."""
    from xlform.layout import build_layout
    from xlform.projects import Project
    from xlform.spec import get_form

    e = issued().entries[code]
    return build_layout(get_form(e.form_id), Project.from_dict(e.project), e.year)


def seed_values() -> dict[str, Any]:
    """The seed form's own values (SEED_FIELDS + SEED_ACTUALS), by field name."""
    s = tools().samples
    return {**s.SEED_FIELDS, **s.indicators(s.SEED_ACTUALS)}


def returned(code: str, contains: str = "") -> Path:
    """The committed returned workbook of project `code` (whose name contains `contains`)."""
    hits = sorted(p for p in RETURNED.glob(f"*_{code}_*.xlsx") if contains in p.name)
    if not hits:
        raise FileNotFoundError(f"no returned sample for {code} {contains!r} in {RETURNED}")
    return hits[0]


def seed_returned() -> Path:
    return returned(SEED_CODE, "原表数据")


def fill(code: str, values: dict[str, Any], out: Path, **kw) -> Path:
    """A returned workbook for project `code`, filled like Excel would save it (tools/fill.py)."""
    return tools().fill.fill_workbook(issued().entries[code], values, out, **kw)


def sha256_tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def has_cjk(text: str | None) -> bool:
    return bool(text and CJK.search(text))

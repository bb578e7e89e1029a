"""Fuzz the validator with mutated returned workbooks (hypothesis): bytes of the zip, XML elements and
attributes of every part, and cell values of the form sheet.

Whatever the mutation, check_file never raises, `xlform validate` exits 0 or 1 (never 3, never a
traceback), the input file is unchanged, and nothing is written outside the --out folder.
Bounded: 60 examples, about 20 s; XLFORM_FUZZ_EXAMPLES=2000 for a longer run.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlform.cli import main
from xlform.generate import generate
from xlform.manifest import Manifest
from xlform.spec import available_forms
from xlform.validate import check_file
from tests.support.hostile import (CLEAN_CODE, FORM_SHEET, NATIONAL_CODE, PROJECTS, SEED_CODE, cell_xml,
                                   clean_values, fill_module, members)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz-issued")
    result = generate(PROJECTS, out / "issued")
    manifest = Manifest.load(result.manifest_path)
    fill = fill_module().fill_workbook
    e = manifest.by_code()
    D = __import__("datetime").datetime
    bases = [
        fill(e[CLEAN_CODE], clean_values(), out / "clean.xlsx"),
        fill(e[SEED_CODE], {"self_score": 88.33, "ind_003_actual": "20套", "ind_003_reason": "电脑硬件跟不上",
                            "start_date": D(2021, 1, 1)}, out / "seed.xlsx", unprotect=True,
             formulas_without_value=["ind_001_actual"]),
        fill(e[NATIONAL_CODE], {"executed_total": 181.6, "executed_current": 181.6, "self_score": 100},
             out / "national.xlsx"),
    ]
    return SimpleNamespace(manifest_path=result.manifest_path, manifest=manifest, forms=available_forms(),
                           bases=[(p.name, p.read_bytes(), members(p)) for p in bases])


# ---------------------------------------------------------------- mutations

def _rezip(parts: dict[str, bytes]) -> bytes:
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


_ELEMENT = re.compile(rb"<([A-Za-z][\w:]*)\b[^<>]*?(?:/>|>[^<]*</\1>)")
_ATTR = re.compile(rb'(\w+)="[^"]*"')
_CELL = re.compile(rb"<c\b[^>]*?(?:/>|>.*?</c>)", re.S)

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
odd_values = st.one_of(
    text,
    st.sampled_from(["=cmd|'/c calc'!A1", "@SUM(1)", "+1", "-1", "2021-12-31", "91.56", "1,200", "≥95%", "NaN",
                     "inf", "-0", "1e308", "\u202e", "\x00", "'", "<", "&amp;", "无", "一项", "0", ""]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.tuples(st.just("f"), st.sampled_from(["SUM(1,2)", "1/0", "A1", "INDIRECT(\"XFD1048576\")", ""])),
)
far_refs = st.sampled_from(["A1", "XFD1", "A1048576", "XFD1048576", "ZZZ1", "A0", "AAAA9", "B2", "H45", "G4"])


@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    out = bytearray(data)
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "zero_run"]))
    if kind == "truncate":
        return bytes(out[: draw(st.integers(0, len(out)))])
    if kind == "insert":
        at = draw(st.integers(0, len(out)))
        return bytes(out[:at]) + draw(st.binary(min_size=1, max_size=64)) + bytes(out[at:])
    if kind == "zero_run":
        at = draw(st.integers(0, len(out) - 1))
        n = draw(st.integers(1, 512))
        out[at:at + n] = bytes(min(n, len(out) - at))
        return bytes(out)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(out) - 1))
        out[at] = draw(st.integers(0, 255))
    return bytes(out)


@st.composite
def xml_mutation(draw, parts: dict[str, bytes]) -> bytes:
    parts = dict(parts)
    name = draw(st.sampled_from(sorted(n for n in parts if n.endswith((".xml", ".rels")))))
    data = parts[name]
    kind = draw(st.sampled_from(["drop_element", "dup_element", "attr", "garbage", "drop_part", "swap_text"]))
    elements = list(_ELEMENT.finditer(data))
    if kind == "drop_part":
        del parts[name]
    elif kind in ("drop_element", "dup_element") and elements:
        m = elements[draw(st.integers(0, len(elements) - 1))]
        rep = b"" if kind == "drop_element" else m.group(0) * 2
        parts[name] = data[:m.start()] + rep + data[m.end():]
    elif kind == "attr":
        attrs = list(_ATTR.finditer(data))
        if attrs:
            m = attrs[draw(st.integers(0, len(attrs) - 1))]
            value = draw(st.one_of(text, far_refs, st.sampled_from(["-1", "99999999999", "", "#REF!"])))
            value = value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
            parts[name] = data[:m.start()] + m.group(1) + b'="' + value.encode() + b'"' + data[m.end():]
    elif kind == "swap_text":
        texts = list(re.finditer(rb">([^<]+)<", data))
        if texts:
            m = texts[draw(st.integers(0, len(texts) - 1))]
            value = draw(text).replace("&", "&amp;").replace("<", "&lt;").encode()
            parts[name] = data[:m.start(1)] + value + data[m.end(1):]
    else:
        at = draw(st.integers(0, len(data)))
        parts[name] = data[:at] + draw(st.sampled_from([b"<", b"&", b"]]>", b"<x>", b"\xff\xfe", b"</row>"])) + data[at:]
    return _rezip(parts)


@st.composite
def cell_mutation(draw, parts: dict[str, bytes]) -> bytes:
    parts = dict(parts)
    data = parts[FORM_SHEET]
    for _ in range(draw(st.integers(1, 6))):
        cells = list(_CELL.finditer(data))
        m = cells[draw(st.integers(0, len(cells) - 1))]
        ref = re.search(rb'r="([A-Z]+\d+)"', m.group(0)).group(1).decode()
        if draw(st.booleans()):
            ref = draw(st.one_of(st.just(ref), far_refs))
        value = draw(odd_values)
        if isinstance(value, float) and value != value:
            new = f'<c r="{ref}"><v>NaN</v></c>'.encode()
        elif isinstance(value, float) and value in (float("inf"), float("-inf")):
            new = f'<c r="{ref}"><v>{"-" if value < 0 else ""}INF</v></c>'.encode()
        elif isinstance(value, str) and value.startswith("#"):
            new = f'<c r="{ref}" t="e"><v>{value}</v></c>'.encode()
        else:
            new = cell_xml(ref, value)
        data = data[:m.start()] + new + data[m.end():]
    parts[FORM_SHEET] = data
    return _rezip(parts)


class Case:
    """A mutated workbook; its repr stays short (hypothesis prints it on failure)."""

    def __init__(self, name: str, how: str, data: bytes):
        self.name, self.how, self.data = name, how, data

    def __repr__(self) -> str:
        return f"Case({self.name!r}, {self.how!r}, {len(self.data)} bytes, sha256={hashlib.sha256(self.data).hexdigest()[:16]})"


@st.composite
def mutated(draw, bases):
    name, raw, parts = draw(st.sampled_from(bases))
    how = draw(st.sampled_from(["bytes", "xml", "cells", "cells", "xml"]))
    if how == "bytes":
        return Case(name, how, draw(byte_mutation(raw)))
    if how == "xml":
        return Case(name, how, draw(xml_mutation(parts)))
    return Case(name, how, draw(cell_mutation(parts)))


# ---------------------------------------------------------------- the property

def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_validator_survives_mutated_workbooks(world):
    runner = CliRunner()

    @settings(max_examples=int(os.environ.get("XLFORM_FUZZ_EXAMPLES", 60)), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutated(world.bases))
    def run(case):
        name, data = case.name, case.data
        with tempfile.TemporaryDirectory(prefix="xlform-fuzz-") as tmp:
            root = Path(tmp)
            (root / "in").mkdir()
            src = root / "in" / name
            src.write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            before = _tree(root)

            direct = root / "direct"                                            # check_file's own output
            report, _, _ = check_file(src, world.manifest, world.forms, direct / "x-批注.xlsx")   # must not raise
            assert report.findings or report.score is not None

            out = root / "out"
            result = runner.invoke(main, ["validate", str(root / "in"), "--manifest", str(world.manifest_path),
                                          "--out", str(out), "--json", str(out / "report.json"), "-j", "1"])
            assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
            assert "Traceback" not in result.output and "内部错误" not in result.output
            assert "处理时出错" not in result.output
            assert hashlib.sha256(src.read_bytes()).hexdigest() == digest
            created = _tree(root) - before
            assert all(p.split("/")[0] in ("out", "direct") for p in created), created
            assert not [p for p in created if Path(p).name.startswith(".~")], created   # no temp leftovers

    run()

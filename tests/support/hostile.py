"""Build hostile and broken workbooks for tests/test_hostile.py and tests/test_fuzz.py.

Everything works on bytes: a valid workbook (generated, then filled like a department would with
tools/fill.py) is rewritten member by member, or a zip is written by hand when the zip itself must
lie (sizes, ratios) in ways the zipfile module refuses to produce.
"""
from __future__ import annotations

import hashlib
import re
import struct
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterable

REPO = Path(__file__).resolve().parents[2]
PROJECTS = REPO / "sample_workbooks" / "projects.xlsx"
TOOLS = REPO / "tools"

SEED_CODE = "450900210340100004007"      # Yulin form, the seed project
CLEAN_CODE = "450900210340100005001"     # Yulin form, filled clean below
OTHER_YULIN = "450900210350200001003"    # another Yulin project of the same manifest
NATIONAL_CODE = "450900220370200002002"  # national form

FORM_SHEET = "xl/worksheets/sheet1.xml"  # xlsxwriter writes the form sheet first
META_SHEET_XML = "xl/worksheets/sheet2.xml"

D = __import__("datetime").datetime
CLEAN_VALUES = {
    "fund_central": 80.0, "fund_region": 40.0, "execution_rate": 0.985, "self_score": 99.85,
    "start_date": D(2021, 1, 1), "end_date": D(2021, 12, 31), "progress": "已完成",
    "filled_by": "张会计", "phone": "0775-2800000", "filled_on": D(2022, 3, 10),
}
CLEAN_ACTUALS = [("836人", ""), ("12期", ""), ("152个", ""), ("93.5%", ""), ("100%", ""), ("97%", ""),
                 ("2021年12月20日", ""), ("78.6万元", ""), ("39.6万元", ""), (None, None),
                 ("达成预期指标", ""), (None, None), ("达成预期指标", ""), ("94.2%", "")]


def fill_module():
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    import fill
    return fill


def clean_values() -> dict:
    out = dict(CLEAN_VALUES)
    for n, (actual, reason) in enumerate(CLEAN_ACTUALS, start=1):
        if actual:
            out[f"ind_{n:03d}_actual"] = actual
        if reason:
            out[f"ind_{n:03d}_reason"] = reason
    return out


def sha256_tree(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- rewriting members

def rewrite(src: Path, dst: Path, fn: Callable[[str, bytes], bytes | None],
            add: dict[str, bytes] | None = None) -> Path:
    """Copy src to dst, passing each member through fn(name, data) (None drops it); add members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = fn(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist()}


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cell_xml(ref: str, value, style: str = "") -> bytes:
    """A <c> element: str -> inline string, float/int -> number, ('f', formula) -> formula, no value."""
    s = f' s="{style}"' if style else ""
    if isinstance(value, tuple) and value[0] == "f":
        return f'<c r="{ref}"{s}><f>{_xml_text(value[1])}</f></c>'.encode()
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'.encode()
    return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{_xml_text(str(value))}</t></is></c>'.encode()


_CELL = r'<c r="{ref}"(?P<attrs>[^>]*?)(?:/>|>.*?</c>)'


def set_cells(data: bytes, cells: dict[str, object]) -> bytes:
    """Replace cells (which must exist, e.g. written blank by xlsxwriter) in a sheet's XML."""
    for ref, value in cells.items():
        pat = re.compile(_CELL.format(ref=ref).encode(), re.S)
        m = pat.search(data)
        assert m, f"no cell {ref} in the sheet XML"
        style = re.search(rb'\bs="(\d+)"', m.group("attrs"))
        data = data[:m.start()] + cell_xml(ref, value, style.group(1).decode() if style else "") + data[m.end():]
    return data


def with_cells(src: Path, dst: Path, cells: dict[str, object], member: str = FORM_SHEET) -> Path:
    return rewrite(src, dst, lambda n, d: set_cells(d, cells) if n == member else d)


# ---------------------------------------------------------------- zips that lie

def raw_zip(path: Path, entries: Iterable[tuple[str, bytes, int, int, int]]) -> Path:
    """Write a zip by hand: entries of (name, raw data, crc, declared uncompressed size, method).

    `raw data` is written as is (already deflated for method 8), so the declared size and CRC can
    be anything: what a malicious file would claim.
    """
    out = bytearray()
    central = bytearray()
    count = 0
    for name, raw, crc, size, method in entries:
        n = name.encode("utf-8")
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, method, 0, 0x21, crc & 0xFFFFFFFF,
                           len(raw), size, len(n), 0) + n + raw
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x800, method, 0, 0x21,
                               crc & 0xFFFFFFFF, len(raw), size, len(n), 0, 0, 0, 0, 0, offset) + n
        count += 1
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), cd_offset, 0)
    path.write_bytes(bytes(out))
    return path


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def deflated_entries(src: Path) -> list[tuple[str, bytes, int, int, int]]:
    """Every member of a real workbook, honestly, for raw_zip."""
    return [(name, deflate(data), zlib.crc32(data), len(data), 8) for name, data in members(src).items()]


def zeros_deflated(mib: int) -> tuple[bytes, int]:
    """A raw deflate stream of `mib` MiB of zeros (about 1 KB per MiB) and its CRC, built without
    compressing `mib` MiB: one fully flushed block of 1 MiB of zeros repeated, then a final block."""
    chunk = b"\0" * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush()      # an empty final block
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    return block * mib + tail, crc


# ---------------------------------------------------------------- XML entity attacks

LAUGHS = (b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%s;" % (str(i - 1).encode() if i > 1 else b"")) * 10)
                     for i in range(1, 10))
          + b"]>")
XXE = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def with_doctype(data: bytes, dtd: bytes, ref: bytes) -> bytes:
    """Put `dtd` after the XML declaration and use the entity `ref` in the first text node."""
    decl = re.match(rb"<\?xml[^>]*\?>\s*", data)
    head = decl.group(0) if decl else b""
    body = data[len(head):]
    m = re.search(rb">([^<]+)<", body)
    if m:   # a text node: append the entity reference to it
        body = body[:m.end(1)] + ref + body[m.end(1):]
    return head + dtd + body

"""Read a returned workbook safely and fast: container checks, metadata, defined names, values.

Order matters (lessons.md, FAC): first is it a readable workbook at all (and not a zip bomb, not
encrypted, not a renamed .docx), then whose is it (metadata, defined names), then its values.
Values come from python-calamine (Rust, several times faster than openpyxl); the small XML parts
calamine does not expose (defined names, custom properties, sheet protection, formulas without a
cached value) are checked with expat (no DTD) and scanned as text or bytes. The file is opened once,
read-only, and never written: calamine reads the very bytes that were checked.
"""
from __future__ import annotations

import datetime as dt
import functools
import io
import math
import os
import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from xml.parsers import expat

from .errors import XlformError
from .fastzlib import crc32
from .inputs import open_regular

# Limits checked before anything is parsed (docs/security.md).
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200            # per zip member over 1 MiB
MAX_MEMBERS = 2000
MAX_CELLS = 2_000_000      # per sheet: A1 to the farthest cell holding something (calamine allocates it densely)
_CHUNK = 1 << 20

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The hidden metadata sheet (form id, version, project code, fingerprint; the field catalogue), named
# here and imported by workbook.py: workbook.py imports XlsxWriter (~70 ms), which a check never needs.
META_SHEET = "_xlform"
_REF_RE = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]{1,3})\$?(\d+)(?::\$?[A-Z]{1,3}\$?\d+)?$")


class ReadError(XlformError):
    """A file that cannot be read as one of our workbooks; `code` is its finding code."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


@dataclass
class SheetData:
    name: str
    start: tuple[int, int]
    rows: list[list[Any]]
    protected: bool = False
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)
    formulas: set[tuple[int, int]] = field(default_factory=set)

    def value(self, row: int, col: int) -> Any:
        r, c = row - self.start[0], col - self.start[1]
        if 0 <= r < len(self.rows) and 0 <= c < len(self.rows[r]):
            v = self.rows[r][c]
            if isinstance(v, float) and not math.isfinite(v):
                return "#NUM!"     # NaN/INF in the XML: no spreadsheet stores it; Excel shows #NUM!
            return None if v == "" else v
        return None


@dataclass
class WorkbookData:
    path: Path
    sheet_names: list[str]
    meta: dict[str, str]                       # the hidden metadata sheet
    properties: dict[str, str]                 # custom document properties
    names: dict[str, tuple[str, int, int]]     # defined name -> (sheet, row, col), 0-based
    sheets: dict[str, SheetData]
    application: str = ""
    # sheets not loaded: name -> (finding code, Chinese reason); e.g. a cell at XFD1048576
    unread_sheets: dict[str, tuple[str, str]] = field(default_factory=dict)
    deleted_names: set[str] = field(default_factory=set)   # defined names whose cells were deleted (#REF!)

    def value_at(self, sheet: str, row: int, col: int) -> Any:
        s = self.sheets.get(sheet)
        return s.value(row, col) if s else None


class _Package:
    """A sniffed .xlsx: the file's bytes, its zip directory and its XML parts.

    sniff() decompresses every member once to check it; the XML parts it has just inflated are kept
    (up to _KEEP_BYTES in all) so that reading them, and giving calamine the file, needs neither a
    second decompression nor a second open.
    """

    def __init__(self, raw: bytes, zf: zipfile.ZipFile, xml: dict[str, bytes], unreadable: set[str]):
        self.raw, self.zf, self.xml, self.unreadable = raw, zf, xml, unreadable

    def read(self, name: str) -> bytes:
        """A member's bytes; KeyError when there is none."""
        if name in self.unreadable:
            raise zipfile.BadZipFile(f"{name!r} cannot be read")
        data = self.xml.get(name)
        return data if data is not None else self.zf.read(name)

    def members_for(self, target: str) -> list[str]:
        """The members a reader might open for a relationship's target: the normalised path (first),
        the path as written, and any member whose name differs from either only in case (calamine
        matches names without regard to case, so the guard must measure those too)."""
        lower = self.__dict__.get("_lower")
        if lower is None:
            lower = self._lower = {}
            for n in self.zf.namelist():
                lower.setdefault(n.lower(), []).append(n)
        wanted = [posixpath.normpath(target), target]
        names = [n for n in wanted if n in self.zf.NameToInfo]
        names += [n for w in wanted for n in lower.get(w.lower(), ())]
        return list(dict.fromkeys(names))


def sniff(path: Path) -> _Package:
    """Refuse what is not a safe .xlsx before any parser sees it."""
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size   # the file opened, not the path looked up again
            raw = fh.read(size + 1 if 0 < size <= MAX_FILE_BYTES else 8)   # sized by stat(): no 50 MB buffer
            if len(raw) > size > 0:   # it has grown since stat(): the rest, still bounded
                raw += fh.read(MAX_FILE_BYTES + 1 - len(raw))
    except OSError as exc:
        raise ReadError("XF001", f"无法读取文件：{exc.strerror or exc}") from None
    if size == 0:
        raise ReadError("XF002", "文件是空的（0 字节）")
    size = max(size, len(raw))
    if size > MAX_FILE_BYTES:
        raise ReadError("XF005", f"文件过大（{size / 1048576:.1f} MB，上限 {MAX_FILE_BYTES // 1048576} MB）")
    head = raw[:8]
    if head.startswith(_OLE_MAGIC):
        if _is_encrypted_ole(path):
            raise ReadError("XF004", "工作簿设置了打开密码（已加密），无法读取；请部门取消密码后重新报送")
        raise ReadError("XF006", "这是旧版 Excel 97-2003 (.xls) 文件；请在 Excel 或 WPS 中“另存为” .xlsx 后重新报送")
    if not head.startswith(b"PK"):
        kind = "PDF 文件" if head.startswith(b"%PDF") else "文本或其他格式的文件"
        raise ReadError("XF002", f"不是 Excel 工作簿（.xlsx），看起来是{kind}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except Exception:  # noqa: BLE001 - BadZipFile, OSError, and odd ones (ValueError, EOFError) on crafted files
        raise ReadError("XF002", "文件已损坏或不完整（不是有效的 .xlsx 压缩包）") from None
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ReadError("XF005", f"压缩包内文件过多（{len(infos)} 个），疑似恶意文件")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 1048576 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ReadError("XF005", f"压缩比异常（{info.filename}），疑似“压缩炸弹”，已拒绝读取")
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ReadError("XF005", f"解压后过大（{total / 1048576:.0f} MB），疑似“压缩炸弹”，已拒绝读取")
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        if "word/document.xml" in names:
            raise ReadError("XF002", "这是 Word 文档（.docx），不是 Excel 工作簿")
        if "ppt/presentation.xml" in names:
            raise ReadError("XF002", "这是 PowerPoint 演示文稿（.pptx），不是 Excel 工作簿")
        if "xl/workbook.bin" in names:
            raise ReadError("XF006", "这是 Excel 二进制工作簿（.xlsb）；请在 Excel 中“另存为” .xlsx 后重新报送")
        if "content.xml" in names:
            raise ReadError("XF006", "这是 OpenDocument 表格（.ods）或其他格式；请在 WPS/Excel/LibreOffice 中"
                                     "“另存为” Excel 工作簿（.xlsx）后重新报送")
        raise ReadError("XF002", "不是 Excel 工作簿（压缩包中没有 xl/workbook.xml）")
    return _Package(raw, zf, *_check_members(raw, infos))


_DTD_RE = re.compile(rb"<!\s*(?:doctype|entity)", re.I)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe", b"\xfe\xff")
_KEEP_BYTES = 32 << 20     # XML parts kept from the check for reading (a returned form has ~100 KB)


def _check_members(raw: bytes, infos: list[zipfile.ZipInfo]) -> tuple[dict[str, bytes], set[str]]:
    """Decompress every member once, bounded, before any parser sees it; return the XML parts
    (while they fit in _KEEP_BYTES) and the members the zipfile module would refuse to read (a local
    header naming another file; patched or strongly encrypted data), which are refused if read.

    The sizes in the zip directory are claims: each member is inflated here in 1 MiB steps and
    refused as soon as it yields more than it declared (a bomb that lies about its size), and
    checked against its CRC. Every member that is XML (whatever its name: a relationship can point
    anywhere) is scanned for a DOCTYPE or ENTITY declaration, which no Office file has: entity
    expansion ("billion laughs") and external entities (file:///etc/passwd) are refused here, so
    neither calamine nor our own XML parsing ever sees a DTD.
    """
    seen: set[str] = set()
    kept: dict[str, bytes] = {}
    unreadable: set[str] = set()
    room = _KEEP_BYTES
    view = memoryview(raw)
    for info in infos:
        name = info.filename
        if name in seen:
            raise ReadError("XF005", f"压缩包内有两个同名文件“{name}”，疑似恶意构造，已拒绝读取")
        seen.add(name)
        if name.endswith("/") and info.file_size == 0:
            continue
        if info.flag_bits & 0x1:
            raise ReadError("XF004", f"压缩包内的文件“{name}”被加密，无法读取；请部门取消密码后重新报送")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ReadError("XF002", f"文件已损坏或不是 Excel 保存的（“{name}”使用了不支持的压缩方式 "
                                     f"{info.compress_type}）")
        xml, local_name = _check_member(view, info, room)
        if local_name != info.orig_filename or info.flag_bits & 0x60:
            unreadable.add(name)
        if xml is not None and len(xml) <= room:
            kept[name] = xml
            room -= len(xml)
    return kept, unreadable


def _check_member(raw: memoryview, info: zipfile.ZipInfo, keep: int = _KEEP_BYTES) -> tuple[bytes | None, str]:
    """(the member's content if it is XML of at most `keep` bytes, else None; the file name its local
    header gives). A larger part is not collected: memory stays bounded by the 1 MiB steps."""
    name = info.filename
    at = info.header_offset
    head = bytes(raw[at:at + 30]) if at >= 0 else b""
    if len(head) != 30 or head[:4] != b"PK\x03\x04":
        raise _broken(name)
    flags, n, m = struct.unpack("<H", head[6:8])[0], *struct.unpack("<HH", head[26:30])
    local = bytes(raw[at + 30:at + 30 + n])
    # (an ASCII name reads the same in both encodings; the cp437 codec is a slow Python one)
    local_name = local.decode("ascii") if local.isascii() else \
        local.decode("utf-8" if flags & 0x800 else "cp437", "replace")
    pos = at + 30 + n + m
    left = info.compress_size
    produced, crc = 0, 0
    is_xml: bool | None = None
    wide = False
    carry = b""
    probe = b""      # the first bytes, until there are enough to tell XML (and UTF-16) from the rest
    chunks: list[bytes] = []
    inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    pending: bytes | memoryview = b""
    while True:
        if not pending and left > 0:
            pending = raw[pos:pos + min(_CHUNK, left)]
            if not pending:
                raise _broken(name)
            pos += len(pending)
            left -= len(pending)
        if inflate is None:
            if not pending:
                break
            out, pending = bytes(pending), b""
        else:
            try:
                # at most 1 MiB out per step; asking for no more than the declared size (+1, to see a
                # liar) lets zlib fill one buffer of the right size instead of growing and joining blocks
                due = info.file_size - produced
                out = inflate.decompress(pending, due + 1 if 0 <= due < _CHUNK else _CHUNK)
            except zlib.error:
                raise _broken(name) from None
            pending = inflate.unconsumed_tail
            if not out and not pending and left <= 0 and not inflate.eof:
                break   # input used up, stream unfinished: truncated
        produced += len(out)
        if produced > info.file_size + _CHUNK:   # a little over is damage (CRC fails below); far over is a bomb
            raise ReadError("XF005", f"“{name}”解压后远大于压缩包记录的 {info.file_size} 字节，"
                                     f"疑似“压缩炸弹”，已拒绝读取")
        crc = crc32(out, crc)
        if is_xml is None and out:
            # decided on 64 bytes, not on the first output: a deflate stream can open with empty
            # blocks so that the first step yields a single "<", and UTF-16 would not look wide
            probe += out
            if len(probe) < 64:
                out = b""
            else:
                is_xml, wide = _xml_kind(probe)
                out = probe
        if is_xml:
            carry = _scan_dtd(name, carry, out.replace(b"\x00", b"") if wide else out)
            if produced <= keep:
                chunks.append(out)
            elif chunks:
                chunks = []     # too large to keep: let what was collected go
        if inflate is not None and inflate.eof:
            break
    if inflate is not None and not inflate.eof:
        raise _broken(name)
    if is_xml is None and probe:   # a member shorter than 64 bytes
        is_xml, wide = _xml_kind(probe)
        if is_xml:
            _scan_dtd(name, b"", probe.replace(b"\x00", b"") if wide else probe)
            chunks.append(probe)
    if produced != info.file_size or crc != (info.CRC & 0xFFFFFFFF):
        raise _broken(name)
    return (b"".join(chunks) if is_xml and produced <= keep else None), local_name


def _xml_kind(start: bytes) -> tuple[bool, bool]:
    """(is it XML, is it UTF-16 or UTF-32) from a member's first 64 bytes or more.

    XML is what starts with "<" after a byte-order mark and white space; a start that is all white
    space counts as XML too (XML may open with white space before a DOCTYPE: scanning it costs
    nothing, leaving it unscanned would let a DTD through)."""
    for bom in _BOMS:
        if start.startswith(bom):
            start = start[len(bom):]
            break
    start = start[:64]
    body = start.replace(b"\x00", b"").lstrip()
    return (not body or body.startswith(b"<")), b"\x00" in start


def _scan_dtd(name: str, carry: bytes, text: bytes) -> bytes:
    """Refuse a DOCTYPE or ENTITY declaration in `text` (the part's next bytes, zero bytes removed
    for UTF-16/32) or across its join with the end of the previous bytes; the new end to carry."""
    text = carry + text
    if b"!" in text and _DTD_RE.search(text):   # one byte: memchr speed; most parts have no "!"
        raise ReadError("XF005", f"“{name}”含有 XML 文档类型或实体声明（<!DOCTYPE/<!ENTITY），可能是"
                                 f"“实体扩展”或“外部实体”攻击文件，已拒绝读取")
    return text[-32:]


def _broken(name: str) -> ReadError:   # made only when raised: most members are fine
    return ReadError("XF002", f"文件已损坏或不完整（压缩包内“{name}”无法解压）")


def _is_encrypted_ole(path: Path) -> bool:
    try:
        import msoffcrypto
        with open(path, "rb") as fh:
            return bool(msoffcrypto.OfficeFile(fh).is_encrypted())
    except Exception:  # noqa: BLE001 - an unreadable OLE file is simply "not encrypted as far as we can tell"
        return False


def open_calamine(path: Path, max_cells: int = MAX_CELLS):
    """A calamine workbook behind sniff() and the per-sheet cell-area limit (see GuardedWorkbook).

    `max_cells` is raised only for the bureau's own project list (a province's list is larger)."""
    pkg = sniff(Path(path))
    try:
        book = _book_xml(pkg)
        extents = _extents(_sheet_parts(pkg, book, _relationships(pkg)), max_cells)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError):
        raise ReadError("XF002", "文件已损坏或不完整（不是有效的 .xlsx 压缩包）") from None
    return _open_guarded(pkg, extents, max_cells)


class GuardedWorkbook:
    """A CalamineWorkbook that will not load a sheet it cannot hold safely.

    calamine turns a sheet into a dense grid from A1 (or its first cell) to its last cell: one
    value at XFD1048576 asks for 17 billion cells, and the allocation failure aborts the whole
    process (not an exception). So every sheet's XML is scanned first and a sheet whose area is
    over MAX_CELLS, or whose XML could not be found to scan, raises ReadError instead.
    """

    def __init__(self, book, refused: dict[str, tuple[str, str]]):
        self._book = book
        self.refused = refused

    @property
    def sheet_names(self) -> list[str]:
        return list(self._book.sheet_names)

    def get_sheet_by_name(self, name: str):
        if name in self.refused:
            raise ReadError(*self.refused[name])
        return self._book.get_sheet_by_name(name)

    def get_sheet_by_index(self, index: int):
        return self.get_sheet_by_name(self.sheet_names[index])

    def __getattr__(self, attr: str):
        return getattr(self._book, attr)


def _open_guarded(pkg: _Package, extents: dict[str, tuple[int, int, str]],
                  max_cells: int = MAX_CELLS) -> GuardedWorkbook:
    from python_calamine import CalamineWorkbook
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(pkg.raw))   # the bytes sniff() checked, not the path again
        names = list(book.sheet_names)
    except Exception as exc:  # noqa: BLE001 - calamine raises several of its own types
        raise ReadError("XF002", f"工作簿无法解析：{exc}") from None
    refused: dict[str, tuple[str, str]] = {}
    for name in names:
        if name not in extents:
            refused[name] = ("XF002", f"工作表“{name}”的内容在压缩包中找不到，无法读取")
            continue
        rows, cols, far = extents[name]
        if rows * cols > max_cells:
            refused[name] = ("XF005", f"工作表“{name}”的内容延伸到 {far} 单元格（约 {rows * cols:,} 个单元格），"
                                      f"超出安全上限 {max_cells:,}；请删除多余的行和列（或该单元格的内容）后重新报送")
    return GuardedWorkbook(book, refused)


# ---------------------------------------------------------------- sheet XML, scanned as bytes

# the r attribute however quoted and spaced (r = '5' is as good as r="5" to calamine), not a prefixed x:r
_ROW_R = re.compile(rb"""(?<![\w:.-])r\s*=\s*(["'])(\d+)\1""")
_CELL_R = re.compile(rb"""(?<![\w:.-])r\s*=\s*(["'])([A-Za-z]+)(\d+)\1""")


_FAST_REF = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"')
_ANY_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s/>]")
# a cell tag that is not `<c r="` + at most 2 letters and 3 digits + `"` and then at most s="…" and t="…",
# exactly as writers put them (so no second r: see _SECOND_R); prefixed tags are looked for apart
# (possessive: each part is followed by a character it cannot match, so giving back never helps;
# without backtracking points the shape of each of a metadata sheet's ~700 cells is checked ~35% faster)
_NOT_SMALL_CELL = re.compile(rb'<c(?:[\t\n\r\f\v/>]| (?!r="[A-Z]{1,2}+\d{1,3}+"(?: s="\d++")?+(?: t="\w++")?+/?+>))')
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
_SMALL = (999, 702, "ZZ999")     # 701,298 cells
# the same with one letter and at most five digits: a bound only where that many cells are allowed
# (a project list: 27,000 indicator rows of 20 columns are read in one C-speed scan, not per cell)
_NOT_NARROW_CELL = re.compile(rb'<c(?:[\t\n\r\f\v/>]| (?!r="[A-Z]\d{1,5}+"(?: s="\d++")?+(?: t="\w++")?+/?+>))')
_NARROW = (99999, 26, "Z99999")   # 2,599,974 cells


# a cell tag with an r attribute after the one it begins with (not well-formed, but calamine reads it,
# taking the later one): the fast bounds below would read the first, small reference
_SECOND_R = re.compile(rb"""<c r="[^"]*"(?=[^<>]*(?<![\w:.-])r\s*=)""")


def _sheet_extent(data: bytes, limit: int = MAX_CELLS) -> tuple[int, int, str]:
    """(rows, columns, farthest cell): an upper bound of the area from A1 to the last cell holding
    something; exact (see _sheet_extent_precise) whenever it decides a refusal.

    Excel, WPS, LibreOffice and XlsxWriter all write `<c r="…"` with the reference first. Fastest:
    when every cell tag is that with a reference within ZZ999, the sheet is at most 999 × 702 cells,
    proved by two C-speed searches that find no other cell tag. Next: when every cell tag has its
    reference first, their largest row and column bound it. Any other writer, or a bound over the
    limit, pays for the precise scan. (A bound is returned only if it is within `limit`, the largest
    area the caller allows: a bound never refuses a sheet.)
    """
    for bound, other_shape in ((_SMALL, _NOT_SMALL_CELL), (_NARROW, _NOT_NARROW_CELL)):
        if (bound[0] * bound[1] <= limit and other_shape.search(data) is None
                and _PREFIXED_CELL.search(data) is None):
            return bound
    if _SECOND_R.search(data):    # only the precise scan, which bounds by every r of a tag
        return _sheet_extent_precise(data)
    refs = _FAST_REF.findall(data)
    n_cells = len(_ANY_CELL_TAG.findall(data))   # prefixed (<x:c>) and ref-less cells count here
    if not n_cells:
        return 0, 0, "A1"
    if len(refs) == n_cells:
        max_r = max(map(int, [r for _, r in refs]))
        letters = max({c for c, _ in refs}, key=lambda c: (len(c), c))
        max_c = 0
        for ch in letters:
            max_c = max_c * 26 + ch - 64
        if max_r * max_c <= MAX_CELLS:
            return max_r, max_c, f"{letters.decode()}{max_r}"
    return _sheet_extent_precise(data)


def _sheet_extent_precise(data: bytes) -> tuple[int, int, str]:
    """(rows, columns, farthest cell) of the area from A1 to the last cell holding something.

    The tags are taken in document order, as calamine meets them: a cell counts wherever it stands,
    inside a <row> or not (a cell after the last </row> is still read), and with every r it carries
    (the largest bounds). Cells without an r attribute are placed the way readers place them (next
    column, next row), so the bound holds for them too. Empty styled cells and empty rows do not count.
    """
    max_r = max_c = -1
    row_no = col_no = -1
    cell = None          # (row, column) of the open cell that has shown no content yet
    for m in _SHEET_TAG.finditer(data):
        close, tag, attrs, empty = m.groups()
        if tag == b"c":
            if close:
                cell = None
                continue
            refs = _CELL_R.findall(attrs)
            row = row_no
            if refs:
                col = 0
                for ch in max((letters.upper() for _, letters, _ in refs), key=lambda c: (len(c), c)):
                    col = col * 26 + ch - 64
                col_no, row = col - 1, max(int(n) for *_, n in refs) - 1
            else:
                col_no += 1
            cell = None if empty else (row, col_no)
        elif tag == b"row":
            if not close:
                rows = _ROW_R.findall(attrs)
                row_no = max(int(n) for _, n in rows) - 1 if rows else row_no + 1
                col_no = -1
        elif cell is not None and not close:      # <v>, <f> or <is> in the open cell
            max_r, max_c = max(max_r, cell[0]), max(max_c, cell[1])
            cell = None
    if max_r < 0:
        return 0, 0, "A1"
    from .spec import col_letter
    far = f"{col_letter(max_c) if max_c < 18278 else '?'}{max_r + 1}"
    return max_r + 1, max_c + 1, far


# a row, cell or cell-content tag (any prefix), opening or closing: (/, name, attributes, / of <x/>)
_SHEET_TAG = re.compile(rb"<(/?)(?:\w+:)?(row|c|v|f|is)\b((?:[^<>/]++|/(?!>))*+)(/?)>")


# <c …/> or <c …>body</c> in linear time: neither the attributes (no "<") nor the body (no other <c
# or </c) run on past the cell, so 40,000 unclosed <c> are not each searched to the end of the part
# (any prefix: the Open XML SDK writes <x:c>; either quote: XML allows r='A1')
_CELL_RE = re.compile(rb"<(?:\w+:)?c\b((?:[^<>/]++|/(?!>))*+)"
                      rb"(?:/>|>((?:[^<]++|<(?!/?(?:\w+:)?c\b))*+)</(?:\w+:)?c>)")
_R_ATTR = re.compile(rb"""\br\s*=\s*["']([A-Z]+)(\d+)["']""")
_SHEET_ATTR = re.compile(rb"""\bsheet\s*=\s*["']([^"']*)["']""")
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f\b")
_VALUE = re.compile(rb"<(?:\w+:)?v>((?:[^<]++|<(?!(?:\w+:)?v>))*+)</(?:\w+:)?v>")   # not past another <v>
_PROTECTION = re.compile(rb"<(?:\w+:)?sheetProtection\b([^<>]*)>")


def _scan_sheet(data: bytes) -> tuple[bool, set, set]:
    """Protection flag and formula cells from the raw sheet XML (byte scans: cheap, no DOM)."""
    protected = False
    m = _first(_PROTECTION, data, b"sheetProtection")
    if m:
        attr = _SHEET_ATTR.search(m.group(1))
        protected = attr is not None and attr.group(1) in (b"1", b"true")
    formulas, no_value = set(), set()
    # a cell's formula is inside its <c>…</c>: a first "<f" after the last "c>" (the <formula1> of
    # the data validations that follow the cells) means there is none, without visiting every cell
    first_f = data.find(b"<f")
    if first_f == -1 and b":f" in data:      # a prefixed <x:f>: the regex only then (4× the find)
        m = _FORMULA_TAG.search(data)
        first_f = m.start() if m else -1
    if first_f != -1 and first_f < data.rfind(b"c>"):
        for cm in _CELL_RE.finditer(data):
            body = cm.group(2) or b""
            if b"f" not in body or not _FORMULA_TAG.search(body):
                continue
            rm = _R_ATTR.search(cm.group(1))
            if not rm:
                continue
            col = 0
            for ch in rm.group(1):
                col = col * 26 + ch - 64
            pos = (int(rm.group(2)) - 1, col - 1)
            formulas.add(pos)
            v = _VALUE.search(body)
            if v is None or v.group(1) == b"":
                no_value.add(pos)
    return protected, formulas, no_value


def _first(pattern: re.Pattern, data: bytes | str, word: bytes | str) -> re.Match | None:
    """pattern.search(data) for a tag pattern `<(?:prefix:)?word…`, starting at the tag around the
    first occurrence of `word` (a plain find) instead of trying the pattern at every `<`."""
    at = _tag_before(data, word)
    return None if at == -1 else pattern.search(data, at)


def _tag_before(data: bytes | str, word: bytes | str) -> int:
    """Where the first tag `<(?:prefix:)?word…` can start: the `<` before the first `word`; -1 if none.
    No such tag can start earlier: its prefix would hold `word`, and a prefix holds no `<`."""
    at = data.find(word)
    return at if at == -1 else max(data.rfind(b"<" if isinstance(data, bytes) else "<", 0, at), 0)


# ---------------------------------------------------------------- workbook.xml, rels, properties

class _DtdRefused(Exception):
    pass


def _refuse_dtd(*_args) -> None:
    raise _DtdRefused


def _xml_text(pkg: _Package, name: str) -> str | None:
    """A small XML part as text, once expat has found it well-formed and free of any DTD; None if absent.

    The byte scan has already refused a DOCTYPE in every part; refusing it here again (as defusedxml
    did) keeps a second line of defence. expat without handlers checks the whole part at C speed;
    the few things we take from it are then picked out with regexes (_elements), which is several
    times faster than building a tree.
    """
    try:
        data = pkg.read(name)
    except KeyError:
        return None
    return _checked_text(name, data)


def _checked_text(name: str, data: bytes) -> str:
    """_xml_text of part `name`, whose bytes are `data`."""
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = parser.ExternalEntityRefHandler = _refuse_dtd
    try:
        parser.Parse(data, True)
        text = _decode(data)
    except _DtdRefused:
        raise ReadError("XF005", f"{name} 含有 XML 实体定义（可能是恶意文件），已拒绝读取") from None
    except (expat.ExpatError, LookupError, ValueError) as exc:   # LookupError: an unknown encoding="…"
        raise ReadError("XF002", f"{name} 不是有效的 XML：{exc}") from None
    if "\r" in text:   # what an XML parser does to line ends
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("<?xml"):
        text = text[text.index("?>") + 2:]
    if "<!" in text or "<?" in text:
        text = _MARKUP.sub(_markup, text)
    return text


_ENCODING = re.compile(rb"""<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][\w.-]*)["']""")
_MARKUP = re.compile(r"<!--.*?-->|<\?.*?\?>|<!\[CDATA\[(.*?)\]\]>", re.S)


def _decode(data: bytes) -> str:
    """The text of a part expat has just parsed, decoded the way expat decoded it."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith((b"<\x00", b"\x00<")):
        return data.decode("utf-16-le" if data[0] == 0x3C else "utf-16-be")
    m = _ENCODING.match(data)
    codec = m.group(1).decode("ascii").lower() if m else "utf-8"
    if codec not in ("utf-8", "utf8"):
        return data.decode(codec)
    # what "utf-8-sig" does, without its codec's Python-level wrapper
    return (data[3:] if data.startswith(b"\xef\xbb\xbf") else data).decode("utf-8")


def _markup(m: re.Match) -> str:
    """Comments and processing instructions are dropped; CDATA becomes the escaped text it holds."""
    cdata = m.group(1)
    return "" if cdata is None else cdata.replace("&", "&amp;").replace("<", "&lt;")


_ATTRS = r"""((?:[^>"']++|"[^"]*+"|'[^']*+')*+)>([^<]*)"""   # attributes (with the / of <x/>), text after


def _element(local: str) -> re.Pattern:
    # possessive prefix: a tag name that is not followed by ":" is not a prefix, without backtracking
    # through it at every "<" of the part
    return re.compile(r"<(?:[\w.-]++:)?" + local + r"(?=[\s/>])" + _ATTRS)


_DEFINED_NAME, _SHEET, _RELATIONSHIP = _element("definedName"), _element("sheet"), _element("Relationship")
_PROPERTY, _APPLICATION, _ANY_ELEMENT = _element("property"), _element("Application"), _element(r"[\w.-]+")
_ATTR = re.compile(r"""([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _elements(pattern: re.Pattern, text: str | None, local: str) -> list[tuple[dict[str, str], str | None]]:
    """_parts of every element the pattern (`_element(local)`) finds: by local name whatever its
    prefix, as calamine finds them."""
    return [_parts(attrs, after) for attrs, after in _findall_tags(pattern, text or "", local)]


def _findall_tags(pattern: re.Pattern, text: str, local: str) -> list[tuple[str, str]]:
    """pattern.findall(text) for `pattern` = _element(local), the pattern tried only at the tag
    around each occurrence of `local` (a plain find) instead of at every "<": a workbook.xml has a
    few hundred tags (its defined names) and two or three sheets. Any match is found so: it starts
    at the last "<" before its `local`, a prefix holding no "<"; and, as findall does, the next is
    looked for only after the end of the last."""
    found: list[tuple[str, str]] = []
    end, tried = 0, -1
    at = text.find(local)
    while at != -1:
        start = text.rfind("<", end, at)
        if start != -1 and start != tried:
            tried = start
            m = pattern.match(text, start)
            if m is not None:
                found.append(m.groups())
                end = m.end()
        at = text.find(local, max(at + 1, end))
    return found


@functools.lru_cache(maxsize=8192)
def _parts(attrs: str, after: str) -> tuple[dict[str, str], str | None]:
    """(attributes, the text up to its first child or its end; None for <x/>) of an element found by
    _element. Cached (the result is shared: read it only): every file of a form has the same few
    hundred defined names, sheets and relationships, character for character."""
    if attrs.endswith("/"):
        return _attributes(attrs[:-1]), None
    return _attributes(attrs), _unescape(after)


def _attributes(text: str) -> dict[str, str]:
    """Attribute values unescaped and normalised (tab and newline read as a space) as a parser gives them."""
    out = {}
    for key, double, single in _ATTR.findall(text):
        value = double or single
        if "\t" in value or "\n" in value:
            value = value.replace("\t", " ").replace("\n", " ")
        out[key] = _unescape(value)
    return out


def _unescape(text: str) -> str:
    return _ENTITY.sub(_entity, text) if "&" in text else text


def _entity(m: re.Match) -> str:
    ref = m.group(1)
    if ref[0] != "#":
        return _NAMED[ref]
    return chr(int(ref[2:], 16) if ref[1] == "x" else int(ref[1:]))


@functools.lru_cache(maxsize=8192)
def _defined_name(attrs_text: str, after: str) -> tuple[str | None, tuple[str, int, int] | None, bool]:
    """(name, (sheet, row, col) it refers to, whether it is #REF!) of a workbook-level defined name
    found by _DEFINED_NAME; (None, None, False) for a sheet-local one. Cached like _parts: the
    same few hundred names recur in every file of a form."""
    attrs, text = _parts(attrs_text, after)
    if attrs.get("localSheetId") is not None:
        return None, None, False
    ref = _parse_ref(text or "")
    return attrs.get("name"), ref, not ref and "#REF!" in (text or "")


def _book_xml(pkg: _Package) -> str:
    book = _xml_text(pkg, "xl/workbook.xml")
    if book is None:
        raise ReadError("XF002", "不是 Excel 工作簿（缺少 xl/workbook.xml）")
    return book


_SEEN_PARTS: dict[tuple[Any, bytes | None], Any] = {}
_SEEN_PARTS_MAX = 256      # a few dozen distinct parts in a batch, each a few KB;
_SEEN_PART_BYTES = 1 << 16   # a larger one is not remembered: the memory stays bounded (16 MB)


def _by_content(pkg: _Package, name: str, parse: Callable[[str | None], Any]) -> Any:
    """parse(_xml_text of part `name`), remembered by the part's bytes. Every file of a batch has
    the same workbook relationships and one of a few dozen app.xml (which lists the defined names),
    and the same bytes always pass expat the same way and give the same result: those parts are
    checked and parsed once per batch instead of once per file. A refusal is raised, not remembered.
    The result is shared: read it only."""
    try:
        data = pkg.read(name)
    except KeyError:
        data = None
    if data is not None and len(data) > _SEEN_PART_BYTES:
        return parse(_checked_text(name, data))
    key = (parse, data)
    out = _SEEN_PARTS.get(key, _SEEN_PARTS)
    if out is _SEEN_PARTS:
        if len(_SEEN_PARTS) >= _SEEN_PARTS_MAX:
            _SEEN_PARTS.clear()
        out = _SEEN_PARTS[key] = parse(None if data is None else _checked_text(name, data))
    return out


def _relationships(pkg: _Package) -> tuple[dict[str, str], ...]:
    return _by_content(pkg, "xl/_rels/workbook.xml.rels", _relationships_in)


def _relationships_in(text: str | None) -> tuple[dict[str, str], ...]:
    return tuple(attrs for attrs, _ in _elements(_RELATIONSHIP, text, "Relationship"))


def _target(attrs: dict[str, str]) -> str:
    t = attrs.get("Target", "")
    return t.lstrip("/") if t.startswith("/") else "xl/" + t


def _sheet_parts(pkg: _Package, book: str, rels: tuple[dict[str, str], ...]) -> list[tuple[str, bytes]]:
    """(sheet name, its XML) of every sheet workbook.xml lists whose part is in the package, in order.

    Every part a reader could take for a sheet is listed: a sheet element's r:id first, then the part
    of any other `…:id` attribute it carries; of a relationship Id given twice, both targets; of a
    target, the members _Package.members_for finds; and a name listed twice comes twice (calamine
    loads the first sheet of a name, r:id whatever its neighbours). The cell-area guard must bound
    what calamine will load, so _extents takes the largest of a name's parts; the scans read its first."""
    targets: dict[str | None, list[str]] = {}
    for attrs in rels:     # an Id given twice: calamine takes the last, the guard measures both
        targets.setdefault(attrs.get("Id"), []).insert(0, _target(attrs))
    out = []
    for attrs, _ in _elements(_SHEET, book, "sheet"):
        ids = [value for key, value in attrs.items() if key.endswith(":id") and not key.startswith("xmlns")]
        if len(ids) > 1 and "r:id" in attrs:
            ids.insert(0, attrs["r:id"])
        name = attrs.get("name")
        for rid in dict.fromkeys(ids):
            for target in targets.get(rid, ()):
                for member in pkg.members_for(target):
                    out.append((name, pkg.read(member)))
    return out


def _extents(parts: list[tuple[str, bytes]], limit: int = MAX_CELLS) -> dict[str, tuple[int, int, str]]:
    """_sheet_extent of each sheet name: of the largest of its parts when it has more than one."""
    out: dict[str, tuple[int, int, str]] = {}
    for name, data in parts:
        extent = _sheet_extent(data, limit)
        if name not in out or extent[0] * extent[1] > out[name][0] * out[name][1]:
            out[name] = extent
    return out


@functools.lru_cache(maxsize=8192)
def _parse_ref(text: str) -> tuple[str, int, int] | None:
    """(sheet, row, col) of a defined name's reference; the same few hundred recur in every file of a form."""
    m = _REF_RE.match((text or "").strip().lstrip("="))
    if not m:
        return None
    sheet = (m.group(1) or "").replace("''", "'") or m.group(2)
    col = 0
    for ch in m.group(3):
        col = col * 26 + ord(ch) - 64
    return sheet, int(m.group(4)) - 1, col - 1


def _properties(pkg: _Package) -> dict[str, str]:
    """Custom document properties: name -> the text of the property's first child (its value)."""
    text = _xml_text(pkg, "docProps/custom.xml") or ""
    props = {}
    for m in _PROPERTY.finditer(text):
        attrs, inside = _parts(*m.groups())
        child = _ANY_ELEMENT.match(text, m.end()) if inside is not None else None
        props[attrs.get("name")] = (_parts(*child.groups())[1] or "") if child else ""
    return props


def _application(pkg: _Package) -> str:
    return _by_content(pkg, "docProps/app.xml", _application_in)


def _application_in(text: str | None) -> str:
    m = _first(_APPLICATION, text or "", "Application")
    return (_parts(*m.groups())[1] or "") if m else ""


def read_workbook(path: str | Path, sheets: list[str] | None = None) -> WorkbookData:
    """Read metadata, names and the values of `sheets` (default: all but our hidden ones)."""
    path = Path(path)
    pkg = sniff(path)
    try:
        return _read_workbook(path, pkg, sheets)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError):
        raise ReadError("XF002", "文件已损坏或不完整（不是有效的 .xlsx 压缩包）") from None


def _read_workbook(path: Path, pkg: _Package, sheets: list[str] | None) -> WorkbookData:
    book = _book_xml(pkg)
    names, deleted = {}, set()
    at = _tag_before(book, "definedName")   # past the sheets and views, which hold none
    for found in (_DEFINED_NAME.findall(book, at) if at != -1 else ()):
        name, ref, gone = _defined_name(*found)
        if ref:
            names[name] = ref
        elif gone:
            deleted.add(name)
    rels = _relationships(pkg)
    sheet_parts = _sheet_parts(pkg, book, rels)
    props = _properties(pkg)
    app = "WPS Office" if "KSOProductBuildVer" in props else _application(pkg)
    wanted = sheets
    raw_sheets = {}
    first: dict[str, bytes] = {}
    for name, raw in sheet_parts:
        # (the metadata sheet's protection and formulas are never asked for: it is read as metadata)
        if name not in first and name != META_SHEET and (wanted is None or name in wanted):
            raw_sheets[name] = _scan_sheet(raw)
        first.setdefault(name, raw)
    extents = _extents(sheet_parts)

    wb = _open_guarded(pkg, extents)
    sheet_names = wb.sheet_names
    data: dict[str, SheetData] = {}
    meta: dict[str, str] = {}
    unread: dict[str, tuple[str, str]] = {}
    for name in sheet_names:
        if name == META_SHEET:
            plain = (name not in wb.refused and sheet_names.count(name) == 1 and extents[name] == _SMALL
                     and len(first) == len(sheet_parts))   # and no sheet with a second candidate part
            meta = (plain and _meta_from_xml(first[name], _shared_strings(pkg, rels))) \
                or _read_meta(wb, name)
            continue
        if wanted is not None and name not in wanted:
            continue
        try:
            sheet = wb.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=True)
            start = sheet.start or (0, 0)
        except ReadError as exc:
            unread[name] = (exc.code, str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - one unreadable sheet (a chart sheet) is not the file
            unread[name] = ("XF002", f"工作表“{name}”无法读取：{exc}")
            continue
        protected, formulas, no_value = raw_sheets.get(name, (False, set(), set()))
        data[name] = SheetData(name, tuple(start), rows, protected, no_value, formulas)
    return WorkbookData(path, sheet_names, meta, props, names, data, app, unread, deleted)


# every cell tag of column A or B; the row (group 2) is empty when the cell is not of the plain shape
# (a shared string or empty, the row within 999): one scan finds the cells and the odd ones out
_META_CELL = re.compile(rb'<c r="([AB])(?:(\d{1,3})"(?: s="\d+")?(?: t="s"><v>(\d+)</v></c>|/>))?')
_PLAIN_TEXT = re.compile(rb'<t(?: xml:space="preserve")?>([^<]*)</t>')
# a text of runs, each its font properties (empty elements of CT_RPrElt only, with double-quoted
# attributes: a quote left open would make the XML parser read on past our idea of the tag's end) and
# one plain <t>: LibreOffice saves a text of mixed fonts so (the title's digits in Calibri, the rest in
# a CJK font), and the metadata sheet shares that string; calamine joins the runs' texts
_RICH_TEXT = re.compile(rb'(?:<r>(?:<rPr>(?:<(?:rFont|charset|family|b|i|strike|outline|shadow|condense|extend|'
                        rb'color|sz|u|vertAlign|scheme)(?: [A-Za-z]++="[^"<>]*+")*+/>)*+</rPr>)?'
                        rb'<t(?: xml:space="preserve")?>[^<]*+</t></r>)++')


def _meta_from_xml(xml: bytes, shared: bytes | None) -> dict[str, str] | None:
    """The metadata sheet's key/value rows (A:B) straight from its XML, exactly as _read_meta reads them
    through calamine, which parses the whole sheet, field catalogue included: that was the largest
    single cost of reading a returned form. Only for the plain shape writers give it (A1:B1 a header,
    every A:B cell a plain shared string or empty, in row order; the caller has proved every cell
    tag is `<c r="…"` first); None for anything else, which calamine then reads."""
    if shared is None or any(_has_markup(part) for part in (xml, shared)):
        return None   # a comment, CDATA or PI (no writer puts one there) could hide or fake cells and strings
    cells = _META_CELL.findall(xml)
    if not all(row for _, row, _ in cells):   # an A:B cell of another shape
        return None
    strings = shared.split(b"<si>")[1:]          # each "…</si>"; C-speed, unlike a regex over every byte
    if len(strings) != shared.count(b"<si") or b":si" in shared:
        return None
    rows: dict[int, list[str]] = {}
    last = (0, b"")
    for col, row, index in cells:
        at = (int(row), col)
        text = _shared_text(strings, int(index)) if index else ""
        if at <= last or text is None:
            return None
        last = at
        rows.setdefault(at[0], ["", ""])[col == b"B"] = text
    if not all(rows.get(1, ("", ""))):   # the header: calamine's area then starts at A1 and is 2+ wide
        return None
    return {key: value for r, (key, value) in rows.items() if r > 1 and key}


def _has_markup(part: bytes) -> bool:
    """b"<!" in part or part.find(b"<?", 2) != -1, by the rare byte first: a one-byte search runs at
    memchr speed, a two-byte one visits every "<" (a third of a millisecond on a metadata sheet)."""
    if b"!" in part and b"<!" in part:
        return True
    at = part.find(b"?", 3)
    while at != -1:
        if part[at - 1] == 0x3C:   # "<"
            return True
        at = part.find(b"?", at + 1)
    return False


def _shared_text(strings: list[bytes], index: int) -> str | None:
    """A shared string of one plain <t>, or of plain runs (None for any other shape, phonetic runs,
    _xHHHH_ escapes, edge spaces, bad indexes)."""
    item = strings[index] if index < len(strings) else b""
    end = max(item.find(b"</si>"), 0)
    m = _PLAIN_TEXT.fullmatch(item, 0, end)
    if m is not None:
        runs = [m.group(1)]
    elif _RICH_TEXT.fullmatch(item, 0, end):
        runs = _PLAIN_TEXT.findall(item, 0, end)
    else:
        return None
    texts = []
    for raw in runs:
        if b"\r" in raw:      # a line end the XML parser may normalise
            return None
        try:
            text = _unescape(raw.decode("utf-8"))
        except (ValueError, OverflowError):    # not UTF-8, or a character reference past Unicode
            return None
        # calamine trims each run without xml:space="preserve", and decodes _xHHHH_ after the entities
        if text != text.strip() or "_x" in text:
            return None
        texts.append(text)
    return "".join(texts)


def _shared_strings(pkg: _Package, rels: tuple[dict[str, str], ...]) -> bytes | None:
    """xl/sharedStrings.xml when the workbook's one shared-strings relationship names it (where
    calamine reads it) and it is UTF-8."""
    kinds = [_target(a) for a in rels if a.get("Type", "").endswith("/sharedStrings")]
    if kinds != ["xl/sharedStrings.xml"]:
        return None
    try:
        data = pkg.read("xl/sharedStrings.xml")
    except KeyError:
        return None
    declared = _ENCODING.match(data)
    return data if declared is None or declared.group(1).lower() in (b"utf-8", b"utf8") else None


def _read_meta(wb, name: str) -> dict[str, str]:
    try:
        rows = wb.get_sheet_by_name(name).to_python()
    except Exception:  # noqa: BLE001 - a broken metadata sheet is the same as none
        return {}
    meta = {}
    for row in rows[1:]:
        if len(row) >= 2 and row[0] not in ("", None):
            meta[str(row[0])] = "" if row[1] in (None,) else _text(row[1])
    return meta


def read_field_catalogue(wb) -> list[dict[str, str]]:
    """The field catalogue in the metadata sheet (columns D:I), as written by workbook.py."""
    from .workbook import FIELD_COLUMNS
    try:
        rows = wb.get_sheet_by_name(META_SHEET).to_python(skip_empty_area=False)
    except Exception:  # noqa: BLE001
        return []
    out = []
    for row in rows[1:]:
        cells = [_text(v) if v not in (None, "") else "" for v in (list(row[3:9]) + [""] * 6)[:6]]
        if cells[0]:
            out.append(dict(zip(FIELD_COLUMNS, cells)))
    return out


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return str(v)

"""Read a returned workbook safely and fast: container checks, metadata, defined names, values.

Order matters (lessons.md, FAC): first is it a readable workbook at all (and not a zip bomb, not
encrypted, not a renamed .docx), then whose is it (metadata, defined names), then its values.
Values come from python-calamine (Rust, several times faster than openpyxl); the small XML parts
calamine does not expose (defined names, custom properties, sheet protection, formulas without a
cached value) are parsed with defusedxml or scanned as bytes. The file is opened read-only and
never written.
"""
from __future__ import annotations

import datetime as dt
import math
import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from .errors import XlformError

# Limits checked before anything is parsed (docs/security.md).
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200            # per zip member over 1 MiB
MAX_MEMBERS = 2000
MAX_CELLS = 2_000_000      # per sheet: A1 to the farthest cell holding something (calamine allocates it densely)
_CHUNK = 1 << 20

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
NS_CUSTOM = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
NS_APP = "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
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


def sniff(path: Path) -> None:
    """Refuse what is not a safe .xlsx before any parser sees it."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ReadError("XF001", f"无法读取文件：{exc.strerror or exc}") from None
    if size == 0:
        raise ReadError("XF002", "文件是空的（0 字节）")
    if size > MAX_FILE_BYTES:
        raise ReadError("XF005", f"文件过大（{size / 1048576:.1f} MB，上限 {MAX_FILE_BYTES // 1048576} MB）")
    if head.startswith(_OLE_MAGIC):
        if _is_encrypted_ole(path):
            raise ReadError("XF004", "工作簿设置了打开密码（已加密），无法读取；请部门取消密码后重新报送")
        raise ReadError("XF006", "这是旧版 Excel 97-2003 (.xls) 文件；请在 Excel 或 WPS 中“另存为” .xlsx 后重新报送")
    if not head.startswith(b"PK"):
        kind = "PDF 文件" if head.startswith(b"%PDF") else "文本或其他格式的文件"
        raise ReadError("XF002", f"不是 Excel 工作簿（.xlsx），看起来是{kind}")
    try:
        zf = zipfile.ZipFile(path)
    except Exception:  # noqa: BLE001 - BadZipFile, OSError, and odd ones (ValueError, EOFError) on crafted files
        raise ReadError("XF002", "文件已损坏或不完整（不是有效的 .xlsx 压缩包）") from None
    with zf:
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
        _check_members(path, infos)


_DTD_RE = re.compile(rb"<!\s*(?:doctype|entity)", re.I)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe", b"\xfe\xff")


def _check_members(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Decompress every member once, bounded, before any parser sees it.

    The sizes in the zip directory are claims: each member is inflated here in 1 MiB steps and
    refused as soon as it yields more than it declared (a bomb that lies about its size), and
    checked against its CRC. Every member that is XML (whatever its name: a relationship can point
    anywhere) is scanned for a DOCTYPE or ENTITY declaration, which no Office file has: entity
    expansion ("billion laughs") and external entities (file:///etc/passwd) are refused here, so
    neither calamine nor defusedxml ever parses a DTD.
    """
    seen: set[str] = set()
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ReadError("XF001", f"无法读取文件：{exc.strerror or exc}") from None
    with fh:
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
            _check_member(fh, info)


def _check_member(fh, info: zipfile.ZipInfo) -> None:
    name = info.filename
    broken = ReadError("XF002", f"文件已损坏或不完整（压缩包内“{name}”无法解压）")
    try:
        fh.seek(info.header_offset)
        head = fh.read(30)
        if len(head) != 30 or head[:4] != b"PK\x03\x04":
            raise broken
        n, m = struct.unpack("<HH", head[26:30])
        fh.seek(info.header_offset + 30 + n + m)
    except (OSError, struct.error, ValueError):
        raise broken from None
    left = info.compress_size
    produced, crc = 0, 0
    is_xml: bool | None = None
    wide = False
    carry = b""
    inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    pending = b""
    while True:
        if not pending and left > 0:
            pending = fh.read(min(_CHUNK, left))
            if not pending:
                raise broken
            left -= len(pending)
        if inflate is None:
            if not pending:
                break
            out, pending = pending, b""
        else:
            try:
                out = inflate.decompress(pending, _CHUNK)   # at most 1 MiB out per step
            except zlib.error:
                raise broken from None
            pending = inflate.unconsumed_tail
            if not out and not pending and left <= 0 and not inflate.eof:
                break   # input used up, stream unfinished: truncated
        produced += len(out)
        if produced > info.file_size + _CHUNK:   # a little over is damage (CRC fails below); far over is a bomb
            raise ReadError("XF005", f"“{name}”解压后远大于压缩包记录的 {info.file_size} 字节，"
                                     f"疑似“压缩炸弹”，已拒绝读取")
        crc = zlib.crc32(out, crc)
        if is_xml is None and out:
            start = out[:64]
            for bom in _BOMS:
                if start.startswith(bom):
                    start = start[len(bom):]
                    break
            wide = b"\x00" in start
            is_xml = start.replace(b"\x00", b"").lstrip().startswith(b"<")
        if is_xml:
            text = carry + (out.replace(b"\x00", b"") if wide else out)
            if _DTD_RE.search(text):
                raise ReadError("XF005", f"“{name}”含有 XML 文档类型或实体声明（<!DOCTYPE/<!ENTITY），可能是"
                                         f"“实体扩展”或“外部实体”攻击文件，已拒绝读取")
            carry = text[-32:]
        if inflate is not None and inflate.eof:
            break
    if inflate is not None and not inflate.eof:
        raise broken
    if produced != info.file_size or crc != (info.CRC & 0xFFFFFFFF):
        raise broken


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
    path = Path(path)
    sniff(path)
    try:
        with zipfile.ZipFile(path) as zf:
            wb_root = _xml(zf, "xl/workbook.xml")
            extents = _extents(zf, _sheet_paths(zf, wb_root)) if wb_root is not None else {}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError):
        raise ReadError("XF002", "文件已损坏或不完整（不是有效的 .xlsx 压缩包）") from None
    return _open_guarded(path, extents, max_cells)


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


def _open_guarded(path: Path, extents: dict[str, tuple[int, int, str]],
                  max_cells: int = MAX_CELLS) -> GuardedWorkbook:
    from python_calamine import CalamineWorkbook
    try:
        book = CalamineWorkbook.from_path(str(path))
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


_ROW_RE = re.compile(rb"<(?:\w+:)?row\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?row>)", re.S)
_ANY_CELL_RE = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_ROW_R = re.compile(rb'\br="(\d+)"')
_CELL_R = re.compile(rb'\br="([A-Za-z]+)(\d+)"')
_CONTENT = re.compile(rb"<(?:\w+:)?(?:v|f|is)\b")


_FAST_REF = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"')
_ANY_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s/>]")


def _sheet_extent(data: bytes) -> tuple[int, int, str]:
    """(rows, columns, farthest cell) bounding every cell that holds something.

    Fast path: Excel, WPS, LibreOffice and XlsxWriter all write `<c r="…"` with the reference first.
    When every cell tag matches that, the refs of all cells (empty styled ones too) give an upper
    bound in C-speed regex time; any other writer, or a bound over the limit, pays for the precise scan.
    """
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

    Cells without an r attribute are placed the way readers place them (next column, next row),
    so the bound holds for them too. Empty styled cells and empty rows do not count.
    """
    max_r = max_c = -1
    row_no = -1
    for rm in _ROW_RE.finditer(data):
        attr = _ROW_R.search(rm.group(1))
        row_no = int(attr.group(1)) - 1 if attr else row_no + 1
        body = rm.group(2)
        if not body:
            continue
        col_no = -1
        for cm in _ANY_CELL_RE.finditer(body):
            ref = _CELL_R.search(cm.group(1))
            row = row_no
            if ref:
                col = 0
                for ch in ref.group(1).upper():
                    col = col * 26 + ch - 64
                col_no, row = col - 1, int(ref.group(2)) - 1
            else:
                col_no += 1
            if cm.group(2) and _CONTENT.search(cm.group(2)):
                max_r, max_c = max(max_r, row), max(max_c, col_no)
    if max_r < 0:
        return 0, 0, "A1"
    from .spec import col_letter
    far = f"{col_letter(max_c) if max_c < 18278 else '?'}{max_r + 1}"
    return max_r + 1, max_c + 1, far


def _extents(zf: zipfile.ZipFile, sheet_paths: dict[str, str]) -> dict[str, tuple[int, int, str]]:
    out = {}
    for name, member in sheet_paths.items():
        try:
            out[name] = _sheet_extent(zf.read(member))
        except KeyError:
            continue
    return out


def _xml(zf: zipfile.ZipFile, name: str):
    try:
        data = zf.read(name)
    except KeyError:
        return None
    try:
        return SafeET.fromstring(data)
    except DefusedXmlException:
        raise ReadError("XF005", f"{name} 含有 XML 实体定义（可能是恶意文件），已拒绝读取") from None
    except (SafeET.ParseError, LookupError, ValueError) as exc:   # LookupError: an unknown encoding="…"
        raise ReadError("XF002", f"{name} 不是有效的 XML：{exc}") from None


def _sheet_paths(zf: zipfile.ZipFile, wb_root) -> dict[str, str]:
    rels = _xml(zf, "xl/_rels/workbook.xml.rels")
    targets = {}
    if rels is not None:
        for r in rels.iter(f"{NS_PKG_REL}Relationship"):
            t = r.get("Target", "")
            t = t.lstrip("/") if t.startswith("/") else "xl/" + t
            targets[r.get("Id")] = t
    out = {}
    for s in wb_root.iter(f"{NS_MAIN}sheet"):
        rid = s.get(f"{NS_REL}id")
        if rid in targets:
            out[s.get("name")] = posixpath.normpath(targets[rid])
    return out


def _parse_ref(text: str) -> tuple[str, int, int] | None:
    m = _REF_RE.match((text or "").strip().lstrip("="))
    if not m:
        return None
    sheet = (m.group(1) or "").replace("''", "'") or m.group(2)
    col = 0
    for ch in m.group(3):
        col = col * 26 + ord(ch) - 64
    return sheet, int(m.group(4)) - 1, col - 1


_CELL_RE = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_R_ATTR = re.compile(rb'\br="([A-Z]+)(\d+)"')


def _scan_sheet(data: bytes) -> tuple[bool, set, set]:
    """Protection flag and formula cells from the raw sheet XML (byte scans: cheap, no DOM)."""
    protected = False
    m = re.search(rb"<(?:\w+:)?sheetProtection\b([^>]*)>", data)
    if m:
        attr = re.search(rb'\bsheet="([^"]*)"', m.group(1))
        protected = attr is not None and attr.group(1) in (b"1", b"true")
    formulas, no_value = set(), set()
    if b"<f" in data:
        for cm in _CELL_RE.finditer(data):
            body = cm.group(2) or b""
            if b"<f" not in body:
                continue
            rm = _R_ATTR.search(cm.group(1))
            if not rm:
                continue
            col = 0
            for ch in rm.group(1):
                col = col * 26 + ch - 64
            pos = (int(rm.group(2)) - 1, col - 1)
            formulas.add(pos)
            v = re.search(rb"<v>(.*?)</v>", body, re.S)
            if v is None or v.group(1) == b"":
                no_value.add(pos)
    return protected, formulas, no_value


def read_workbook(path: str | Path, sheets: list[str] | None = None) -> WorkbookData:
    """Read metadata, names and the values of `sheets` (default: all but our hidden ones)."""
    path = Path(path)
    sniff(path)
    try:
        return _read_workbook(path, sheets)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError):
        raise ReadError("XF002", "文件已损坏或不完整（不是有效的 .xlsx 压缩包）") from None


def _read_workbook(path: Path, sheets: list[str] | None) -> WorkbookData:
    with zipfile.ZipFile(path) as zf:
        wb_root = _xml(zf, "xl/workbook.xml")
        if wb_root is None:
            raise ReadError("XF002", "不是 Excel 工作簿（缺少 xl/workbook.xml）")
        names, deleted = {}, set()
        for dn in wb_root.iter(f"{NS_MAIN}definedName"):
            if dn.get("localSheetId") is not None:
                continue
            ref = _parse_ref(dn.text or "")
            if ref:
                names[dn.get("name")] = ref
            elif "#REF!" in (dn.text or ""):
                deleted.add(dn.get("name"))
        sheet_paths = _sheet_paths(zf, wb_root)
        props = {}
        custom = _xml(zf, "docProps/custom.xml")
        if custom is not None:
            for p in custom.iter(f"{NS_CUSTOM}property"):
                val = next(iter(p), None)
                props[p.get("name")] = (val.text or "") if val is not None else ""
        app_root = _xml(zf, "docProps/app.xml")
        app = ""
        if app_root is not None:
            el = app_root.find(f"{NS_APP}Application")
            app = (el.text or "") if el is not None else ""
        if "KSOProductBuildVer" in props:
            app = "WPS Office"
        wanted = sheets
        raw_sheets = {}
        extents = {}
        for name, member in sheet_paths.items():
            try:
                raw = zf.read(member)
            except KeyError:
                continue
            extents[name] = _sheet_extent(raw)
            if wanted is None or name in wanted:
                raw_sheets[name] = _scan_sheet(raw)

    wb = _open_guarded(path, extents)
    sheet_names = wb.sheet_names
    data: dict[str, SheetData] = {}
    meta: dict[str, str] = {}
    unread: dict[str, tuple[str, str]] = {}
    from .workbook import META_SHEET
    for name in sheet_names:
        if name == META_SHEET:
            meta = _read_meta(wb, name)
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
    from .workbook import FIELD_COLUMNS, META_SHEET
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

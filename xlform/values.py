"""Parse the free text departments write as 指标值 (target) and 实际完成值 (actual).

Every cell becomes one :class:`Value`; the parser never guesses silently and never raises.

kinds and the formats each accepts (forms.md §4 and the Yulin 2021 seed form):

number       ``≥95%`` ``≥ 95 %`` ``﹦ 72890 元`` ``=100%`` ``≤30 万元`` ``≤10次`` ``>92%`` ``98%以上``
             ``不低于90%`` ``一项`` ``三项`` ``二十家`` ``两万`` ``一百零五`` ``1.5万`` ``3千``
             ``百分之九十五`` ``35套`` ``20家企业`` ``0`` ``72,890元`` ``100%完成`` ``支付25%款项``
             ``95%左右`` (approximate: no comparator). Word comparators work as prefix or suffix.
             Money is kept in 万元 (元, 千元, 亿元 converted); for percent, 95 means 95%.
             Compound and qualified units (see ``_take_unit``): ``≥45万剂次`` ``200学时``
             ``1,200台（套）`` = ``1200台(套)`` = ``1200台套`` (unit 台套); rates ``=1250元/生·年``
             ``≤5元/人次`` (unit 元/人·次) ``80元/平方米`` ``≥12次/年``, money in a rate kept in 元
             (``0.125万元/生·年`` is 1250 元/生·年); ``≥320万毫升（头份）`` (unit 毫升, noun 头份).
date         ``2021年12月`` (month-only → last day) ``2021.12`` ``2021.01.01`` ``2021-12-31``
             ``2021/12/31`` ``2021年12月31日`` ``2021年12月前`` (≤); ``12月底前`` ``12月31日前``
             ``年底前`` need the ``year`` argument.
tier         the three 定性 tiers in :data:`TIERS` (spaces and punctuation ignored)
na           ``无`` ``无此项`` ``不适用`` ``不涉及`` ``/`` ``-`` ``—`` ``——``
blank        None, "" or whitespace
qualitative  text with no quantity: ``不超预算`` ``按月安排`` ``保障系统稳定运行``
unparseable  everything else, with a short Chinese ``reason`` (含多个数值, 缺少年份, ...)

Before parsing, text is NFKC-normalised (full-width digits, ＞＜＝﹦＋－, ％ and the full-width
comma become ASCII), all whitespace is removed, ``>=`` ``<=`` ``≧`` ``≦`` become ``≥`` ``≤`` and
thousands separators are dropped.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from numbers import Integral, Real

KINDS = ("number", "date", "tier", "qualitative", "na", "blank", "unparseable")
TIERS = ("达成预期指标", "部分达成预期指标并具有一定效果", "未完成预期指标且效果较差")
_SHOW = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "=": "="}


@dataclass(frozen=True)
class Value:
    kind: str
    comparator: str | None = None
    number: float | None = None
    unit: str | None = None
    noun: str | None = None
    date: _dt.date | None = None
    tier: int | None = None
    text: str = ""
    reason: str | None = None

    def __str__(self) -> str:
        sign = _SHOW.get(self.comparator, "")
        if self.kind == "number" and self.number is not None:
            return sign + _fmt_number(self.number, self.unit) + (self.unit or "")
        if self.kind == "date" and self.date is not None:
            return f"{sign}{self.date.year:04d}年{self.date.month}月{self.date.day}日"
        if self.kind == "tier" and self.tier is not None:
            return TIERS[self.tier]
        if self.kind == "na":
            return "无"
        return self.text


def _fmt_number(x: float, unit: str | None) -> str:
    """Shortest exact decimal text, never scientific notation."""
    s = format(Decimal(repr(x)), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    # a bare 2021.12 would read back as a date (December 2021); 2021.120 stays a number
    if unit is None and _DOT_MONTH.fullmatch(s):
        s += "0" * (8 - len(s))
    return s


# ---------------------------------------------------------------- vocabulary
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3,
             "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7,
             "八": 8, "捌": 8, "九": 9, "玖": 9}
_CN_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10**4, "亿": 10**8}
_CN_CHARS = "".join([*_CN_DIGIT, *_CN_SMALL, *_CN_BIG])

# money units → factor to 万元
_MONEY = {"元": Decimal("0.0001"), "千元": Decimal("0.1"), "万元": Decimal(1), "亿元": Decimal(10000)}
_ALIASES = {"%": "%", "个百分点": "百分点", "公斤": "千克", "平米": "平方米", "千米": "公里",
            "个工作日": "工作日"}
# measure words; a whitelist, because an unknown character after a number is more often noise
# than a unit (部 and 届 left out on purpose: 一部分, 十九届 are phrases, not quantities)
_SIMPLE = ("家 套 项 次 人 个 天 件 户 台 份 名 位 条 场 期 批 所 座 处 辆 张 本 册 篇 间 栋 幢 种 类 "
           "块 株 棵 只 头 盏 笔 宗 轮 门 级 剂 例 支 瓶 盒 袋 箱 架 艘 羽 匹 口 眼 组 班 队 "
           "分 倍 岁 年 个月 周 日 小时 分钟 秒 季度 学期 工作日 百分点 "
           "米 延米 平方米 平方公里 立方米 公里 千克 克 毫克 吨 升 毫升 亩 公顷 千瓦 千瓦时 兆瓦 "
           "GB TB MB").split()
# compound measure words: "<measure>次" counts visits/doses/trips (人次 剂次 架次 ...), plus the
# few "<x>时/日" work units; an explicit list, generated from explicit heads
_PER_TIME_HEADS = "人 户 台 架 车 批 场 班 趟 例 剂 辆 艘 件 家 项 所 校 期 篇 轮".split()
_TIMED = "课时 学时 工时 台时 机时 工日".split()
_COMPOUND = [h + "次" for h in _PER_TIME_HEADS] + _TIMED
# a measure word with its alternative: 台（套） 台(套) 台/套 台套 all read as the unit 台套
_PAIRED = ("台套", "台件", "件套", "台辆")
_MEASURES = [*_SIMPLE, *_COMPOUND, *_PAIRED]
_UNITS = sorted([*_MONEY, *_ALIASES, *_MEASURES], key=len, reverse=True)
_UNIT_FIRST = {u[0] for u in _UNITS}
# the denominator of a rate (元/生·年, 次/年, 元/平方米): words joined by ·, / or nothing.
# 人次 is not in the list, so 元/人次 and 元/人·次 are one unit; 课时 cannot be split, so it is.
_DENOM_ALIASES = {"公斤": "千克", "平米": "平方米", "千米": "公里", "年度": "年", "学生": "生"}
_DENOMS = sorted({*"人 户 生 床 家 所 校 村 台 套 件 辆 车 头 只 株 棵 羽 亩 公顷 米 延米 平方米 平方公里 "
                  "立方米 公里 千克 克 吨 升 毫升 千瓦时 次 批 场 项 例 剂 份 名 张 本 册 篇 间 座 处 期 "
                  "班 年 学年 学期 季度 月 个月 周 日 天 小时 分钟 GB TB MB".split(),
                  *_TIMED, *_DENOM_ALIASES}, key=len, reverse=True)
_DOTS = "·・•∙⋅‧"  # the middle dot of 元/人·年, as people type it

# comparator words; "~" marks an approximation (no comparator), "" a neutral word
_PREFIX = {"≥": ">=", "≤": "<=", ">": ">", "<": "<", "=": "=",
           "大于或等于": ">=", "大于等于": ">=", "不低于": ">=", "不少于": ">=", "不小于": ">=",
           "至少": ">=", "最少": ">=", "达到": ">=", "达": ">=",
           "小于或等于": "<=", "小于等于": "<=", "低于等于": "<=", "不超过": "<=", "不高于": "<=",
           "不多于": "<=", "不大于": "<=", "至多": "<=", "最多": "<=",
           "大于": ">", "高于": ">", "超过": ">", "多于": ">",
           "小于": "<", "低于": "<", "少于": "<", "不足": "<", "不到": "<",
           "等于": "=", "约为": "~", "大约": "~", "约": "~"}
_SUFFIX = {"及以上": ">=", "以上": ">=", "及以下": "<=", "以下": "<=", "以内": "<=", "之内": "<=",
           "内": "<=", "左右": "~", "上下": "~", "完成": ""}
# verbs that may stand before a Chinese numeral (完成三项); other Han text before 一/三/十 is prose
_VERBS = {w: "" for w in "完成 实现 累计 共计 合计 共 开展 举办 组织 新增 建成 采购 购买 支付".split()}


class _Words(dict):
    """Words and what they mean, longest first; indexed by first and last character, so that cutting
    one off a text tries only the few words that could match instead of all of them."""

    def __init__(self, words: dict):
        super().__init__(sorted(words.items(), key=lambda kv: -len(kv[0])))
        self.starting, self.ending = _by_char(self, 0), _by_char(self, -1)


def _by_char(words, at: int) -> dict[str, list[str]]:
    """Each word under its first (at=0) or last (at=-1) character, keeping the words' order."""
    out: dict[str, list[str]] = {}
    for w in words:
        out.setdefault(w[at], []).append(w)
    return out


_UNITS_AT, _DENOMS_AT = _by_char(_UNITS, 0), _by_char(_DENOMS, 0)
_PREFIX, _SUFFIX, _VERBS = _Words(_PREFIX), _Words(_SUFFIX), _Words(_VERBS)
_WORD_ENDS = {w[-1] for w in (*_PREFIX, *_VERBS)}
_CMP_WORDS = [w for w in {**_PREFIX, **_SUFFIX} if len(w) > 1 and _PREFIX.get(w, _SUFFIX.get(w))]
_NA = {"无", "无此项", "无此指标", "不适用", "不涉及", "n/a", "na"}
_MAX_WORDS = 8  # longest verb/noun accepted around a number (涉及参保职工 is 6)

_SPACE = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]+")
_SIGNS = ((">=", "≥"), ("=>", "≥"), ("≧", "≥"), ("⩾", "≥"),
          ("<=", "≤"), ("=<", "≤"), ("≦", "≤"), ("⩽", "≤"))
# _SIGNS applied at once: the one-character replacements commute with the others (≥ and ≤ are
# neither "=" nor "<" nor ">"), and the four with "=" are needed only where there is one
_EQ_SIGNS = tuple((old, new) for old, new in _SIGNS if "=" in old)
_ONE_SIGNS = str.maketrans({old: new for old, new in _SIGNS if len(old) == 1})
_ONE_SIGN = re.compile("[" + "".join(old for old, _ in _SIGNS if len(old) == 1) + "]")
# what every _DATE_PATTERNS needs: 年 or 月, or a year 19xx/20xx and its separator. A number with a
# decimal point (5.68万元, 90.9%) has none, and is not taken through the date patterns for nothing.
_DATE_MARK = re.compile(r"[年月]|(?:19|20)\d\d[.\-/]")
_NOT_WORD = re.compile(r"[\W_]")
_TIER_CHARS = frozenset.intersection(*map(frozenset, TIERS))   # what a text naming a tier must hold
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")
_PERCENT_WORDS = re.compile(rf"百分之(\d+(?:\.\d+)?|[{_CN_CHARS}]+)")
_EDGE_PUNCT = ",.;:!?、。\"'“”‘’"
_LEAD_PUNCT = _EDGE_PUNCT.replace(".", "")
_DASHES = "/\\-—–―─_"
_TOKEN = re.compile(rf"(?P<a>(?:(?<![\d%.])[+-])?\d+(?:\.\d+)?)|(?P<c>[{_CN_CHARS}]+)")
_MULTIPLIER = re.compile(r"[十百千]?[万亿]|[百千]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_SEP_YEAR = r"(?P<y>(?:19|20)\d\d)"  # 2021.12 is a date, 3000.12 a number; with 年 any 4 digits
_DATE_PATTERNS = [re.compile(p) for p in (  # tried in order; a missing year comes from the argument
    r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?",
    _SEP_YEAR + r"([.\-/])(?P<m>\d{1,2})\2(?P<d>\d{1,2})",
    r"(?P<y>\d{4})年(?P<m>\d{1,2})月份?[底末]?",
    _SEP_YEAR + r"[.\-/](?P<m>\d{1,2})[底末]?",
    _SEP_YEAR + r"年[底末]?",
    r"(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]",
    r"(?P<m>\d{1,2})月份?[底末]?",
    r"年[底末内]",
)]
_DOT_MONTH = re.compile(r"(?:19|20)\d\d\.\d\d?")
_CN_MONTH = re.compile(r"(?<![一二三四五六七八九十])([一二三四五六七八九十]{1,3})(?=月)")
_DATE_PREFIX = _Words({"≥": ">=", "≤": "<=", ">": ">", "<": "<", "=": "=",
                               "不晚于": "<=", "不早于": ">=", "截止到": "", "截至": "", "截止": "",
                               "完成于": "", "于": "", "在": ""})
_DATE_SUFFIX = _Words({"完成": "", "之前": "<=", "以前": "<=", "前": "<=",
                               "之后": ">=", "以后": ">=", "后": ">="})


# ---------------------------------------------------------------- entry points
def parse_value(value, *, percent_format: bool = False, year: int | None = None) -> Value:
    """Classify one cell value (str, number, date or None); never raises."""
    try:
        return _parse(value, percent_format, year)
    except Exception:  # last-resort guard: a form cell must never crash a whole batch
        return Value("unparseable", text=_safe_text(value), reason="无法解析（内部错误）")


def comparable(a: Value, b: Value) -> bool:
    """True when a target and an actual can be compared by a scoring rule."""
    if a.kind == b.kind == "number":
        return a.unit is None or b.unit is None or a.unit == b.unit
    return a.kind == b.kind and a.kind in ("date", "tier")


def _safe_text(value) -> str:
    try:
        return "" if value is None else str(value).strip()
    except ValueError:  # int with more digits than str() allows
        return "（位数过多的整数）"


def _parse(value, percent_format: bool, year: int | None) -> Value:
    if type(value) is str:   # nearly every cell: none of the checks below applies to it
        text = value.strip()
        return _parse_text(text, year) if text else Value("blank", text=text)
    text = _safe_text(value)
    if value is None or (isinstance(value, str) and not text):
        return Value("blank", text=text)
    if isinstance(value, bool):
        return _bad(text, "布尔值不是数值")
    if isinstance(value, _dt.datetime):
        return Value("date", date=value.date(), text=text)
    if isinstance(value, _dt.date):
        return Value("date", date=value, text=text)
    if isinstance(value, (Real, Decimal)):
        return _parse_python_number(value, text, percent_format)
    if not isinstance(value, str):
        return _bad(text, f"不支持的类型：{type(value).__name__}")
    return _parse_text(text, year)


def _bad(text: str, reason: str) -> Value:
    return Value("unparseable", text=text, reason=reason)


def _parse_python_number(value, text: str, percent_format: bool) -> Value:
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, Integral):
        d = Decimal(int(value))
    else:
        f = float(value)
        if not math.isfinite(f):
            return _bad(text, "数值无效")
        d = Decimal(repr(f))  # repr keeps 0.95 exact, so 0.95 × 100 is exactly 95
    if percent_format:  # the cell showed 0.95 as 95%
        return _number(text, _scale(d, 100), "%", None, None)
    return _number(text, d, None, None, None)


def _scale(d: Decimal, factor) -> Decimal:
    """d × factor in a wide context: huge digit strings must not trip Decimal's exponent limit."""
    with localcontext() as ctx:
        ctx.Emax, ctx.Emin, ctx.traps[InvalidOperation] = 10**9, -(10**9), False
        return d * factor


def _number(text, d: Decimal, unit, comparator, noun) -> Value:
    try:
        f = float(d)
    except (ValueError, ArithmeticError):  # signalling NaN
        f = math.nan
    if not math.isfinite(f):
        return _bad(text, "数值无效或超出范围")
    return Value("number", comparator=comparator, number=f, unit=unit, noun=noun or None, text=text)


# ---------------------------------------------------------------- text
def _normalise(text: str) -> str:
    s = text.replace("㎡", "平方米").replace("m²", "平方米")  # NFKC would make m² into m2
    s = _SPACE.sub("", unicodedata.normalize("NFKC", s))
    if "=" in s:
        for old, new in _EQ_SIGNS:
            s = s.replace(old, new)
    if not s.isascii() and _ONE_SIGN.search(s):   # (translate looks every character up: only where needed)
        s = s.translate(_ONE_SIGNS)
    if "," in s:      # (the two patterns need these: skipping them is only faster)
        s = _THOUSANDS.sub(lambda m: m.group().replace(",", ""), s)
    return _PERCENT_WORDS.sub(_percent_words, s) if "百分之" in s else s


def _percent_words(m: re.Match) -> str:
    """百分之九十五 → 95%; left alone when the numeral does not read as a number."""
    body = m.group(1)
    n = 100 if body == "百" else (body if body[0].isdigit() else _cn_int(body))
    return m.group() if n is None else f"{n}%"


def _parse_text(text: str, year: int | None) -> Value:
    s = _normalise(text)
    core = s.rstrip(_EDGE_PUNCT).lstrip(_LEAD_PUNCT)  # keep the . of .5
    if core.lower() in _NA or (core and not core.strip(_DASHES)):   # (only dashes and slashes)
        return Value("na", text=text)
    if not _TIER_CHARS.isdisjoint(core):
        key = _NOT_WORD.sub("", core)
        if key in TIERS:
            return Value("tier", tier=TIERS.index(key), text=text)
    dated = _parse_date(core, text, year)
    if dated is not None:
        return dated
    simple = _SIMPLE_QUANTITY.fullmatch(core)
    if simple is not None and (not simple.group(3) or simple.group(3) in _WHOLE_UNITS):
        return _simple_quantity(text, *simple.groups())
    tokens = _find_quantities(core)
    if not tokens:
        if re.search(r"[^\W\d_]", core):
            return Value("qualitative", text=text, reason="不含数值，按定性指标处理")
        return _bad(text, "没有可识别的内容")
    if len(tokens) > 1:
        between = core[tokens[0][1]:tokens[1][0]] if len(tokens) == 2 else ""
        if between in ("-", "~", "至", "到", "—", "～"):
            return _bad(text, "是数值范围，不是单一数值")
        return _bad(text, "含多个数值")
    return _single_quantity(core, text, tokens[0])


def _cut_end(s: str, words: _Words) -> tuple[str, str | None]:
    """Remove the longest word of ``words`` that ends ``s``."""
    for w in words.ending.get(s[-1:], ()):
        if s.endswith(w):
            return s[: -len(w)], words[w]
    return s, None


def _cut_start(s: str, words: _Words) -> tuple[str, str | None]:
    for w in words.starting.get(s[:1], ()):
        if s.startswith(w):
            return s[len(w):], words[w]
    return s, None


def _is_words(s: str) -> bool:
    """A short run of Han characters with no comparator word in it: a verb or noun we can ignore."""
    return (len(s) <= _MAX_WORDS and _HAN.fullmatch(s) is not None
            and not any(w in s for w in _CMP_WORDS))


# ---------------------------------------------------------------- quantities
def _find_quantities(s: str) -> list[tuple[int, int, Decimal, str | None, str | None]]:
    """(start, end, value, unit, qualifier) of each quantity, at most three (more adds nothing)."""
    found, pos = [], 0
    while len(found) < 3:
        m = _TOKEN.search(s, pos)
        if m is None:
            break
        pos = m.end()
        if m.group("a"):
            d = Decimal(m.group("a"))
            unit, end, qual = _take_unit(s, m.end())
            mult = _MULTIPLIER.match(s, m.end()) if unit is None else None
            if mult:  # 1.5万, 3千, 5千万元
                for ch in mult.group():
                    d = _scale(d, {**_CN_SMALL, **_CN_BIG}[ch])
                unit, end, qual = _take_unit(s, mult.end())
        else:
            n = _cn_int(m.group("c"))
            unit, end, qual = _take_unit(s, m.end())
            if n is None or not _cn_is_quantity(s, m.start(), m.end(), end if unit else None):
                continue
            d = Decimal(n)
        found.append((m.start(), end, d, unit, qual))
        pos = end
    return found


def _take_unit(s: str, i: int) -> tuple[str | None, int, str | None]:
    """(unit, end, qualifier) of the unit that starts at ``s[i]``; (None, i, None) when none does.

    unit := base ["/" denominator] ["(" qualifier ")"]
    base := money | measure | measure "(" alt ")" | measure "/" alt   (measure+alt in _PAIRED)
    denominator := word (["·" | "/"] word)*                            (words from _DENOMS)

    The unit comes back canonical (aliases applied, 台（套） → 台套, 元/人/年 → 元/人·年) except
    for money, which the caller converts; the qualifier (头份 in 毫升（头份）) is informational.
    """
    if s[i:i + 1] not in _UNIT_FIRST:  # fast path: most characters after a number are not units
        return None, i, None
    base, j = _match_word(s, i, _UNITS_AT)
    if base is None:
        return None, i, None
    base = _ALIASES.get(base, base)
    for open_, close in (("(", ")"), ("/", "")):  # 台(套), 台/套
        alt, k = _match_word(s, j + 1, _UNITS_AT) if s.startswith(open_, j) else (None, j)
        if alt is not None and base + alt in _PAIRED and s.startswith(close, k):
            base, j = base + alt, k + len(close)
            break
    denoms, k = [], j + 1
    while s.startswith("/", j) or denoms:  # 元/生·年, 元/人/年, 元/人月
        word, k = _match_word(s, k, _DENOMS_AT)
        if word is None:
            break
        denoms.append(_DENOM_ALIASES.get(word, word))
        j = k
        k += k < len(s) and (s[k] in _DOTS or s[k] == "/")
    unit = base + "/" + "·".join(denoms) if denoms else base
    qual = None
    if s.startswith("(", j):
        close = s.find(")", j + 1, j + 2 + _MAX_WORDS)
        inner = s[j + 1:close] if close > 0 else ""
        if inner and _is_words(inner) and not any(ch in _CN_CHARS for ch in inner):
            qual, j = inner, close + 1
    return unit, j, qual


def _match_word(s: str, i: int, words: dict[str, list[str]]) -> tuple[str | None, int]:
    """The longest of ``words`` (lists by first character, longest first) that starts at ``s[i]``."""
    for w in words.get(s[i:i + 1], ()):
        if s.startswith(w, i):
            return w, i + len(w)
    return None, i


def _cn_is_quantity(s: str, start: int, end: int, unit_end: int | None) -> bool:
    """一/三/十 inside prose (统一项目, 进一步) is not a quantity: the numeral must carry a unit
    or end the text, and open the text or follow a comparator, a listed verb or punctuation."""
    if unit_end is not None:  # 一次性 is a word, not one 次 of something
        if s[unit_end:unit_end + 1] in ("性", "式", "化"):
            return False
    elif len(s) - end > 10 or _cut_end_repeated(s[end:], _SUFFIX) != "":
        return False
    window = s[max(0, start - 12):start]
    if window and window[-1] not in _WORD_ENDS and _HAN.fullmatch(window[-1]):
        return False  # fast path for long prose
    rest = window
    for table in (_PREFIX, _VERBS, _PREFIX):
        rest, _ = _cut_end(rest, table)
    if rest:
        return not _HAN.fullmatch(rest[-1])
    return start == len(window)  # else the window was all comparator words, with text before


def _cut_end_repeated(s: str, words: dict) -> str:
    for _ in range(3):
        s, _c = _cut_end(s, words)
    return s


def _single_quantity(core: str, text: str, token) -> Value:
    start, end, d, unit, qual = token
    lead, c_lead = _cut_end(core[:start], _PREFIX)
    tail, c_tail = _cut_start(core[end:], _SUFFIX)
    found = [c_lead, c_tail]
    for _ in range(3):  # 98%以上完成: peel 完成, then 以上
        tail, c = _cut_end(tail, _SUFFIX)
        found.append(c)
    comps = {c for c in found if c}
    if len(comps) > 1:
        return _bad(text, "比较符矛盾")
    if lead and not _is_words(lead):
        return _bad(text, f"数值前有无法解释的文字：{lead[:20]}")
    noun = tail
    if noun and (unit is None or not _is_words(noun) or noun[0] in "性式化前后"):
        return _bad(text, f"数值后有无法识别的单位或文字：{noun[:20]}")
    if unit == "年" and d == d.to_integral_value() and 1900 <= d <= 2100:
        return _bad(text, "含年份，不是数量")
    comparator = comps.pop() if comps else None
    base, slash, per = (unit or "").partition("/")
    if unit in _MONEY:
        d, unit = _scale(d, _MONEY[unit]), "万元"
    elif slash and base in _MONEY:  # a rate is kept in 元: 0.125万元/生·年 is 1250元/生·年
        d, unit = _scale(d, _MONEY[base] * 10000), "元/" + per
    noun = (qual or "") + noun
    return _number(text, d, unit, None if comparator == "~" else comparator, noun)


# The commonest shape, ≥95% 35套 ≤30万元 3062: at most a comparator sign, a number and one whole unit
# word. For it _find_quantities finds that one token and its unit, and _single_quantity peels the
# sign; _simple_quantity gives the same Value directly (checked on 153,000 inputs). 年 is left to
# them (a year is not a quantity).
_SIMPLE_QUANTITY = re.compile(r"([≥≤<>=]?)(\d+(?:\.\d+)?)(.*)", re.S)
_WHOLE_UNITS = frozenset(_UNITS) - {"年"}


def _simple_quantity(text: str, sign: str, number: str, unit: str) -> Value:
    d = Decimal(number)
    unit = _ALIASES.get(unit, unit) if unit else None
    if unit in _MONEY:
        d, unit = _scale(d, _MONEY[unit]), "万元"
    return _number(text, d, unit, _PREFIX[sign] if sign else None, None)


def _cn_int(s: str) -> int | None:
    """一百零五 → 105, 两万 → 20000, 一万五 → 15000; None for runs that are not a numeral (一二)."""
    total = section = 0
    digit, last_small, last_big, last, zero = None, 10**5, None, 1, False
    for ch in s:
        if ch in "零〇":
            if digit is not None:
                return None
            zero = True
        elif ch in _CN_DIGIT:
            if digit is not None:
                return None
            digit = _CN_DIGIT[ch]
        elif ch in _CN_SMALL:
            u = _CN_SMALL[ch]
            if digit is None:
                if u != 10 or section or total or zero:  # only 十 may stand alone (十二)
                    return None
                digit = 1
            if u >= last_small:
                return None
            section, digit, last_small, last, zero = section + digit * u, None, u, u, False
        else:  # 万 / 亿 close a section: 一亿零五万 = 1e8 + 5e4, 一万亿 = 1e12
            u = _CN_BIG[ch]
            section += digit or 0
            if not (section or total) or (section == 0 and last_big and u < last_big):
                return None
            if last_big is None or u >= last_big:
                total = (total + section) * u
            else:
                total += section * u
            section, digit, last_small, last, zero, last_big = 0, None, 10**5, u, False, u
    if digit is not None:  # colloquial 一万五 / 三千五: the last digit counts one place lower
        section += digit * (last // 10 if not zero and last >= 100 else 1)
    elif zero and not (total or section):
        return 0
    return total + section


# ---------------------------------------------------------------- dates
def _parse_date(core: str, text: str, year: int | None) -> Value | None:
    """A Value for date-shaped text, or None when the text is not a date at all."""
    if _DATE_MARK.search(core) is None:   # (what is peeled off below holds no 年, 月, digit or separator)
        return None
    body = _CN_MONTH.sub(lambda m: str(_cn_int(m.group(1)) or m.group(1)), core)
    body, c_pre = _cut_start(body, _DATE_PREFIX)
    c_post = None
    for _ in range(2):  # 12月底前完成: peel 完成, then 前
        body, c = _cut_end(body, _DATE_SUFFIX)
        c_post = c or c_post
    hit = next((h for p in _DATE_PATTERNS if (h := p.fullmatch(body))), None)
    if hit is None:
        return None
    parts = hit.groupdict()
    y, m, d = parts.get("y") or year, parts.get("m") or 12, parts.get("d")
    if body == "年内":
        c_post = c_post or "<="
    if c_pre and c_post and c_pre != c_post:
        return _bad(text, "比较符矛盾")
    if y is None:
        return _bad(text, "缺少年份")
    try:
        y, m = int(y), int(m)
        day = int(d) if d is not None else _last_day(y, m)
        when = _dt.date(y, m, day)
    except (ValueError, TypeError, OverflowError):
        return _bad(text, "日期无效")
    return Value("date", comparator=(c_pre or c_post) or None, date=when, text=text)


def _last_day(y: int, m: int) -> int:
    nxt = _dt.date(y + (m == 12), m % 12 + 1, 1)
    return (nxt - _dt.timedelta(days=1)).day

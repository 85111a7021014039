"""Text as a PDF gives it back, folded to the text we wrote: one definition for every comparison of
extracted text (check-published's tables and 说明).

A PDF's text layer is what its fonts' ToUnicode maps say, not what was typed: a browser or word
processor printing with a CJK font often maps 一 to the Kangxi radical ⼀ (U+2F00), 长 to the radical
supplement's ⻓ (U+2ED3), digits to their full-width forms, and puts spaces between glyphs of one
number. :func:`fold` undoes that: NFKC of the Kangxi radicals, CJK compatibility ideographs and
full-width digits and letters (Chinese punctuation stays as written), then the CJK Radicals Supplement characters that stand for a whole character, by Unicode's
EquivalentUnifiedIdeograph data (those that are only a component are left as they are).
"""

from __future__ import annotations

import re
import unicodedata

# CJK Radicals Supplement (U+2E80–U+2EF3) -> the unified ideograph it is equivalent to (Unicode's
# EquivalentUnifiedIdeograph.txt), for the characters a font may alias; NFKC covers ⺟ and ⻳ itself
_RADICALS = {
    "⺅": "亻", "⺆": "冂", "⺉": "刂", "⺊": "卜", "⺌": "小", "⺍": "小", "⺎": "兀", "⺐": "尢", "⺒": "巳",
    "⺓": "幺", "⺔": "彑", "⺕": "彐", "⺖": "忄", "⺗": "心", "⺘": "扌", "⺙": "攵", "⺛": "旡", "⺜": "日",
    "⺝": "月", "⺞": "歺", "⺠": "民", "⺡": "氵", "⺢": "氺", "⺣": "灬", "⺤": "爫", "⺥": "爫", "⺧": "牛",
    "⺨": "犭", "⺩": "王", "⺪": "疋", "⺫": "罒", "⺬": "示", "⺭": "礻", "⺮": "竹", "⺯": "糹", "⺰": "纟",
    "⺲": "罒", "⺶": "羊", "⺷": "羊", "⺹": "耂", "⺺": "肀", "⺻": "聿", "⺼": "肉", "⺽": "臼", "⺾": "艹",
    "⺿": "艹", "⻀": "艹", "⻁": "虎", "⻂": "衤", "⻃": "覀", "⻄": "西", "⻅": "见", "⻆": "角", "⻈": "讠",
    "⻉": "贝", "⻋": "车", "⻌": "辶", "⻍": "辶", "⻎": "辶", "⻏": "阝", "⻐": "钅", "⻑": "長", "⻒": "镸",
    "⻓": "长", "⻔": "门", "⻖": "阝", "⻗": "雨", "⻘": "青", "⻙": "韦", "⻚": "页", "⻛": "风", "⻜": "飞",
    "⻝": "食", "⻟": "飠", "⻠": "饣", "⻡": "首", "⻢": "马", "⻣": "骨", "⻤": "鬼", "⻥": "鱼", "⻦": "鸟",
    "⻧": "卤", "⻨": "麦", "⻩": "黄", "⻪": "黾", "⻫": "斉", "⻬": "齐", "⻭": "歯", "⻮": "齿", "⻯": "竜",
    "⻰": "龙", "⻱": "龜", "⻲": "亀",
}
# traditional forms a CJK font's ToUnicode map gives for the simplified character it drew with the
# same glyph (seen in Chromium's print of our HTML with Noto CJK: 专户 came back as 专戶)
_SHARED_GLYPHS = {"戶": "户"}
_TABLE = str.maketrans({**_RADICALS, **_SHARED_GLYPHS})
# spaces a converter puts between the glyphs of one number: "1, 234 . 56", "12 .5 %"
_SPACED_NUMBER = re.compile(r"(?<=[\d,.])\s+(?=[\d,.%])")


def _compat(ch: str) -> str:
    """NFKC of the characters a font stands in for others (Kangxi radicals, CJK compatibility
    ideographs, full-width digits and letters); Chinese punctuation (，：（）) is kept as written."""
    cp = ord(ch)
    if (0x2F00 <= cp <= 0x2FDF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
            or 0xFF10 <= cp <= 0xFF19 or 0xFF21 <= cp <= 0xFF3A or 0xFF41 <= cp <= 0xFF5A):
        return unicodedata.normalize("NFKC", ch)
    return ch


def fold(text: str) -> str:
    """``text`` as extracted from a PDF, folded to what was written (see the module doc)."""
    if not text or text.isascii():
        return text
    return "".join(_compat(ch) if ch > "\u2e7f" else ch for ch in text).translate(_TABLE)


def fold_number_spaces(text: str) -> str:
    """:func:`fold`, and spaces inside a number removed (for text that is read for its amounts)."""
    return _SPACED_NUMBER.sub("", fold(text))

"""Make the CJK font the charts draw with: Noto Sans CJK SC Regular, cut to the characters of GB 2312.

The charts must render Chinese on any machine, with no system font assumed (issue 19, point 4), so the package
carries its own font: a subset of Noto Sans CJK SC (SIL Open Font License 1.1, the licence beside the font) to
the 6,763 hanzi and the symbols of GB 2312, the printable ASCII and the punctuation the reports use: 2.9 MB
where the whole font is 16 MB. A character outside it (a rare name in a bureau's budget file) falls back to
matplotlib's DejaVu Sans, and to a box where neither has it.

Run with the whole font's path (e.g. ``NotoSansCJKsc-Regular.otf`` of the notofonts/noto-cjk release, version
1.004, also in the ``mplfonts`` wheel on PyPI):

    python scripts/subset_cjk_font.py NotoSansCJKsc-Regular.otf

It writes ``src/subsidy_engine/reports/fonts/NotoSansCJKsc-Regular-GB2312.otf``. Needs fontTools (a matplotlib
dependency).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

OUT = Path(__file__).resolve().parents[1] / "src" / "subsidy_engine" / "reports" / "fonts" / \
    "NotoSansCJKsc-Regular-GB2312.otf"
PUNCTUATION = "，。、；：？！“”‘’（）《》〔〕【】—…·％￥〇「」『』～－"


def gb2312() -> set[str]:
    """Every character GB 2312 encodes (rows 0xA1-0xF7, cells 0xA1-0xFE)."""
    found = set()
    for row in range(0xA1, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                found.add(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


def main(source: str) -> None:
    characters = gb2312() | {chr(c) for c in range(0x20, 0x7F)} | set(PUNCTUATION)
    options = subset.Options()
    options.hinting = False  # the charts are drawn at 120 dpi by FreeType's own hinting
    options.notdef_outline = True
    font = subset.load_font(source, options)
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=[ord(c) for c in characters])
    cutter.subset(font)
    subset.save_font(font, str(OUT), options)
    print(f"{OUT}: {OUT.stat().st_size:,} bytes, {len(characters):,} characters")


if __name__ == "__main__":
    main(sys.argv[1])

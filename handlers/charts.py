"""The leaderboard's bar chart as a PNG (matplotlib, Agg), Chinese names in a shipped CJK font.

No pyplot: a bare `Figure` with an Agg canvas keeps no global state, so scheduler threads can render
at once. The font is `bot/fonts/DroidSansFallbackFull.ttf` (see its README): system fonts on a slim
image have no hanzi.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

#: WeCom's robot refuses images above 2 MB (before base64).
MAX_IMAGE_BYTES = 2 * 1024 * 1024
FONT_FILE = "fonts/DroidSansFallbackFull.ttf"


@dataclass(frozen=True)
class Bar:
    label: str
    amount_yuan: int
    complete_reports: int
    violations: int
    #: Shown instead of the amount when no deal's amount could be read (金额待确认, never 0万).
    amount_note: str | None = None
    #: 达成率 of the rep's target (handlers.targets), drawn as a mark after the bar.
    target_ratio: float | None = None


@cache
def cjk_font() -> FontProperties:
    """DejaVu Sans (bundled with matplotlib) for Latin and digits, falling back to Droid for hanzi."""
    # importlib.resources finds the file inside the installed `bot` package (wheel or editable);
    # registering it is idempotent, and matplotlib's per-glyph fallback needs it registered by name.
    path = str(files("bot").joinpath(FONT_FILE))
    font_manager.fontManager.addfont(path)
    cjk_name = font_manager.FontProperties(fname=path).get_name()
    return FontProperties(family=["DejaVu Sans", cjk_name])


def leaderboard_figure(bars: Sequence[Bar], *, title: str) -> Figure:
    """Horizontal bars of deal amount (万元), best at the top, reports and violations annotated."""
    font = cjk_font()
    height = max(2.5, 0.55 * len(bars) + 1.4)
    fig = Figure(figsize=(8, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels = [b.label for b in bars]
    values = [b.amount_yuan / 10_000 for b in bars]
    positions = list(range(len(bars)))[::-1]
    ax.barh(positions, values, color="#2f7ed8", height=0.6)
    ax.set_yticks(positions, labels, fontproperties=font, fontsize=11)
    ax.set_xlabel("成交金额（万元）", fontproperties=font)
    ax.set_title(title, fontproperties=font, fontsize=13)
    top = max(values, default=0) or 1
    ax.set_xlim(0, top * 1.45)
    for pos, value, bar in zip(positions, values, bars, strict=True):
        note = f"{bar.amount_note or f'{value:g}万'} · 完整跟进{bar.complete_reports} · 违规{bar.violations}"
        if bar.target_ratio is not None:
            note += f" · 目标{bar.target_ratio:.0%}"
            # The mark: a diamond, green once the target is reached.
            ax.plot([value + top * 0.01], [pos], marker="D", markersize=6, linestyle="none",
                    color="#2e9b4f" if bar.target_ratio >= 1 else "#e8a317")
        ax.text(value + top * 0.02, pos, note, va="center", fontproperties=font, fontsize=9)
    if not bars:
        ax.text(0.5, 0.5, "本周暂无数据", transform=ax.transAxes, ha="center", fontproperties=font)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def trend_figure(labels: Sequence[str], series: dict[str, Sequence[int]], *, title: str) -> Figure:
    """One line per rule over the weeks in `labels` (violations per week)."""
    font = cjk_font()
    fig = Figure(figsize=(8, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = list(range(len(labels)))
    for name, counts in series.items():
        ax.plot(x, list(counts), marker="o", markersize=3, label=name)
    ax.set_xticks(x, list(labels), fontsize=8)
    ax.set_ylabel("违规（条/周）", fontproperties=font)
    ax.set_title(title, fontproperties=font, fontsize=12)
    ax.set_ylim(bottom=0)
    ax.yaxis.get_major_locator().set_params(integer=True)
    if series:
        ax.legend(prop=font, fontsize=8, loc="upper left", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def render_png(fig: Figure) -> bytes:
    """PNG bytes, at a lower resolution if the first attempt exceeds the robot's 2 MB limit."""
    for dpi in (100, 72, 50):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        data = buf.getvalue()
        if len(data) <= MAX_IMAGE_BYTES:
            return data
    raise ValueError(f"chart is {len(data)} bytes even at 50 dpi; the robot accepts {MAX_IMAGE_BYTES}")


def leaderboard_png(bars: Sequence[Bar], *, title: str) -> bytes:
    return render_png(leaderboard_figure(bars, title=title))

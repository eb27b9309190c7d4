"""The bar chart renders with the shipped CJK font and stays under the robot's image limit."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from handlers.charts import MAX_IMAGE_BYTES, Bar, leaderboard_figure, leaderboard_png


def test_empty_week_says_so():
    fig = leaderboard_figure([], title="华南销售群 销售周榜 2026-W47")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["本周暂无数据"]


@pytest.mark.parametrize("count", [1, 5, 20])
def test_png_size_and_annotations(count):
    bars = [Bar(f"{i}. 销售{i}", 10_000 * (count - i + 1), i, i % 3) for i in range(1, count + 1)]
    fig = leaderboard_figure(bars, title="全公司 销售周榜 2026-W47")
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert notes[0] == f"{count:g}万 · 完整跟进1 · 违规1"
    assert len(notes) == count
    png = leaderboard_png(bars, title="全公司 销售周榜 2026-W47")
    assert len(png) <= MAX_IMAGE_BYTES
    width, height = Image.open(io.BytesIO(png)).size
    assert width == 800 and height >= 250

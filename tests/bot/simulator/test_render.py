"""The simulator page shows WeCom markdown as the WeCom client renders it, and nothing more."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from matplotlib.figure import Figure

from bot.simulator.render import image_data_url, render_markdown


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("**张伟** 发送了客户手机号", '<div class="wc-line"><strong>张伟</strong> 发送了客户手机号</div>'),
        ("> 原文：王总电话 138****5678", '<div class="wc-quote">原文：王总电话 138****5678</div>'),
        ('<font color="warning">3 次违规</font>',
         '<div class="wc-line"><span class="wc-warning">3 次违规</span></div>'),
        ("<font color=info>已处理</font>", '<div class="wc-line"><span class="wc-info">已处理</span></div>'),
        ("<font color='comment'>备注</font>", '<div class="wc-line"><span class="wc-comment">备注</span></div>'),
        ("### 2026年11月 销售月度考核", '<div class="wc-heading">2026年11月 销售月度考核</div>'),
        ("[下载](http://127.0.0.1:8000/dashboard/reports/monthly-2026-11.xlsx?a=1&b=2)",
         '<div class="wc-line"><a href="http://127.0.0.1:8000/dashboard/reports/monthly-2026-11.xlsx?a=1&amp;b=2"'
         ' target="_blank" rel="noopener noreferrer">下载</a></div>'),
        ("第一行\n\n第三行", '<div class="wc-line">第一行</div><div class="wc-line">&nbsp;</div>'
                           '<div class="wc-line">第三行</div>'),
        # What WeCom does not render stays visible as the characters a rep typed.
        ("<script>alert(1)</script>", '<div class="wc-line">&lt;script&gt;alert(1)&lt;/script&gt;</div>'),
        ('<font color="red">红</font>', '<div class="wc-line">&lt;font color=&quot;red&quot;&gt;红&lt;/font&gt;</div>'),
        ("[点我](javascript:alert(1))", '<div class="wc-line">[点我](javascript:alert(1))</div>'),
        ('[x](https://a.cn/" onmouseover="alert(1))',
         '<div class="wc-line">[x](https://a.cn/&quot; onmouseover=&quot;alert(1))</div>'),
        ('<img src=x onerror=alert(1)>', '<div class="wc-line">&lt;img src=x onerror=alert(1)&gt;</div>'),
    ],
)
def test_wecom_markdown_renders_as_wecom_shows_it_and_nothing_else(markdown: str, html: str) -> None:
    assert str(render_markdown(markdown)) == html


def _png() -> bytes:
    out = io.BytesIO()
    Figure(figsize=(1, 1)).savefig(out, format="png")
    return out.getvalue()


def test_an_image_message_becomes_an_inline_picture_and_other_bytes_do_not() -> None:
    raw = _png()
    encoded = base64.b64encode(raw).decode()
    body = {"msgtype": "image", "image": {"base64": encoded, "md5": hashlib.md5(raw).hexdigest()}}
    assert image_data_url(body) == "data:image/png;base64," + base64.b64encode(raw).decode()
    html_page = base64.b64encode(b"<html><script>alert(1)</script>").decode()
    assert image_data_url({"msgtype": "image", "image": {"base64": html_page}}) is None
    assert image_data_url({"msgtype": "image", "image": {"media_id": "m1"}}) is None

"""What a WeCom reader sees: markdown rendered the way the WeCom client renders it, images inline.

Only WeCom's own markdown constructs are rendered: `#` headings, `**bold**`, `> ` quotes,
`<font color="info|comment|warning">`, `[text](http(s) link)` and `` `code` ``. The text is
HTML-escaped first and the constructs are recognised in the escaped text, so anything else (a
`<script>`, another tag, a `javascript:` link) stays visible as the characters it was.

    render_markdown('**张伟**：<font color="warning">发言时段外</font>')
    # Markup('<div class="wc-line"><strong>张伟</strong>：<span class="wc-warning">发言时段外</span></div>')
"""

from __future__ import annotations

import base64
import binascii
import html
import re

from markupsafe import Markup

#: WeCom's three font colours (企业微信 markdown 只支持 info/comment/warning).
FONT_COLOURS = ("info", "comment", "warning")
_QUOTE_CHARS = r"(?:&quot;|&#x27;)?"
_FONT = re.compile(
    rf"&lt;font color={_QUOTE_CHARS}({'|'.join(FONT_COLOURS)}){_QUOTE_CHARS}&gt;(.*?)&lt;/font&gt;", re.S
)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
# Escaped text holds no quote or angle bracket, so an href built from it cannot leave its attribute.
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_HEADING = re.compile(r"#{1,6} (.*)")
_IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def _inline(escaped: str) -> str:
    escaped = _CODE.sub(r'<code>\1</code>', escaped)
    escaped = _LINK.sub(r'<a href="\2" target="_blank" rel="noopener noreferrer">\1</a>', escaped)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _FONT.sub(r'<span class="wc-\1">\2</span>', escaped)


def render_markdown(text: str) -> Markup:
    """`text` (WeCom markdown) as safe HTML, one block per line."""
    # Font tags may span lines in WeCom; colour each line's part so the blocks stay well nested.
    escaped = html.escape(text, quote=True)
    escaped = _FONT.sub(lambda m: "\n".join(
        f"&lt;font color=&quot;{m[1]}&quot;&gt;{part}&lt;/font&gt;" if part else "" for part in m[2].split("\n")
    ), escaped)
    blocks = []
    for line in escaped.split("\n"):
        if line.startswith("&gt; ") or line == "&gt;":
            blocks.append(f'<div class="wc-quote">{_inline(line[5:])}</div>')
        elif heading := _HEADING.fullmatch(line):
            blocks.append(f'<div class="wc-heading">{_inline(heading[1])}</div>')
        else:
            blocks.append(f'<div class="wc-line">{_inline(line) or "&nbsp;"}</div>')
    return Markup("".join(blocks))


def image_data_url(body: dict) -> str | None:
    """A `data:` URL for an image message's picture (PNG, JPEG or GIF only), None for anything else."""
    part = body.get("image") if isinstance(body, dict) else None
    encoded = part.get("base64") if isinstance(part, dict) else None
    if not isinstance(encoded, str):
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    for magic, mime in _IMAGE_TYPES:
        if raw.startswith(magic):
            # Re-encoded from the bytes: the URL holds base64's alphabet only.
            return f"data:{mime};base64,{base64.b64encode(raw).decode()}"
    return None

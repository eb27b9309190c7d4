"""bot.log: one JSON object per line, a request id, and no personal identifier in any part of a record."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from bot.log import configure_logging, redact, request_id, resolve_format


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客户电话13812345678请回电", "客户电话[mobile]请回电"),
        ("手机 +86 138-1234-5678", "手机 [mobile]"),
        ("身份证110105199003071234号", "身份证[number]号"),
        ("身份证11010519900307123X", "身份证[number]"),
        ("卡号6222021234567890123", "卡号[number]"),
        ("邮箱 wang.zong@huaxing-tech.com.cn 已发", "邮箱 [email] 已发"),
        ("订单 2026 年 3 月共 12 单，金额 58000 元", "订单 2026 年 3 月共 12 单，金额 58000 元"),
        ("inbox row 42 failed on attempt 3", "inbox row 42 failed on attempt 3"),
        (
            "POST http://sim/cgi-bin/message/send?access_token=HpoUQltoLlYQ4T6Y \"HTTP/1.1 200 OK\"",
            "POST http://sim/cgi-bin/message/send?access_token=[redacted] \"HTTP/1.1 200 OK\"",
        ),
        ("POST /cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4", "POST /cgi-bin/webhook/send?key=[redacted]"),
        ("GET /gettoken?corpid=ww1&corpsecret=abcDEF123", "GET /gettoken?corpid=ww1&corpsecret=[redacted]"),
    ],
)
def test_redact_masks_identifiers_and_keeps_ordinary_numbers(text: str, expected: str) -> None:
    assert redact(text) == expected


@contextmanager
def logging_to(stream):
    """Our logging configured onto `stream`; the root logger's handlers and level restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    with logging_to(io.StringIO()) as stream:
        yield stream


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_part_of_a_record_is_redacted_but_msgid_is_kept(captured: io.StringIO) -> None:
    log = logging.getLogger("groupbot.test")
    token = request_id.set("req-7f3a")
    try:
        log.warning("sender %s wrote", "13812345678", extra={"msgid": "4561255354251345929", "who": "a@b.cn"})
        try:
            raise ValueError("bad value 6222021234567890123")
        except ValueError:
            log.exception("failed")
    finally:
        request_id.reset(token)
    first, second = lines(captured)
    assert {k: first[k] for k in ("level", "logger", "request_id", "msg", "msgid", "who")} == {
        "level": "WARNING",
        "logger": "groupbot.test",
        "request_id": "req-7f3a",
        "msg": "sender [mobile] wrote",
        "msgid": "4561255354251345929",
        "who": "[email]",
    }
    assert "6222021234567890123" not in second["exc"] and "[number]" in second["exc"]
    assert second["request_id"] == "req-7f3a"


def test_outside_a_request_the_request_id_is_a_dash(captured: io.StringIO) -> None:
    logging.getLogger("groupbot.test").info("inbox worker started")
    assert lines(captured)[0]["request_id"] == "-"


def test_outbound_request_lines_never_show_a_token_or_robot_key(captured: io.StringIO) -> None:
    logging.getLogger("bot.senders").warning(
        "send failed: POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-secret-key-1"
    )
    logging.getLogger("httpx").info("HTTP Request: POST https://x/cgi-bin/message/send?access_token=tok-secret")
    text = captured.getvalue()
    assert "robot-secret-key-1" not in text and "tok-secret" not in text
    assert "key=[redacted]" in text


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("asked", "stream", "expected"),
    [
        ("auto", _Terminal(), "console"),  # a person at a terminal
        ("auto", io.StringIO(), "json"),  # a pipe, a file, journald
        (None, io.StringIO(), "json"),
        ("json", _Terminal(), "json"),  # GROUPBOT_LOG_FORMAT=json on a terminal
        ("console", io.StringIO(), "console"),
    ],
)
def test_log_format_is_readable_on_a_terminal_and_json_elsewhere(asked, stream, expected) -> None:
    assert resolve_format(asked, stream) == expected


def test_a_bad_log_format_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'yaml'"):
        resolve_format("yaml", io.StringIO())


@pytest.fixture
def terminal() -> Iterator[_Terminal]:
    with logging_to(_Terminal()) as stream:
        yield stream


def test_on_a_terminal_a_line_is_readable_in_beijing_time_and_still_redacted(terminal: _Terminal) -> None:
    record = logging.LogRecord("handlers.dispatch", logging.WARNING, __file__, 1, "rep %s sent", ("13812345678",), None)
    record.created = datetime(2026, 3, 2, 1, 5, 9, tzinfo=UTC).timestamp()  # 09:05:09 in Shanghai
    record.msgid = "4561255354251345929"
    logging.getLogger().handlers[0].handle(record)
    text = re.sub(r"\x1b\[[0-9;]*m", "", terminal.getvalue())  # rich's colours
    assert "03-02 09:05:09" in text and "WARNING" in text
    assert "rep [mobile] sent" in text and "msgid=4561255354251345929" in text
    assert "13812345678" not in text and not text.lstrip().startswith("{")


def test_uvicorn_colour_codes_never_reach_a_json_line(captured: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"}
    )
    (line,) = lines(captured)
    assert line["msg"] == "Started server process [42]"
    assert "color_message" not in line and "\x1b" not in captured.getvalue()


def test_a_level_an_earlier_uvicorn_server_left_behind_does_not_hide_its_lines() -> None:
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # as uvicorn.Config(log_level="warning") does
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        configure_logging("INFO", stream=stream, fmt="json")
        logging.getLogger("uvicorn.error").info("Application startup complete.")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert [line["msg"] for line in lines(stream)] == ["Application startup complete."]


"""WeCom's answers mapped to retry / refresh the token / give up, as the dispatcher needs them."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.errors import PermanentSendError, RetryableSendError, TokenExpiredError
from bot.senders.errcodes import ERRCODES
from bot.senders.wecom_http import check, post


def answer(status: int = 200, **body: object) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("POST", "https://qyapi.test/x"))


@pytest.mark.parametrize(
    ("response", "expected", "errcode"),
    [
        (answer(errcode=45009, errmsg="api freq out of limit"), RetryableSendError, 45009),
        (answer(errcode=-1, errmsg="system busy"), RetryableSendError, -1),
        (answer(errcode=42001, errmsg="access_token expired"), TokenExpiredError, 42001),
        (answer(errcode=40014, errmsg="invalid access_token"), TokenExpiredError, 40014),
        (answer(errcode=60020, errmsg="not allow to access from your ip"), PermanentSendError, 60020),
        (answer(errcode=81013, errmsg="user & party & tag all invalid"), PermanentSendError, 81013),
        (answer(errcode=93000, errmsg="invalid webhook url"), PermanentSendError, 93000),
        (answer(errcode=99999, errmsg="something new"), RetryableSendError, 99999),  # unknown: bounded retries
        (answer(502), RetryableSendError, None),
        (answer(429), RetryableSendError, None),
        (answer(404), PermanentSendError, None),
    ],
)
def test_answers_map_to_what_the_dispatcher_does(
    response: httpx.Response, expected: type[Exception], errcode: int | None
) -> None:
    with pytest.raises(expected) as caught:
        check(response, "message/send")
    assert type(caught.value) is expected
    assert caught.value.errcode == errcode


def test_a_zero_errcode_returns_the_answer() -> None:
    assert check(answer(errcode=0, errmsg="ok", msgid="x1"), "message/send")["msgid"] == "x1"


def test_the_untrusted_ip_dead_letter_says_how_to_fix_it() -> None:
    with pytest.raises(PermanentSendError) as caught:
        check(answer(errcode=60020, errmsg="not allow to access from your ip"), "message/send")
    assert "企业可信IP" in str(caught.value) and "egress IP" in str(caught.value)


def test_45009_asks_to_wait_out_the_minute() -> None:
    with pytest.raises(RetryableSendError) as caught:
        check(answer(errcode=45009, errmsg="api freq out of limit"), "webhook/send")
    assert caught.value.retry_after == 60.0


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(httpx.ReadTimeout("slow"), "timed out"), (httpx.ConnectError("refused"), "network error ConnectError")],
)
def test_network_faults_are_retryable_and_never_echo_the_url(fault: Exception, reason: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise fault

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            await post(client, "https://qyapi.test/cgi-bin/webhook/send", "webhook/send",
                       params={"key": "robot-secret-key"}, json={})

    with pytest.raises(RetryableSendError) as caught:
        asyncio.run(go())
    assert str(caught.value) == f"webhook/send: {reason}"
    assert "robot-secret-key" not in repr(caught.value)


def test_every_mapped_code_has_an_explanation() -> None:
    assert all(verdict in ("retry", "token", "permanent") and meaning for verdict, meaning in ERRCODES.values())

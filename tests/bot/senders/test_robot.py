"""The group-robot webhook sender: bodies as WeCom wants them, keys from the environment, limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import timedelta

import httpx
import pytest

from bot.config import OutboxConfig
from bot.errors import PermanentSendError, RetryableSendError
from bot.senders.robot import RobotSender, image_body
from handlers.dispatch import Outgoing
from storage.ratelimit import Limit

KEYS = {"east": "key-east-0001"}


def run(body: dict, answer: dict, *, target: str = "east") -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def wecom(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(wecom)) as client:
            sender = RobotSender(client, api_base="https://qyapi.test/cgi-bin/", robot_key=KEYS.get,
                                 config=OutboxConfig())
            await sender.send(Outgoing(1, "warn:m-1", "robot", target, body, 1))

    asyncio.run(go())
    return seen


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize(
    "body",
    [
        {
            "msgtype": "text",
            "text": {"content": "张伟，温馨提醒：跟进报告还缺少 联系方式。", "mentioned_list": ["zhangwei"]},
        },
        {"msgtype": "markdown", "markdown": {"content": "**本周排行榜**\n> 1. 张伟 5万"}},
        image_body(PNG),
    ],
)
def test_posts_the_body_as_is_to_the_robots_webhook(body: dict) -> None:
    [request] = run(body, {"errcode": 0, "errmsg": "ok"})
    assert request.url.path == "/cgi-bin/webhook/send"
    assert request.url.params["key"] == "key-east-0001"
    assert json.loads(request.content) == body


def test_image_body_carries_base64_and_md5_of_the_bytes() -> None:
    body = image_body(PNG)
    assert base64.b64decode(body["image"]["base64"]) == PNG
    assert body["image"]["md5"] == hashlib.md5(PNG).hexdigest()


def test_a_45009_answer_is_retryable_not_a_failure() -> None:
    with pytest.raises(RetryableSendError) as caught:
        run({"msgtype": "text", "text": {"content": "好的"}}, {"errcode": 45009, "errmsg": "api freq out of limit"})
    assert caught.value.errcode == 45009


def test_an_unknown_robot_is_a_dead_letter_naming_the_setting() -> None:
    with pytest.raises(PermanentSendError) as caught:
        run({"msgtype": "text", "text": {"content": "好的"}}, {"errcode": 0}, target="north")
    assert "GROUPBOT_ROBOT_KEYS" in str(caught.value) and "'north'" in str(caught.value)


def test_each_robot_counts_against_its_own_minute() -> None:
    sender = RobotSender(httpx.AsyncClient(), api_base="https://x", robot_key=KEYS.get,
                         config=OutboxConfig(robot_per_minute=18))
    item = Outgoing(1, "k", "robot", "east", {}, 0)
    assert sender.limits(item) == [Limit("robot:east", 18, timedelta(seconds=61))]

"""The chat-archive poller against a fake SDK that answers exactly like pywecomarchive.

The fake wraps each message's random key with our real RSA public key (PKCS#1 v1.5), returns real
`ChatDataResponse` / `EncryptedChatData` models, validates every message with the SDK's own
`message_adapter`, and refuses to decrypt with any key but the one it wrapped: the poller's key
handling is exercised for real; only Tencent's native library is faked.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import TypeAdapter
from pywecomarchive import ChatDataResponse, SdkDecryptMsgError
from pywecomarchive.models import message_adapter
from sqlalchemy import select

from bot.config import ArchiveConfig, IngestConfig
from bot.errors import ConfigError
from bot.settings import Settings
from bot.wecom.archive import CURSOR, ArchiveKeys, ArchivePoller, make_archive_sdk, run_archive_task, run_poller
from storage.db import make_session_factory
from storage.models import CursorRow, InboxEventRow
from storage.sealing import PayloadSealer
from tests.conftest import sh

ROOM = "wrOgQhDgAAcwMTB7YmDkbeBsgT_AAAAA"
T0 = 1772421300000  # 2026-03-02 11:15:00 Asia/Shanghai, in ms


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def rsa_keys() -> dict[int, rsa.RSAPrivateKey]:
    return {ver: rsa.generate_private_key(public_exponent=65537, key_size=2048) for ver in (1, 2)}


class FakeArchiveSdk:
    """pywecomarchive.WecomArchiveSdk's two calls, over an in-memory archive."""

    def __init__(self, public_keys: dict[int, rsa.RSAPublicKey]) -> None:
        self.public_keys = public_keys
        self.items: list[dict[str, Any]] = []
        self.sealed: dict[str, tuple[str, dict[str, Any]]] = {}
        self.calls: list[tuple[int, int]] = []

    def add(self, message: dict[str, Any], *, ver: int = 1, shaped: bool = True) -> None:
        if shaped:
            message_adapter.validate_python(message, strict=True)  # shaped like the real thing
        random_key = secrets.token_hex(16)
        wrapped = self.public_keys[ver].encrypt(random_key.encode(), padding.PKCS1v15())
        sealed = base64.b64encode(secrets.token_bytes(48)).decode()
        self.sealed[sealed] = (random_key, message)
        self.items.append(
            {
                "seq": len(self.items) + 1,
                "msgid": message["msgid"],
                "publickey_ver": ver,
                "encrypt_random_key": base64.b64encode(wrapped).decode(),
                "encrypt_chat_msg": sealed,
            }
        )

    def get_chat_data(self, seq: int = 0, limit: int = 1000) -> ChatDataResponse:
        self.calls.append((seq, limit))
        batch = [item for item in self.items if item["seq"] > seq][:limit]
        return ChatDataResponse.model_validate({"errcode": 0, "errmsg": "ok", "chatdata": batch})

    def decrypt_data(self, encrypt_key: str, encrypt_msg: str, *, adapter: TypeAdapter[Any]) -> Any:
        random_key, message = self.sealed[encrypt_msg]
        if encrypt_key != random_key:
            raise SdkDecryptMsgError("DecryptData")
        return adapter.validate_python(json.loads(json.dumps(message)), strict=True)


def text(msgid: str, content: str, *, sender: str = "zhangwei", room: str = ROOM, at: int = T0) -> dict:
    return {
        "msgid": msgid,
        "action": "send",
        "from": sender,
        "tolist": ["lisi", "wangfang"],
        "roomid": room,
        "msgtime": at,
        "msgtype": "text",
        "text": {"content": content},
    }


def recall(msgid: str, pre_msgid: str) -> dict:
    return {
        "msgid": msgid,
        "action": "recall",
        "from": "zhangwei",
        "tolist": ["lisi"],
        "roomid": ROOM,
        "msgtime": T0 + 60_000,
        "msgtype": "revoke",
        "revoke": {"pre_msgid": pre_msgid},
    }


def image(msgid: str) -> dict:
    return {
        "msgid": msgid,
        "action": "send",
        "from": "lisi",
        "tolist": ["zhangwei"],
        "roomid": ROOM,
        "msgtime": T0,
        "msgtype": "image",
        "image": {"md5sum": "50de8e5ae8ffe4f1df7a93841f71993a", "filesize": 70961, "sdkfileid": "CtYBMzA2OTAyMDEwMjA0"},
    }


def switch(msgid: str) -> dict:
    return {"msgid": msgid, "action": "switch", "time": T0, "user": "zhangwei"}


@pytest.fixture
def sdk(rsa_keys) -> FakeArchiveSdk:
    return FakeArchiveSdk({ver: key.public_key() for ver, key in rsa_keys.items()})


@pytest.fixture
def keys(rsa_keys) -> ArchiveKeys:
    return ArchiveKeys({str(ver): _pem(key) for ver, key in rsa_keys.items()})


@pytest.fixture
def poller(sdk, keys, engine) -> ArchivePoller:
    return ArchivePoller(sdk, keys, make_session_factory(engine), limit=1000)


def inbox_rows(engine) -> list[InboxEventRow]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(InboxEventRow).order_by(InboxEventRow.id)))


@pytest.mark.parametrize(
    ("message", "recorded", "skipped"),
    [
        (text("m1", "【跟进】客户姓名：王总；公司名称：华星科技"), 1, {}),
        (text("m2", "今天下午去华星科技拜访，王总对仓储方案很感兴趣", room=""), 0, {"direct": 1}),
        (recall("m3", "m1"), 0, {"recall": 1}),
        (image("m4"), 1, {}),
        (switch("m5"), 0, {"switch": 1}),
        (text("m6", "**本周排行**") | {"msgtype": "markdown", "info": {"content": "**本周排行**"}}, 0,
         {"msgtype:markdown": 1}),  # only robots post markdown
    ],
    ids=["group-text", "direct-text", "recall", "image", "switch", "robot-markdown"],
)
def test_only_members_group_messages_reach_the_inbox(sdk, poller, engine, message, recorded, skipped):
    sdk.add(message)

    result = poller.poll_once()

    assert (result.fetched, result.recorded, dict(result.skipped)) == (1, recorded, skipped)
    assert len(inbox_rows(engine)) == recorded
    assert poller.cursor() == 1  # skipped messages are passed over for good


def test_group_text_is_normalized_like_every_other_door(sdk, poller, engine):
    sdk.add(text("CAQQ2aiD9AUY0Yy/8gUglICAgICAgIAB", "华星科技王总确认下周三来公司看样品", sender="lisi"))

    poller.poll_once()

    (row,) = inbox_rows(engine)
    assert (row.dedupe_key, row.source, row.kind) == ("CAQQ2aiD9AUY0Yy/8gUglICAgICAgIAB", "archive", "message")
    assert row.payload == {
        "msgid": "CAQQ2aiD9AUY0Yy/8gUglICAgICAgIAB",
        "chat_id": ROOM,
        "sender": "lisi",
        "sent_at": "2026-03-02T03:15:00+00:00",
        "text": "华星科技王总确认下周三来公司看样品",
        "msgtype": "text",
        "source": "archive",
    }
    assert datetime.fromisoformat(row.payload["sent_at"]) == sh(2026, 3, 2, 11, 15)


def test_each_key_version_uses_its_own_private_key(sdk, poller, engine):
    sdk.add(text("old-key", "上午已电话沟通，客户预算确认"), ver=1)
    sdk.add(text("new-key", "下午拜访顺利，明天发报价"), ver=2)

    result = poller.poll_once()

    assert result.recorded == 2
    assert [row.dedupe_key for row in inbox_rows(engine)] == ["old-key", "new-key"]


def test_cursor_resumes_after_the_last_seq_and_a_repeated_pull_stores_nothing_twice(sdk, poller, engine):
    for n in range(3):
        sdk.add(text(f"m{n}", f"第{n + 1}条：今天拜访了{n + 1}家客户"))
    poller.poll_once()
    sdk.add(text("m3", "补充：华星科技要求周五前报价"))

    second = poller.poll_once()

    assert sdk.calls == [(0, 1000), (3, 1000)]
    assert (second.seq_before, second.seq_after, second.recorded) == (3, 4, 1)
    with make_session_factory(engine)() as session:  # another replica pulled from an old cursor
        session.get(CursorRow, CURSOR).value = 0
        session.commit()
    replayed = poller.poll_once()
    assert (replayed.recorded, replayed.duplicates, replayed.seq_after) == (0, 4, 4)
    assert len(inbox_rows(engine)) == 4


def test_drain_pulls_batches_until_one_comes_back_short(sdk, keys, engine):
    for n in range(5):
        sdk.add(text(f"m{n}", f"跟进第{n + 1}位客户"))
    poller = ArchivePoller(sdk, keys, make_session_factory(engine), limit=2)

    results = poller.drain()

    assert [(r.seq_before, r.seq_after) for r in results] == [(0, 2), (2, 4), (4, 5)]
    assert len(inbox_rows(engine)) == 5


@pytest.mark.parametrize(
    ("available", "problem"),
    [
        ({"2"}, "GROUPBOT_ARCHIVE_PRIVATE_KEYS[1]: no private key for publickey_ver 1"),
        ({"1x"}, "GROUPBOT_ARCHIVE_PRIVATE_KEYS[1]: does not decrypt the random key of seq 2"),
    ],
    ids=["version-missing", "wrong-key"],
)
def test_a_key_problem_stops_the_pull_before_anything_moves(sdk, rsa_keys, engine, available, problem):
    sdk.add(text("v2", "这条用新密钥"), ver=2)
    sdk.add(text("v1", "这条用旧密钥"), ver=1)
    pems = {"2": _pem(rsa_keys[2])}
    if "1x" in available:
        pems["1"] = _pem(rsa_keys[2])  # the admin pasted the wrong PEM for version 1
    poller = ArchivePoller(sdk, ArchiveKeys(pems), make_session_factory(engine))

    with pytest.raises(ConfigError) as caught:
        poller.poll_once()

    assert problem in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)
    assert (poller.cursor(), inbox_rows(engine)) == (0, [])


def _corrupt_ciphertext(sdk: FakeArchiveSdk) -> None:
    sdk.add(text("broken", "这条密文损坏"))
    sealed = sdk.items[-1]["encrypt_chat_msg"]
    key, message = sdk.sealed[sealed]
    sdk.sealed[sealed] = ("not-" + key, message)


def _malformed_message(sdk: FakeArchiveSdk) -> None:
    message = text("broken", "这条缺了发送时间")
    del message["msgtime"]
    sdk.add(message, shaped=False)


@pytest.mark.parametrize(
    ("break_first", "reason"),
    [(_corrupt_ciphertext, "undecryptable"), (_malformed_message, "malformed")],
    ids=["undecryptable", "malformed"],
)
def test_a_message_that_cannot_be_read_is_skipped_and_the_rest_goes_on(sdk, poller, engine, break_first, reason):
    break_first(sdk)
    sdk.add(text("fine", "这条正常"))

    result = poller.poll_once()

    assert (dict(result.skipped), result.recorded, result.seq_after) == ({reason: 1}, 1, 2)
    assert [row.dedupe_key for row in inbox_rows(engine)] == ["fine"]


@pytest.mark.parametrize(
    ("pems", "key_path"),
    [
        ({"1": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"}, "[1]"),
        ({"v1": None}, "[v1]"),
    ],
    ids=["not-pem", "version-not-a-number"],
)
def test_bad_private_keys_are_refused_naming_the_version(rsa_keys, pems, key_path):
    pems = {ver: pem or _pem(rsa_keys[1]) for ver, pem in pems.items()}

    with pytest.raises(ConfigError, match=rf"GROUPBOT_ARCHIVE_PRIVATE_KEYS\{key_path}"):
        ArchiveKeys(pems)


def test_the_real_sdk_needs_the_archive_secret():
    with pytest.raises(ConfigError, match="GROUPBOT_ARCHIVE_SECRET"):
        make_archive_sdk(Settings(corp_id="ww1234567890abcdef"))


def test_a_msgaudit_notify_wakeup_pulls_at_once(sdk, poller, engine):
    async def scenario() -> list[str]:
        wakeup, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(run_poller(poller, wakeup=wakeup, poll_seconds=3600, stop=stop))
        for _ in range(200):  # the first, empty pull at start-up
            if sdk.calls:
                break
            await asyncio.sleep(0.01)
        sdk.add(text("after-notify", "【紧急】华星科技合同今天下午要盖章"))
        wakeup.set()
        for _ in range(500):
            if poller.cursor() == 1:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)
        return [row.dedupe_key for row in inbox_rows(engine)]

    assert asyncio.run(scenario()) == ["after-notify"]


def app_with(engine, *, enabled: bool, sdk=None, keys=None, settings=None) -> SimpleNamespace:
    """What run_archive_task reads from a FastAPI app's state."""
    state = SimpleNamespace(
        config=SimpleNamespace(ingest=IngestConfig(archive=ArchiveConfig(enabled=enabled, poll_seconds=3600))),
        settings=settings or Settings(),
        sessions=make_session_factory(engine),
        clock=lambda: sh(2026, 3, 2, 11, 20),
        ingest=SimpleNamespace(archive_wakeup=asyncio.Event(), sealer=PayloadSealer.from_secret("archive-test-key")),
    )
    if sdk is not None:
        state.archive_sdk, state.archive_keys = sdk, keys
    return SimpleNamespace(state=state)


@pytest.mark.parametrize(
    ("enabled", "settings", "logged"),
    [
        (False, Settings(), None),
        (True, Settings(), "GROUPBOT_ARCHIVE_SECRET"),
        (True, Settings(corp_id="ww1234567890abcdef", archive_secret="s" * 43), "GROUPBOT_ARCHIVE_PRIVATE_KEYS"),
    ],
    ids=["disabled", "no-secret", "no-private-keys"],
)
def test_the_app_task_returns_at_once_unless_it_can_poll(engine, caplog, enabled, settings, logged):
    async def scenario() -> None:
        await asyncio.wait_for(
            run_archive_task(app_with(engine, enabled=enabled, settings=settings), asyncio.Event()), 5
        )

    asyncio.run(scenario())

    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert (logged is None and errors == []) or any(logged in e for e in errors)


def test_the_app_task_polls_an_injected_sdk_until_stopped(sdk, keys, engine):
    sdk.add(text("demo-1", "#跟进 客户：王总；公司：华星科技；需求：仓储系统改造"))
    app = app_with(engine, enabled=False, sdk=sdk, keys=keys)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_archive_task(app, stop))
        for _ in range(500):
            if inbox_rows(engine):
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())

    assert [row.dedupe_key for row in inbox_rows(engine)] == ["demo-1"]


@pytest.mark.parametrize(
    ("msgtype", "body", "violation"),
    [
        ("card", {"corpname": "华星科技", "userid": "wangzong"}, True),
        ("redpacket", {"type": 1, "wish": "恭喜发财", "totalcnt": 5, "totalamount": 500}, True),
        ("external_redpacket", {"type": 1, "wish": "恭喜发财", "totalcnt": 5, "totalamount": 500}, True),
        ("weapp", {"title": "报价", "description": "", "username": "gh_1@app", "displayname": "报价助手"}, True),
        ("link", {"title": "华星科技官网", "description": "", "link_url": "https://example.com", "image_url": ""},
         False),  # allowed below
        ("file", {"md5sum": "50de8e5ae8ffe4f1df7a93841f71993a", "filesize": 1024, "sdkfileid": "CtYBMzA2",
                  "filename": "报价单.xlsx", "fileext": "xlsx"}, False),  # allowed below
    ],
)
def test_non_text_group_messages_arrive_with_the_archive_msgtype_and_meet_content_type(
    sdk, poller, engine, msgtype, body, violation
):
    """The names the archive writes are the names `content_type.allowed` lists."""
    from handlers.inbox_worker import payload_to_message
    from rules.config import GroupRules, RulesConfig
    from rules.engine import RuleEngine

    # 10:45 on a Monday: inside a posting window, so only content_type can object.
    message = image("m7") | {"msgtype": msgtype, msgtype.removeprefix("external_"): body, "msgtime": T0 - 1_800_000}
    del message["image"]
    sdk.add(message)

    assert poller.poll_once().recorded == 1

    (row,) = inbox_rows(engine)
    assert (row.payload["msgtype"], row.payload["text"]) == (msgtype, "")
    rules = RulesConfig.model_validate({"content_type": {"enabled": True, "allowed": ["link", "file"]}})
    verdict = RuleEngine.from_config(rules, [GroupRules(chat_id=ROOM)]).evaluate(payload_to_message(row.payload), ())
    assert [v.rule for v in verdict.violations] == (["content_type"] if violation else [])


@pytest.mark.parametrize(
    "message",
    [
        text("m" * 300, "msgid of 300 characters"),
        text("nul-sender", "发送人带 NUL", sender="zhang\x00wei"),
        text("long-room", "群 id 太长", room="wr" + "x" * 200),
        text("year-9999", "发送时间在 9999 年", at=253402300799000),
        text("year-1970", "发送时间在 1970 年", at=0),
        text("surrogate", "王总\ud800"),
    ],
    ids=["long msgid", "NUL in from", "long roomid", "year 9999", "year 1970", "lone surrogate"],
)
def test_what_the_doors_refuse_is_skipped_as_malformed_not_recorded(sdk, engine, keys, message):
    sdk.add(message, shaped=False)
    sdk.add(text("fine", "这条正常"))
    poller = ArchivePoller(sdk, keys, make_session_factory(engine), clock=lambda: sh(2026, 3, 2, 11, 20))

    result = poller.poll_once()

    assert (dict(result.skipped), result.recorded, result.seq_after) == ({"malformed": 1}, 1, 2)
    assert [row.dedupe_key for row in inbox_rows(engine)] == ["fine"]


def test_the_poller_seals_what_it_records(sdk, engine, keys):
    sealer = PayloadSealer.from_secret("archive-test-key")
    sdk.add(text("m-sealed", "王总手机13812345678"))
    ArchivePoller(sdk, keys, make_session_factory(engine), sealer=sealer).poll_once()
    [row] = inbox_rows(engine)
    assert "13812345678" not in json.dumps(row.payload)
    assert sealer.open(row.payload, aad="m-sealed")["text"] == "王总手机13812345678"


def test_a_routine_pull_logs_at_debug_not_info(sdk, poller, caplog):
    # The poller runs every second in the demo: at INFO it would bury everything else.
    sdk.add(text("m0", "今天拜访了华星科技"))
    with caplog.at_level(logging.DEBUG, logger="bot.wecom.archive"):
        poller.poll_once()
    pulls = [r for r in caplog.records if r.getMessage() == "archive pulled"]
    assert [r.levelno for r in pulls] == [logging.DEBUG]


def test_a_wrong_private_key_is_caught_for_every_random_key(rsa_keys):
    """OpenSSL answers a wrong PKCS#1 v1.5 key with random bytes instead of an error (implicit
    rejection); a garbage "random key" must still be refused, never used, for any message."""
    wrong = ArchiveKeys({"1": _pem(rsa_keys[2])})
    for seq in range(200):
        random_key = secrets.token_hex(16)
        wrapped = rsa_keys[1].public_key().encrypt(random_key.encode(), padding.PKCS1v15())
        item = SimpleNamespace(seq=seq, msgid=f"m{seq}", publickey_ver=1,
                               encrypt_random_key=base64.b64encode(wrapped).decode(), encrypt_chat_msg="")
        with pytest.raises(ConfigError, match="does not decrypt the random key"):
            wrong.unwrap(item)
        assert ArchiveKeys({"1": _pem(rsa_keys[1])}).unwrap(item) == random_key

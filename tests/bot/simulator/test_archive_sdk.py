"""The simulated chat archive speaks pywecomarchive's protocol, RSA-wrapped keys included."""

from __future__ import annotations

import base64
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric import padding

from bot.errors import ArchiveSdkError
from bot.simulator.archive_sdk import ArchiveStore, SimArchiveSdk, generate_archive_key
from bot.wecom.archive import RAW_MESSAGE, ArchiveKeys, ArchivePoller
from storage.db import make_session_factory
from storage.models import InboxEventRow

SHANGHAI = ZoneInfo("Asia/Shanghai")
CORP, SECRET = "wwsim0000000000001", "archive-secret-demo"


@pytest.fixture(scope="module")
def keypair():
    return generate_archive_key()


@pytest.fixture
def store(keypair) -> ArchiveStore:
    key, _ = keypair
    return ArchiveStore({1: key.public_key()}, corp_id=CORP, secret=SECRET)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


MESSAGES = [
    ("wr-sales-east", "zhangwei", "【跟进】客户：王总，公司：杭州云帆科技", sh(2026, 3, 2, 9, 15)),
    ("wr-sales-south", "sunli", "王总手机 13812345678", sh(2026, 3, 2, 20, 40)),
    ("", "zhoujie", "我的待办", sh(2026, 3, 3, 8, 31)),
]


def fill(store: ArchiveStore) -> None:
    for i, (room, sender, text, at) in enumerate(MESSAGES, start=1):
        store.add_text(msgid=f"m{i}", room_id=room, sender=sender, tolist=["lisi"], text=text, sent_at=at)


def test_round_trip_rsa_unwrap_then_decrypt(store, keypair):
    key, _ = keypair
    fill(store)
    sdk = SimArchiveSdk(store, CORP, SECRET)
    batch = sdk.get_chat_data(seq=0, limit=1000)
    assert [(d.seq, d.msgid, d.publickey_ver) for d in batch.chatdata] == [(1, "m1", 1), (2, "m2", 1), (3, "m3", 1)]
    decoded = []
    for item in batch.chatdata:
        random_key = key.decrypt(base64.b64decode(item.encrypt_random_key), padding.PKCS1v15()).decode()
        decoded.append(sdk.decrypt_data(random_key, item.encrypt_chat_msg, adapter=RAW_MESSAGE))
    assert [(m["roomid"], m["from"], m["text"]["content"], m["msgtime"]) for m in decoded] == [
        (room, sender, text, int(at.timestamp() * 1000)) for room, sender, text, at in MESSAGES
    ]
    assert {m["action"] for m in decoded} == {"send"}


@pytest.mark.parametrize(("seq", "limit", "msgids"), [(0, 2, ["m1", "m2"]), (2, 1000, ["m3"]), (3, 10, [])])
def test_pull_after_seq_with_limit(store, seq, limit, msgids):
    fill(store)
    sdk = SimArchiveSdk(store, CORP, SECRET)
    assert [d.msgid for d in sdk.get_chat_data(seq, limit).chatdata] == msgids


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda store: SimArchiveSdk(store, CORP, "wrong-secret"), 10002),
        (lambda store: SimArchiveSdk(store, CORP, SECRET).get_chat_data(0, 1001), 10001),
        (lambda store: SimArchiveSdk(store, CORP, SECRET).decrypt_data("x" * 32, "bm90IGEgY2lwaGVy"), 10008),
        (lambda store: SimArchiveSdk(store, CORP, SECRET).decrypt_data("short", "bm90"), 10008),
    ],
)
def test_sdk_errors_carry_the_native_codes(store, call, code):
    with pytest.raises(ArchiveSdkError) as caught:
        call(store)
    assert caught.value.code == code


def test_the_services_poller_pulls_group_text_from_the_simulated_archive(store, keypair, engine):
    _, pem = keypair
    fill(store)
    store.add_recall(msgid="m1", room_id="wr-sales-east", sender="zhangwei",
                     at=datetime(2026, 3, 2, 9, 16, tzinfo=SHANGHAI))
    sessions = make_session_factory(engine)
    poller = ArchivePoller(SimArchiveSdk(store, CORP, SECRET), ArchiveKeys({"1": pem}), sessions)
    result = poller.poll_once()
    assert (result.fetched, result.recorded, result.seq_after) == (4, 2, 4)
    assert dict(result.skipped) == {"direct": 1, "recall": 1}
    with sessions() as session:
        rows = session.query(InboxEventRow).order_by(InboxEventRow.id).all()
        assert [(r.payload["chat_id"], r.payload["sender"]) for r in rows] == [
            ("wr-sales-east", "zhangwei"),
            ("wr-sales-south", "sunli"),
        ]
    assert poller.poll_once().fetched == 0


def test_messages_validate_with_the_real_sdks_own_models(store, keypair):
    message_adapter = pytest.importorskip("pywecomarchive.models").message_adapter
    key, _ = keypair
    fill(store)
    store.add_recall(msgid="m2", room_id="wr-sales-south", sender="sunli", at=sh(2026, 3, 2, 20, 41))
    sdk = SimArchiveSdk(store, CORP, SECRET)
    kinds = []
    for item in sdk.get_chat_data().chatdata:
        random_key = key.decrypt(base64.b64decode(item.encrypt_random_key), padding.PKCS1v15()).decode()
        kinds.append(type(sdk.decrypt_data(random_key, item.encrypt_chat_msg, adapter=message_adapter)).__name__)
    assert kinds == ["TextMessage", "TextMessage", "TextMessage", "RevokeMessage"]

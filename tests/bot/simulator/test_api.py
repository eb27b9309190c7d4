"""The fake qyapi behaves like WeCom: tokens, limits, silent drops and error codes."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.simulator.api import create_simulator_app
from bot.simulator.clock import ManualClock
from bot.simulator.state import SimulatorState

ROBOT_KEY = "robot-key-east-0001"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def state(clock: ManualClock) -> SimulatorState:
    return SimulatorState(robots={"east": ROBOT_KEY}, token_ttl=timedelta(seconds=7200), clock=clock)


@pytest.fixture
def client(state: SimulatorState) -> TestClient:
    return TestClient(create_simulator_app(state))


def token(client: TestClient, state: SimulatorState) -> str:
    answer = client.get("/cgi-bin/gettoken", params={"corpid": state.corp_id, "corpsecret": state.app.secret})
    return answer.json()["access_token"]


def app_text(state: SimulatorState, touser: str, content: str = "【告警】张伟在华东销售群发送了客户手机号") -> dict:
    return {"touser": touser, "agentid": state.app.agent_id, "msgtype": "text", "text": {"content": content}}


def robot_text(content: str, mentioned: list[str] | None = None) -> dict:
    return {"msgtype": "text", "text": {"content": content, "mentioned_list": mentioned or []}}


# gettoken ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("corpid", "secret", "errcode"),
    [
        ("right", "right", 0),
        ("wwunknown", "right", 40013),
        ("right", "wrong-secret", 40001),
        ("", "right", 41002),
        ("right", "", 41004),
    ],
)
def test_gettoken_checks_corp_and_secret(client, state, corpid, secret, errcode):
    params = {
        "corpid": state.corp_id if corpid == "right" else corpid,
        "corpsecret": state.app.secret if secret == "right" else secret,
    }
    body = client.get("/cgi-bin/gettoken", params=params).json()
    assert body["errcode"] == errcode
    assert ("access_token" in body) == (errcode == 0)
    if errcode == 0:
        assert body["expires_in"] == 7200


def test_same_token_while_valid_and_a_new_one_after_expiry(client, state, clock):
    first = token(client, state)
    clock.advance(3600)
    assert token(client, state) == first
    clock.advance(3601)
    assert token(client, state) != first


@pytest.mark.parametrize(
    ("token_kind", "errcode", "errmsg"),
    [
        ("valid", 0, "ok"),
        ("missing", 41001, "access_token missing"),
        ("unknown", 40014, "invalid access_token"),
        ("expired", 42001, "access_token expired"),
        ("revoked", 42001, "access_token expired"),
    ],
)
def test_message_send_validates_the_token(client, state, clock, token_kind, errcode, errmsg):
    value = token(client, state)
    if token_kind == "expired":
        clock.advance(7201)
    if token_kind == "revoked":
        assert client.post("/_sim/revoke-tokens").json() == {"revoked": 1}
    params = {
        "valid": {"access_token": value},
        "expired": {"access_token": value},
        "revoked": {"access_token": value},
        "missing": {},
        "unknown": {"access_token": "not-a-token"},
    }[token_kind]
    body = client.post("/cgi-bin/message/send", params=params, json=app_text(state, "lisi")).json()
    assert (body["errcode"], body["errmsg"]) == (errcode, errmsg)
    assert len(state.query(api="message/send", status="delivered")) == (1 if errcode == 0 else 0)


# message/send -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("touser", "errcode", "invaliduser", "delivered_to", "status"),
    [
        ("lisi", 0, None, ["lisi"], "delivered"),
        ("lisi|wangfang", 0, None, ["lisi", "wangfang"], "delivered"),
        ("lisi|ghost", 0, "ghost", ["lisi"], "partial"),
        ("ghost|nobody", 81013, None, [], "rejected"),
    ],
)
def test_message_send_recipients(client, state, touser, errcode, invaliduser, delivered_to, status):
    body = client.post(
        "/cgi-bin/message/send", params={"access_token": token(client, state)}, json=app_text(state, touser)
    ).json()
    assert body["errcode"] == errcode
    assert body.get("invaliduser") == invaliduser
    [record] = state.query(api="message/send")
    assert (record.delivered_to, record.status, record.target) == (delivered_to, status, touser)


def test_message_send_to_a_department_reaches_its_members(client, state):
    payload = app_text(state, "") | {"toparty": "4"}
    body = client.post("/cgi-bin/message/send", params={"access_token": token(client, state)}, json=payload)
    assert body.json()["errcode"] == 0
    [record] = state.query(api="message/send")
    assert set(record.delivered_to) == {"zhaolei", "sunli", "zhoujie", "wuhao"}


@pytest.mark.parametrize(
    ("change", "errcode"),
    [
        ({"agentid": 9999}, 40056),
        ({"msgtype": "voice"}, 40008),
        ({"text": {"content": ""}}, 44004),
        ({"text": {"content": "超" * 683}}, 45002),  # 2049 bytes of UTF-8
        ({"touser": ""}, 40035),
    ],
)
def test_message_send_rejects_bad_bodies(client, state, change, errcode):
    payload = app_text(state, "lisi") | change
    body = client.post("/cgi-bin/message/send", params={"access_token": token(client, state)}, json=payload)
    assert body.json()["errcode"] == errcode
    assert state.query(status="delivered") == []


def test_non_json_body_is_40058(client, state):
    answer = client.post(
        "/cgi-bin/message/send", params={"access_token": token(client, state)}, content=b"<xml>not json"
    )
    assert answer.json()["errcode"] == 40058


def test_past_30_per_minute_to_one_member_wecom_answers_ok_but_drops(client, state, clock):
    access = token(client, state)
    answers = []
    for i in range(32):
        payload = app_text(state, "lisi", f"【告警】第{i + 1}条：刘洋在非工作时间发消息")
        answers.append(client.post("/cgi-bin/message/send", params={"access_token": access}, json=payload))
        clock.advance(1)
    assert all(a.json()["errcode"] == 0 for a in answers)
    assert len(state.query(recipient="lisi")) == 30
    dropped = state.query(status="dropped")
    assert [r.content for r in dropped] == [
        "【告警】第31条：刘洋在非工作时间发消息",
        "【告警】第32条：刘洋在非工作时间发消息",
    ]
    assert dropped[0].dropped_for == ["lisi"]
    clock.advance(60)
    client.post("/cgi-bin/message/send", params={"access_token": access}, json=app_text(state, "lisi", "恢复"))
    assert state.query(contains="恢复", recipient="lisi")


@pytest.mark.parametrize(
    ("check", "interval", "wait", "shown"),
    [
        (0, None, 10, 2),  # no duplicate check: a resend is shown again
        (1, None, 10, 1),  # default interval 1800 s: the resend is answered ok, not shown
        (1, None, 1801, 2),  # outside the interval it is a new message
        (1, 60, 61, 2),
        (1, 99999, 4 * 3600 + 1, 2),  # the interval is capped at 4 hours
    ],
)
def test_message_send_duplicate_check_drops_an_identical_resend(client, state, clock, check, interval, wait, shown):
    access = token(client, state)
    payload = app_text(state, "lisi") | {"enable_duplicate_check": check}
    if interval is not None:
        payload["duplicate_check_interval"] = interval
    first = client.post("/cgi-bin/message/send", params={"access_token": access}, json=payload)
    clock.advance(wait)
    access = token(client, state)  # tokens live 7200 s: the longest waits need a fresh one
    again = client.post("/cgi-bin/message/send", params={"access_token": access}, json=payload)
    assert first.json()["errcode"] == 0 and again.json()["errcode"] == 0
    assert len(state.query(status="delivered")) == shown
    assert len(state.query(status="duplicate")) == 2 - shown


def test_duplicate_check_compares_content_and_recipients(client, state):
    access = token(client, state)
    for touser, content in [("lisi", "告警A"), ("lisi", "告警B"), ("zhangwei", "告警A")]:
        payload = app_text(state, touser, content) | {"enable_duplicate_check": 1}
        client.post("/cgi-bin/message/send", params={"access_token": access}, json=payload)
    assert len(state.query(status="delivered")) == 3


def test_past_1000_per_hour_to_one_member_is_dropped(client, state, clock):
    access = token(client, state)
    for _ in range(1000):
        client.post("/cgi-bin/message/send", params={"access_token": access}, json=app_text(state, "wangfang"))
        clock.advance(2.5)  # 24 a minute: under the minute limit, 1000 within 42 minutes
    client.post("/cgi-bin/message/send", params={"access_token": access}, json=app_text(state, "wangfang", "第1001条"))
    assert state.query(contains="第1001条")[0].status == "dropped"
    assert len(state.query(recipient="wangfang")) == 1000


# webhook/send ------------------------------------------------------------------------------------


def test_webhook_20_per_rolling_minute_then_45009_then_ok_again(client, state, clock):
    codes = []
    for i in range(25):
        answer = client.post("/cgi-bin/webhook/send", params={"key": ROBOT_KEY}, json=robot_text(f"第{i + 1}条"))
        codes.append(answer.json()["errcode"])
        clock.advance(2)
    assert codes == [0] * 20 + [45009] * 5
    assert client.post("/cgi-bin/webhook/send", params={"key": ROBOT_KEY}, json=robot_text("x")).json() == {
        "errcode": 45009,
        "errmsg": "api freq out of limit",
    }
    clock.advance(60 - 2 * 25 + 0.001)  # the first post, sent at t=0, leaves the rolling window
    assert client.post("/cgi-bin/webhook/send", params={"key": ROBOT_KEY}, json=robot_text("y")).json()["errcode"] == 0
    assert len(state.query(api="webhook/send", status="rate_limited")) == 6
    assert len(state.query(api="webhook/send", status="delivered", target="east")) == 21


def _image(raw: bytes, md5: str | None = None) -> dict:
    encoded = base64.b64encode(raw).decode()
    return {"msgtype": "image", "image": {"base64": encoded, "md5": md5 or hashlib.md5(raw).hexdigest()}}


@pytest.mark.parametrize(
    ("key", "payload", "errcode"),
    [
        (ROBOT_KEY, robot_text("本周成交榜：张伟 12.5万元", ["zhangwei"]), 0),
        ("unknown-key", robot_text("你好"), 93000),
        ("", robot_text("你好"), 93000),
        (ROBOT_KEY, robot_text("好" * 682), 0),  # 2046 bytes
        (ROBOT_KEY, robot_text("好" * 683), 45002),  # 2049 bytes
        (ROBOT_KEY, {"msgtype": "markdown", "markdown": {"content": "好" * 1365}}, 0),  # 4095 bytes
        (ROBOT_KEY, {"msgtype": "markdown", "markdown": {"content": "好" * 1366}}, 45002),
        (ROBOT_KEY, _image(b"\x89PNG" + b"0" * 100), 0),
        (ROBOT_KEY, _image(b"\x89PNG" + b"0" * 100, md5="0" * 32), 301019),
        (ROBOT_KEY, _image(b"0" * (2 * 1024 * 1024 + 1)), 40009),
        (ROBOT_KEY, {"msgtype": "textcard", "textcard": {"title": "t", "description": "d"}}, 40008),
        (ROBOT_KEY, {"msgtype": "news", "news": {"articles": []}}, 40035),
    ],
)
def test_webhook_send_checks_key_and_content(client, state, key, payload, errcode):
    body = client.post("/cgi-bin/webhook/send", params={"key": key}, json=payload).json()
    assert body["errcode"] == errcode
    assert len(state.query(status="delivered")) == (1 if errcode == 0 else 0)


@pytest.mark.parametrize(
    ("payload", "mentioned"),
    [
        (robot_text("请补全跟进模板", ["zhangwei", "@all"]), ["zhangwei", "@all"]),
        ({"msgtype": "markdown", "markdown": {"content": "<@zhangwei> <@sunli> 请补全模板"}}, ["zhangwei", "sunli"]),
        ({"msgtype": "markdown", "markdown": {"content": "**本周排行**\n1. 张伟"}}, []),
    ],
)
def test_webhook_record_keeps_who_was_mentioned(client, state, payload, mentioned):
    client.post("/cgi-bin/webhook/send", params={"key": ROBOT_KEY}, json=payload)
    assert state.query(api="webhook/send")[0].mentioned == mentioned


def test_webhook_record_keeps_mentions_and_names_the_robot_not_the_key(client, state):
    payload = robot_text("@张伟 请补全跟进模板", ["zhangwei"])
    client.post("/cgi-bin/webhook/send", params={"key": ROBOT_KEY}, json=payload)
    [record] = client.get("/_sim/messages", params={"contains": "补全"}).json()["messages"]
    assert (record["target"], record["mentioned"], record["status"]) == ("east", ["zhangwei"], "delivered")
    assert ROBOT_KEY not in str(record)


# appchat ------------------------------------------------------------------------------------------


def test_appchat_send_only_to_chats_this_app_created(client, state):
    access = token(client, state)
    created = client.post(
        "/cgi-bin/appchat/create",
        params={"access_token": access},
        json={"name": "华东销售告警群", "owner": "lisi", "userlist": ["lisi", "wangfang"], "chatid": "alertseast"},
    ).json()
    assert created == {"errcode": 0, "errmsg": "ok", "chatid": "alertseast"}
    message = {"chatid": "alertseast", "msgtype": "markdown", "markdown": {"content": "**违规提醒**"}}
    assert client.post("/cgi-bin/appchat/send", params={"access_token": access}, json=message).json()["errcode"] == 0
    other = message | {"chatid": "wr-sales-east"}
    assert client.post("/cgi-bin/appchat/send", params={"access_token": access}, json=other).json()["errcode"] == 86003
    [record] = state.query(api="appchat/send")
    assert (record.target, record.delivered_to) == ("alertseast", ["lisi", "wangfang"])


@pytest.mark.parametrize(
    ("payload", "errcode"),
    [
        ({"name": "一人群", "userlist": ["lisi"]}, 40035),
        ({"name": "有陌生人", "userlist": ["lisi", "ghost"]}, 60111),
        ({"name": "坏群号", "userlist": ["lisi", "zhangwei"], "chatid": "bad-id!"}, 40035),
    ],
)
def test_appchat_create_errors(client, state, payload, errcode):
    body = client.post("/cgi-bin/appchat/create", params={"access_token": token(client, state)}, json=payload)
    assert body.json()["errcode"] == errcode


def test_appchat_create_twice_with_one_chatid(client, state):
    access = token(client, state)
    payload = {"name": "群", "userlist": ["lisi", "zhangwei"], "chatid": "dup1"}
    client.post("/cgi-bin/appchat/create", params={"access_token": access}, json=payload)
    again = client.post("/cgi-bin/appchat/create", params={"access_token": access}, json=payload).json()
    assert again["errcode"] == 86215


# user/get ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("userid", "errcode", "name", "department"),
    [("zhangwei", 0, "张伟", [3]), ("zhaolei", 0, "赵磊", [4]), ("ghost", 60111, None, None)],
)
def test_user_get(client, state, userid, errcode, name, department):
    body = client.get("/cgi-bin/user/get", params={"access_token": token(client, state), "userid": userid}).json()
    assert (body["errcode"], body.get("name"), body.get("department")) == (errcode, name, department)


@pytest.mark.parametrize(
    ("dept", "errcode", "names"),
    [
        ("", 0, ["星辰科技", "销售管理部", "华东销售部", "华南销售部"]),
        ("1", 0, ["星辰科技", "销售管理部", "华东销售部", "华南销售部"]),
        ("3", 0, ["华东销售部"]),
        ("99", 60123, None),
    ],
)
def test_department_list_names_the_departments_user_get_gives_ids_for(client, state, dept, errcode, names):
    params = {"access_token": token(client, state)} | ({"id": dept} if dept else {})
    body = client.get("/cgi-bin/department/list", params=params).json()
    assert body["errcode"] == errcode
    assert (names is None) or [d["name"] for d in body["department"]] == names


# the record ------------------------------------------------------------------------------------


def test_record_query_and_reset_over_http(client, state):
    client.post("/cgi-bin/webhook/send", params={"key": ROBOT_KEY}, json=robot_text("【告警】孙丽 发送了银行卡号"))
    client.post("/cgi-bin/webhook/send", params={"key": ROBOT_KEY}, json=robot_text("本周排行榜"))
    assert client.get("/_sim/messages", params={"contains": "告警"}).json()["count"] == 1
    assert client.get("/_sim/messages", params={"status": "delivered"}).json()["count"] == 2
    assert client.get("/_sim/messages", params={"status": "lost"}).status_code == 422
    assert client.post("/_sim/reset").json() == {"ok": True}
    assert client.get("/_sim/messages").json() == {"count": 0, "messages": []}


def test_page_shows_who_got_what_in_chinese(client, state):
    client.post(
        "/cgi-bin/message/send",
        params={"access_token": token(client, state)},
        json=app_text(state, "lisi", "【告警】张伟 在 华东销售群 发送了客户手机号 138****5678"),
    )
    state.robot_labels = {"east": "华东销售群"}
    client.post("/cgi-bin/webhook/send", params={"key": ROBOT_KEY}, json=robot_text("<script>alert(1)</script>"))
    page = client.get("/_sim/").text
    assert "李四" in page and "已送达" in page and "应用消息" in page
    assert "138****5678" in page
    assert "华东销售群（机器人「east」）" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "共 2 条" in page


def test_appchat_past_200_per_minute_per_member_is_dropped_silently(client, state, clock):
    access = token(client, state)
    client.post(
        "/cgi-bin/appchat/create",
        params={"access_token": access},
        json={"name": "华南告警群", "userlist": ["zhaolei", "wangfang"], "chatid": "alertssouth"},
    )
    for i in range(201):
        message = {"chatid": "alertssouth", "msgtype": "text", "text": {"content": f"第{i + 1}条"}}
        assert client.post("/cgi-bin/appchat/send", params={"access_token": access}, json=message).json()[
            "errcode"
        ] == 0
        clock.advance(0.1)
    assert [r.status for r in state.query(contains="第201条")] == ["dropped"]
    assert len(state.query(api="appchat/send", recipient="zhaolei")) == 200


def test_page_renders_markdown_and_shows_pictures(client, state):
    client.post("/cgi-bin/message/send", params={"access_token": token(client, state)}, json={
        "touser": "lisi", "msgtype": "markdown", "agentid": state.apps[0].agent_id,
        "markdown": {"content": '**张伟** <font color="warning">发言时段外</font>\n> 原文：<b>收到</b>'},
    })
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAcCBlCwAAAABJRU5ErkJggg=="
    )
    image = {"base64": base64.b64encode(png).decode(), "md5": hashlib.md5(png).hexdigest()}
    client.post("/cgi-bin/webhook/send", params={"key": ROBOT_KEY}, json={"msgtype": "image", "image": image})
    page = client.get("/_sim/").text
    assert '<strong>张伟</strong> <span class="wc-warning">发言时段外</span>' in page
    assert '<div class="wc-quote">原文：&lt;b&gt;收到&lt;/b&gt;</div>' in page
    assert '<img class="wc-image" src="data:image/png;base64,' in page
    assert "**张伟**" not in page

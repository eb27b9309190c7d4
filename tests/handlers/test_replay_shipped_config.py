"""`groupbot replay` with the shipped config.yaml follows the contract exactly in every group
(shared/spec/replay.md, "What the default config.yaml enforces" and "Who is exempt").

The demo's groups, managers and overrides live in bot/simulator/demo_config.yaml; replaying the same
lines with it shows what those add, and that even there a manager is not exempt from privacy.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import AppConfig
from rules.registry import RULES
from tests.conftest import DEMO_CONFIG, sh

SATURDAY_20 = "sent 20:00 on Saturday 2026-03-07, not a workday (allowed 09:00-11:00, 14:00-17:00 on workdays)"
MONDAY_2140 = "sent 21:40 outside 09:00-11:00, 14:00-17:00 on a workday"
MISSING = "follow-up report is missing: 公司名称, 需求描述, 上次沟通时间, 下一步行动计划"


def line(msgid: str, chat: str, sender: str, sent_at: str, text: str, **extra: str) -> dict:
    return {"msgid": msgid, "chat_id": chat, "sender": sender, "sent_at": sent_at, "text": text, **extra}


def replay(records: list[dict], *config_args: str) -> dict[str, list[dict]]:
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    result = CliRunner().invoke(app, ["replay", "-", *config_args], input=stdin)
    assert result.exit_code == 0, result.stderr
    return {o["msgid"]: o["violations"] for o in map(json.loads, result.stdout.splitlines())}


#: A demo group's manager, out of hours, with an incomplete report and a customer's mobile; then the
#: same manager's red packet (content_type is off by default).
MANAGER_LINES = [
    line("m-1", "wr-sales-east", "lisi", "2026-03-07T20:00:00+08:00", "周末提醒：周一早会九点开始"),
    line("m-2", "wr-sales-east", "lisi", "2026-03-02T21:40:00+08:00", "【跟进】客户：王总；电话：13812345678"),
    line("m-3", "wr-sales-south", "zhaolei", "2026-03-02T10:00:00+08:00", "", msgtype="redpacket"),
]


@pytest.mark.parametrize(
    ("config_args", "expected"),
    [
        (
            (),  # the shipped config.yaml: nobody is a manager, every rule at its default
            {
                "m-1": [{"rule": "posting_window", "detail": SATURDAY_20}],
                "m-2": [
                    {"rule": "posting_window", "detail": MONDAY_2140},
                    {"rule": "template", "missing": ["company", "need", "last_contact_at", "next_action"],
                     "detail": MISSING},
                    {"rule": "sensitive", "kinds": ["mobile"], "detail": "customer mobile number shared in group"},
                ],
                "m-3": [],
            },
        ),
        (
            ("--config", str(DEMO_CONFIG)),  # the demo: lisi manages east, zhaolei south
            {
                "m-1": [],
                "m-2": [{"rule": "sensitive", "kinds": ["mobile"], "detail": "customer mobile number shared in group"}],
                "m-3": [],
            },
        ),
    ],
    ids=["shipped", "demo"],
)  # fmt: skip
def test_managers_are_exempt_only_where_a_config_names_them_and_never_from_sensitive(
    config_args: tuple[str, ...], expected: dict
) -> None:
    out = replay(MANAGER_LINES, *config_args)
    assert out == expected


@pytest.mark.parametrize(
    ("config_args", "flagged"),
    [((), [11, 12]), (("--config", str(DEMO_CONFIG)), [])],  # the demo lets wr-sales-south post 15 an hour
    ids=["shipped", "demo"],
)
def test_the_limit_is_ten_an_hour_in_every_group(config_args: tuple[str, ...], flagged: list[int]) -> None:
    start = sh(2026, 3, 2, 14, 0)
    records = [
        line(f"m-{i}", "wr-sales-south", "chenjing", (start + timedelta(minutes=3 * i)).isoformat(), "收到")
        for i in range(1, 13)
    ]
    out = replay(records, *config_args)
    assert [int(k[2:]) for k, v in out.items() if v] == flagged
    assert all(v == [{"rule": "frequency", "detail": "more than 10 messages in this group within 60 minutes"}]
               for v in out.values() if v)  # fmt: skip


def test_the_shipped_config_is_the_contract_defaults_in_every_group(shipped_config: AppConfig) -> None:
    assert shipped_config.groups == ()
    for name in RULES:
        block = getattr(shipped_config.rules, name)
        assert block.exempt_members == (), name
        assert block.enabled is (name != "content_type"), name
    assert shipped_config.rules.policy.exempt_members == ()


def test_content_type_is_off_by_default_and_judges_msgtypes_when_a_config_turns_it_on(tmp_path) -> None:
    on = tmp_path / "content_type.yaml"
    on.write_text("rules:\n  content_type: {enabled: true, allowed: [link, file]}\n", encoding="utf-8")
    records = [
        line("m-1", "wr-sales-east", "zhangwei", "2026-03-02T10:00:00+08:00", "", msgtype="redpacket"),
        line("m-2", "wr-sales-east", "zhangwei", "2026-03-02T10:01:00+08:00", "", msgtype="file"),
        line("m-3", "wr-sales-east", "zhangwei", "2026-03-02T10:02:00+08:00", "报价单已发，请查收"),
    ]
    assert replay(records) == {"m-1": [], "m-2": [], "m-3": []}
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    result = CliRunner().invoke(app, ["replay", "-", "--config", str(on)], input=stdin)
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o["violations"] for o in out] == [
        [{"rule": "content_type", "detail": "redpacket messages are not allowed in this group (allowed: link, file)"}],
        [],
        [],
    ]
    assert re.search(r"violations: content_type\s*│\s*1", result.stderr)

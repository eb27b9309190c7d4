"""Follow-up reports: detection, the six fields in every separator and alias style, missing fields."""

from __future__ import annotations

from datetime import date

import pytest

from rules.config import DealSettings, FieldSpec, TemplateSettings
from rules.model import ClientUpdate, Facts, GroupMessage
from rules.template import FollowUpTemplate
from tests.conftest import sh

RULE = FollowUpTemplate.from_settings(TemplateSettings(), DealSettings().amount_labels)
WED = date(2026, 3, 4)
#: Whom `check` judges; the template rule reads only the parsed report in the facts.
MSG = GroupMessage(msgid="m-1", chat_id="wr-sales-east", sender="zhangwei", sent_at=sh(2026, 3, 4, 10, 0), text="")

COMPLETE = ClientUpdate(
    client_name="王总",
    company="华星科技",
    contact="138****5678",
    need="仓储系统改造，3个仓库",
    last_contact_at=date(2026, 3, 3),
    next_action="周四报价",
    next_action_due=date(2026, 3, 5),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Canonical labels, one per line, full-width colons.
        (
            "【跟进】\n客户姓名：王总\n公司名称：华星科技\n联系方式：138****5678\n"
            "需求描述：仓储系统改造，3个仓库\n上次沟通时间：昨天\n下一步行动计划：周四报价",
            COMPLETE,
        ),
        # Aliases, half-width colons, ；/; separators, #跟进 prefix with a space.
        (
            "#跟进 客户:王总；公司:华星科技;电话:138****5678；"
            "需求:仓储系统改造，3个仓库；上次联系:昨天；下一步:周四报价",
            COMPLETE,
        ),
        # No prefix, ， between labels; the value keeps its own ， (contract example).
        (
            "客户名：王总，单位：华星科技，手机：138****5678，需求：仓储系统改造，3个仓库；上次跟进：昨天，计划：周四报价。",
            COMPLETE,
        ),
        # Spaces around labels and colons, and trailing punctuation trimmed.
        (
            "【跟进】 客户姓名 ： 王总 ；\n 企业： 华星科技。\n联系电话：138****5678\n"
            "需求描述： 仓储系统改造，3个仓库；\n上次沟通：昨天\n下一步计划：周四报价；",
            COMPLETE,
        ),
        # The contract's example: two labels make a report; four fields missing.
        (
            "需求：仓储系统改造，3个仓库；下一步：周四报价",
            ClientUpdate(
                need="仓储系统改造，3个仓库",
                next_action="周四报价",
                next_action_due=date(2026, 3, 5),
                missing=("client_name", "company", "contact", "last_contact_at"),
            ),
        ),
        # Prefix with no labels at all: a report missing everything.
        ("【跟进】今天去了华星科技，聊得不错", ClientUpdate(missing=(
            "client_name", "company", "contact", "need", "last_contact_at", "next_action"))),  # fmt: skip
        # Empty values count as missing; 微信 fills 联系方式; 上周 names no day but fills the field.
        (
            "#跟进\n客户：李总\n公司：\n微信：abc_123\n需求：年后再谈\n上次沟通：上周\n下一步：年后回访",
            ClientUpdate(
                client_name="李总",
                contact="abc_123",
                need="年后再谈",
                next_action="年后回访",
                missing=("company",),
            ),
        ),
        # 客户名称 is not an alias: the line is not a label, so only 公司 and 需求 count.
        (
            "客户名称：王总\n公司：华星科技\n需求：扫码枪20把",
            ClientUpdate(
                company="华星科技",
                need="扫码枪20把",
                missing=("client_name", "contact", "last_contact_at", "next_action"),
            ),
        ),
    ],
)
def test_reports_are_parsed(text: str, expected: ClientUpdate) -> None:
    assert RULE.parse(text, WED) == expected


@pytest.mark.parametrize(
    "text",
    [
        "今天拜访了华星科技的王总，需求是仓储系统改造",  # prose, no labels
        "客户：王总说下周再聊",  # one label is not enough
        "大家注意：明天九点开早会",  # a colon that is no field label
        "跟进一下华星科技的合同",  # 跟进 without the marker
        "",
    ],
)
def test_ordinary_messages_are_not_reports(text: str) -> None:
    assert RULE.parse(text, WED) is None


def test_violation_lists_missing_canonical_labels_in_order() -> None:
    update = RULE.parse("【跟进】需求：仓储系统改造；客户：王总", WED)
    violation = RULE.check(MSG, Facts(update=update))
    assert violation is not None
    assert violation.missing == ("company", "contact", "last_contact_at", "next_action")
    assert violation.to_contract() == {
        "rule": "template",
        "missing": ["company", "contact", "last_contact_at", "next_action"],
        "detail": "follow-up report is missing: 公司名称, 联系方式, 上次沟通时间, 下一步行动计划",
    }
    assert RULE.check(MSG, Facts(update=RULE.parse("今天天气不错", WED))) is None


def test_configured_aliases_and_labels() -> None:
    settings = TemplateSettings(fields={"client_name": FieldSpec(label="客户", aliases=("联系人",))})
    rule = FollowUpTemplate.from_settings(settings)
    update = rule.parse("联系人：王总\n公司：华星科技", WED)
    assert update is not None and (update.client_name, update.company) == ("王总", "华星科技")


ALL_SIX = ("client_name", "company", "contact", "need", "last_contact_at", "next_action")
MON = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The one-line report: labels with their colons start fields after spaces.
        (
            "#跟进 客户姓名：张学友 公司名称：阿里云 联系方式：138****5678 需求描述：云服务器迁移 "
            "上次沟通时间：昨天 下一步行动计划：下周一电话回访",
            ClientUpdate(
                client_name="张学友", company="阿里云", contact="138****5678", need="云服务器迁移",
                last_contact_at=date(2026, 3, 3), next_action="下周一电话回访", next_action_due=date(2026, 3, 9),
            ),
        ),
        # As reported in issue 12: four labels on one line, two fields really missing.
        (
            "#跟进 客户姓名：张学友 公司名称：阿里云 联系方式：138****5678 下一步行动计划：下周一电话回访",
            ClientUpdate(
                client_name="张学友", company="阿里云", contact="138****5678", next_action="下周一电话回访",
                next_action_due=date(2026, 3, 9), missing=("need", "last_contact_at"),
            ),
        ),
        # Aliases, half-width colons, several and ideographic spaces between fields.
        (
            "【跟进】客户:王总   公司:华星科技\u3000电话:138****5678 "
            "需求:仓储系统改造，3个仓库  上次联系:昨天 下一步:周四报价",
            COMPLETE,
        ),
        # Spaces inside a value stay when no label follows them.
        (
            "客户：王总 公司：华星科技 需求：WMS 仓储 系统改造",
            ClientUpdate(
                client_name="王总", company="华星科技", need="WMS 仓储 系统改造",
                missing=("contact", "last_contact_at", "next_action"),
            ),
        ),
        # 联系方式 left empty, then 微信 after a space fills it.
        (
            "#跟进 客户：王总 公司：华星科技 联系方式： 微信：ab**** 需求：门禁 上次沟通：昨天 下一步：周四报价",
            ClientUpdate(
                client_name="王总", company="华星科技", contact="ab****", need="门禁",
                last_contact_at=date(2026, 3, 3), next_action="周四报价", next_action_due=date(2026, 3, 5),
            ),
        ),
        # Short aliases inside a company name are ordinary words, not labels.
        (
            "客户：王总 公司：华星企业管理咨询有限公司 单位地址在园区",
            ClientUpdate(
                client_name="王总", company="华星企业管理咨询有限公司 单位地址在园区",
                missing=("contact", "need", "last_contact_at", "next_action"),
            ),
        ),
    ],
)
def test_one_line_reports(text: str, expected: ClientUpdate) -> None:
    assert RULE.parse(text, WED) == expected


@pytest.mark.parametrize(
    ("text", "unreadable", "missing"),
    [
        # 公司名称 written without its colon: the name swallowed it, so neither is read.
        (
            "#跟进 客户姓名：张学友 公司名称 阿里云 联系方式：138****5678 "
            "需求描述：迁移 上次沟通：昨天 下一步：周五回访",
            ("client_name",),
            ("client_name", "company"),
        ),
        # A second colon inside the name (客户：王总：华星科技).
        (
            "【跟进】客户：王总：华星科技；需求：门禁；下一步：周五回访",
            ("client_name",),
            ("client_name", "company", "contact", "last_contact_at"),
        ),
        # A company that still holds a colon.
        (
            "【跟进】客户：王总；公司：华星科技 地址:园区3号；需求：门禁",
            ("company",),
            ("company", "contact", "last_contact_at", "next_action"),
        ),
        # 客户名称 (no alias) in the company: a missed label.
        ("【跟进】公司：华星科技 客户名称 王总；需求：门禁", ("company",), ALL_SIX[:3] + ALL_SIX[4:]),
    ],
)
def test_a_garbled_name_or_company_is_not_read(text: str, unreadable: tuple, missing: tuple) -> None:
    update = RULE.parse(text, WED)
    assert update is not None
    assert update.unreadable == unreadable and update.missing == missing
    assert all(getattr(update, name) is None for name in unreadable)  # no client from a garbled value


def test_incomplete_report_tells_what_was_recognised_and_the_expected_format() -> None:
    update = RULE.parse("#跟进 客户姓名：张学友 公司名称 阿里云 下一步行动计划：下周一电话回访", MON)
    violation = RULE.check(MSG, Facts(update=update))
    assert violation is not None
    assert violation.recognised == ("next_action",)
    assert violation.unreadable == ("client_name",)
    assert violation.missing == ("client_name", "company", "contact", "need", "last_contact_at")
    assert violation.expected_format == (
        "【跟进】客户姓名：王总 公司名称：华星科技 联系方式：138****5678 需求描述：仓储系统改造 "
        "上次沟通时间：昨天 下一步行动计划：周五报价"
    )
    # The replay line keeps the contract's keys only.
    assert set(violation.to_contract()) == {"rule", "missing", "detail"}


def test_expected_format_follows_the_configured_labels() -> None:
    settings = TemplateSettings(prefixes=("#跟进",), fields={"client_name": FieldSpec(label="联系人")})
    rule = FollowUpTemplate.from_settings(settings)
    assert rule.expected_format.startswith("#跟进 联系人：王总 公司名称：华星科技 ")
    assert rule.parse(rule.expected_format, WED) == ClientUpdate(
        client_name="王总", company="华星科技", contact="138****5678", need="仓储系统改造",
        last_contact_at=date(2026, 3, 3), next_action="周五报价", next_action_due=date(2026, 3, 6),
    )

"""The monthly evaluation: per-rep figures, the XLSX file and the managers' message."""

from __future__ import annotations

from datetime import date

from openpyxl import load_workbook
from sqlalchemy import select

from handlers import monthly
from storage.models import OutboxItemRow
from tests.conftest import sh
from tests.helpers import seed

EAST = "wr-sales-east"


def seed_october(session) -> None:
    client = seed.client(session, owner="zhangwei", name="王总", company="华星科技")
    # September's report planned a step for 10-05; done 10-05 (on time), next due 10-10, done 10-14 (late).
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 9, 28, 10, 0), client=client,
                next_action_due=date(2026, 10, 5))
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 5, 23, 30), client=client,
                next_action_due=date(2026, 10, 10))
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 14, 9, 0), client=client)
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 20, 9, 0), complete=False)
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 31, 23, 59))
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 9, 11, 0), amount=100_000)
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 30, 11, 0), amount=50_000)
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 12, 20, 0))
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 13, 20, 0))
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 13, 10, 0), rule="sensitive")
    seed.report(session, sender="wangfang", chat_id=EAST, at=sh(2026, 10, 1, 0, 0))
    seed.deal(session, sender="wangfang", chat_id=EAST, at=sh(2026, 11, 1, 0, 0), amount=999_999)  # November
    seed.deal(session, sender="lisi", chat_id=EAST, at=sh(2026, 10, 9, 11, 0), amount=1_000_000)  # manager
    session.commit()


def test_evaluation_figures(session, config):
    seed_october(session)
    rows = monthly.evaluate(session, config, month=date(2026, 10, 1))
    assert [
        (r.userid, r.name, r.reports, r.complete_reports, r.deals, r.deal_amount, r.violations_by_rule,
         r.on_time, r.late)
        for r in rows
    ] == [
        ("zhangwei", "张伟", 4, 3, 2, 150_000, {"posting_window": 2, "sensitive": 1}, 1, 1),
        ("wangfang", "王芳", 1, 1, 0, 0, {}, 0, 0),
    ]
    assert rows[0].complete_share == 0.75


def test_send_monthly_writes_the_xlsx_and_links_it(session, config, tmp_path):
    seed_october(session)
    config = config.model_copy(
        update={"schedules": config.schedules.model_copy(update={"reports_dir": str(tmp_path)})}
    )
    assert monthly.send_monthly(session, config, now=sh(2026, 11, 2, 9, 0)) == 2
    sheet = load_workbook(tmp_path / "monthly-2026-10.xlsx").active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == [
        "姓名", "userid", "跟进报告", "完整报告", "完整率", "成交单数", "成交金额(元)", "金额待确认单数", "违规合计",
        "违规:发帖时段", "违规:发帖频率", "违规:跟进报告格式", "违规:客户隐私", "违规:消息类型", "按时跟进", "逾期跟进",
    ]
    assert values[1:] == [
        ["张伟", "zhangwei", 4, 3, 0.75, 2, 150000, 0, 3, 2, 0, 0, 1, 0, 1, 1],
        ["王芳", "wangfang", 1, 1, 1.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
    east, south = session.scalars(select(OutboxItemRow).order_by(OutboxItemRow.idempotency_key)).all()
    # Each manager reads their own groups' reps; the link is the dashboard's, scoped the same way.
    assert (east.idempotency_key, east.channel, east.target) == ("monthly:2026-10:wr-sales-east", "app", "lisi")
    assert east.payload["markdown"]["content"].splitlines() == [
        "### 2026年10月 销售月度考核",
        "共 2 人，[下载完整表格（XLSX）](http://127.0.0.1:8000/dashboard/reports/monthly-2026-10.xlsx)",
        "- **张伟** 跟进 4（完整 75%） 成交 2单 ¥150,000 违规 3 按时/逾期 1/1",
        "- **王芳** 跟进 1（完整 100%） 成交 0单 ¥0 违规 0 按时/逾期 0/0",
    ]
    assert (south.idempotency_key, south.target) == ("monthly:2026-10:wr-sales-south", "zhaolei")
    assert "张伟" not in south.payload["markdown"]["content"]


def test_the_report_link_is_built_from_the_public_url(session, config, tmp_path):
    config = config.model_copy(
        update={"schedules": config.schedules.model_copy(update={"reports_dir": str(tmp_path)})}
    )
    monthly.send_monthly(session, config, now=sh(2026, 11, 2, 9, 0), public_url="https://bot.example.cn/")
    contents = [i.payload["markdown"]["content"] for i in session.scalars(select(OutboxItemRow))]
    assert contents and all(
        "(https://bot.example.cn/dashboard/reports/monthly-2026-10.xlsx)" in content for content in contents
    )


def test_a_managers_evaluation_counts_only_their_groups(session, config):
    seed_october(session)
    seed.deal(session, sender="zhangwei", chat_id="wr-sales-south", at=sh(2026, 10, 9, 15, 0), amount=7_000)
    session.commit()
    everywhere = monthly.evaluate(session, config, month=date(2026, 10, 1))
    south = monthly.evaluate(session, config, month=date(2026, 10, 1), scope={"wr-sales-south"})
    assert [(r.userid, r.deals, r.deal_amount) for r in everywhere][0] == ("zhangwei", 3, 157_000)
    assert [(r.userid, r.deals, r.deal_amount, r.reports) for r in south] == [("zhangwei", 1, 7_000, 0)]

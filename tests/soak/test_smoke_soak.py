"""The soak in small (`make soak` is the long one): two `groupbot run` replicas on PostgreSQL, WeCom
traffic with WeCom's retries, one kill -9 and restart, one burst of simulator faults, then the
exactly-once counts of bench.soak_audit. About 40 s."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bench.soak import SoakParams, SoakResult, run_soak
from bot.simulator.faults import FaultConfig

pytestmark = pytest.mark.postgres

SMOKE = SoakParams(
    seconds=20,
    rate=20,
    replicas=2,
    batch=4,
    kill_every=10,
    max_kills=1,
    restart_postgres=False,  # never here: other suites share the server
    faults=FaultConfig(server_error=0.15, timeout=0.05, token_expiry=0.10, timeout_seconds=4.0, seed=8),
    fault_burst=(4, 5),
    # Dated in a finished burst bucket, so grouped alerts are due at once and the drain is quick.
    sent_at_lag=timedelta(minutes=2),
    violation_share=0.1,
    drain_timeout=120,
    workers=6,
)


@pytest.fixture(scope="module")
def smoke(pg_url: str) -> SoakResult:
    return run_soak(SMOKE, say=lambda _line: None, pg_server=pg_url)


@pytest.mark.parametrize(
    ("what", "holds"),
    [
        ("traffic was acknowledged", lambda r: r.acknowledged > 100),
        ("one replica was killed and started again", lambda r: r.kills == 1 and r.starts == SMOKE.replicas + 1),
        ("the fault burst hit the simulator", lambda r: r.faults_injected.get("server_error", 0) > 0),
        ("the replicas drained inbox and outbox", lambda r: r.drained),
        ("every acknowledged message is stored exactly once",
         lambda r: r.counts.stored_acknowledged_once == r.counts.acknowledged and not r.counts.acknowledged_missing),
        ("no inbox row is left or parked", lambda r: (r.counts.inbox_pending, r.counts.inbox_failed) == (0, 0)),
        ("no outbox row is unsent", lambda r: set(r.counts.outbox_by_status) <= {"sent", "dead"}),
        ("dead letters are only sends a kill left in doubt",
         lambda r: r.counts.outbox_by_status.get("dead", 0) == r.counts.in_doubt_delivered
         + r.counts.in_doubt_not_delivered),
        ("every sent row was delivered", lambda r: r.counts.outbox_sent_not_delivered == 0),
        ("no row was delivered twice", lambda r: r.counts.outbox_duplicate_deliveries == 0),
        ("no delivery without its row", lambda r: r.counts.deliveries_without_row == 0),
        ("sensitive violations happened", lambda r: r.counts.violations_by_action.get("alert_managers", 0) > 0),
        ("each alert_managers violation is in exactly one sent alert",
         lambda r: r.counts.alert_violations_covered_once == r.counts.violations_by_action["alert_managers"]),
        ("each warn_member violation is covered by its sent warning",
         lambda r: r.counts.warn_violations_uncovered == 0 and r.counts.warn_violations_covered > 0),
        ("a violation lacks a delivered alert only where a kill left its send in doubt",
         lambda r: r.counts.alert_violations_parked + r.counts.warn_violations_parked == 0
         or r.counts.in_doubt_not_delivered > 0),
        ("every scheduled job claimed its period once",
         lambda r: len(r.counts.job_periods) == 6 and r.counts.job_periods_not_once == 0),
        ("no loss and no duplicate beyond sends parked in doubt", lambda r: r.counts.guarantee_held),
    ],
)
def test_smoke_soak(smoke: SoakResult, what: str, holds) -> None:
    assert holds(smoke), f"{what}: {smoke.counts.to_json()}"

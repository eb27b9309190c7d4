"""The rules page, the what-if and the violations filter list the rules of rules.registry.RULES, so a
rule added there (content_type, from the rule-engine work) shows without touching the dashboard."""

from __future__ import annotations

from fastapi.testclient import TestClient

from rules import registry
from tests.bot.web.conftest import login


def pages(app) -> dict[str, str]:
    c = TestClient(app, base_url="http://testserver")
    assert login(c, "boss").status_code == 303
    out = {p: c.get(f"/dashboard/{p}").text for p in ("rules", "violations")}
    token = out["rules"].split('name="csrf_token" value="')[1].split('"')[0]
    out["whatif"] = c.post("/dashboard/whatif", data={"override": "frequency: {limit: 5}", "since": "2026-03-03",
                                                      "until": "2026-03-04", "csrf_token": token}).text
    return out


def test_every_registered_rule_is_listed(make_app, config, seeded):
    for page, html in pages(make_app(config)).items():
        for label in ("发言时段", "发言频率", "跟进模板", "敏感信息"):
            assert label in html, (page, label)


def test_a_newly_registered_rule_is_listed_by_its_configured_name(make_app, config, seeded, monkeypatch):
    monkeypatch.setitem(registry.RULES, "content_type", object)
    names = {**config.templates.rule_names, "content_type": "消息类型"}
    config = config.model_copy(update={"templates": config.templates.model_copy(update={"rule_names": names})})
    for page, html in pages(make_app(config)).items():
        assert "消息类型" in html, page

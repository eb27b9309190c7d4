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
    """By its one name (templates.rule_names), content_type included."""
    assert "content_type" in registry.RULES
    for page, html in pages(make_app(config)).items():
        for name in registry.RULES:
            assert config.templates.rule_names[name] in html, (page, name)



def test_a_rule_is_listed_by_the_name_the_config_gives_it(make_app, config, seeded):
    names = {**config.templates.rule_names, "content_type": "名片红包类消息"}
    config = config.model_copy(update={"templates": config.templates.model_copy(update={"rule_names": names})})
    for page, html in pages(make_app(config)).items():
        assert "名片红包类消息" in html, page

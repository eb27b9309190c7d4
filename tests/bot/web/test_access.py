"""A manager sees only the groups they manage, whatever URL they type; admins see everything."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("user", "page", "path_key", "status"), [
    ("lisi", "violations", "v_east", 200),
    ("lisi", "violations", "v_south", 404),
    ("zhaolei", "violations", "v_south", 200),
    ("zhaolei", "violations", "v_east", 404),
    ("boss", "violations", "v_south", 200),
    ("lisi", "clients", "c_east", 200),
    ("lisi", "clients", "c_south", 404),
    ("zhaolei", "clients", "c_east", 404),
    ("boss", "clients", "c_east", 200),
])
def test_a_record_by_url(as_user, seeded, user, page, path_key, status):
    c, _ = as_user(user)
    assert c.get(f"/dashboard/{page}/{seeded[path_key]}").status_code == status


def test_manager_cannot_handle_another_groups_violation(as_user, seeded):
    c, token = as_user("lisi")
    response = c.post(f"/dashboard/violations/{seeded['v_south']}/status",
                      data={"status": "handled", "note": "越权", "csrf_token": token})
    assert response.status_code == 404


def test_manager_cannot_edit_another_groups_client(as_user, seeded):
    c, token = as_user("zhaolei")
    response = c.post(f"/dashboard/clients/{seeded['c_east']}", data={"grade": "C", "csrf_token": token})
    assert response.status_code == 404


@pytest.mark.parametrize(("user", "chats", "companies"), [
    ("lisi", {"wr-sales-east"}, {"华星科技"}),
    ("zhaolei", {"wr-sales-south"}, {"南方贸易"}),
    ("boss", {"wr-sales-east", "wr-sales-south"}, {"华星科技", "南方贸易"}),
])
def test_lists_are_scoped(as_user, user, chats, companies):
    c, _ = as_user(user)
    assert {v["chat_id"] for v in c.get("/dashboard/api/violations").json()} == chats
    assert {x["company"] for x in c.get("/dashboard/api/clients").json()} == companies


@pytest.mark.parametrize("path", ["/dashboard/violations?group=wr-sales-south",
                                  "/dashboard/api/violations?group=wr-sales-south"])
def test_filtering_by_another_managers_group_is_refused(as_user, path):
    c, _ = as_user("lisi")
    assert c.get(path).status_code == 404


@pytest.mark.parametrize("kind", ["clients", "updates", "violations"])
def test_manager_export_contains_only_their_groups(as_user, kind):
    c, token = as_user("lisi")
    response = c.post("/dashboard/exports", data={"kind": kind, "format": "csv", "since": "2026-01-01",
                                                  "csrf_token": token})
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "华南" not in text and "南方贸易" not in text and "chenjing" not in text
    assert "华东销售群" in text or "华星科技" in text


def test_manager_cannot_ask_for_full_values(as_user):
    c, token = as_user("lisi")
    response = c.post("/dashboard/exports", data={"kind": "clients", "format": "csv", "since": "2026-01-01",
                                                  "full": "1", "csrf_token": token})
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/dashboard/deadletters"])
def test_dead_letters_are_for_admins(as_user, path):
    c, _ = as_user("lisi")
    assert c.get(path).status_code == 403

"""Login, sessions, CSRF and the redirect/401 every dashboard route gives a stranger."""

from __future__ import annotations

import pytest

from bot.config import AppConfig, DashboardAccount, DashboardConfig
from tests.bot.web.conftest import PASSWORD, csrf_of, login

PAGES = ["/dashboard/", "/dashboard/violations", "/dashboard/violations/1", "/dashboard/clients",
         "/dashboard/clients/1", "/dashboard/exports", "/dashboard/rules", "/dashboard/whatif",
         "/dashboard/deadletters", "/dashboard/leaderboard.png"]
JSON = ["/dashboard/api/overview", "/dashboard/api/violations", "/dashboard/api/clients"]
POSTS = ["/dashboard/violations/1/status", "/dashboard/appeals/1", "/dashboard/clients/1", "/dashboard/exports",
         "/dashboard/whatif", "/dashboard/deadletters/1/requeue", "/dashboard/logout"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_strangers_to_login(client, path):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login"


@pytest.mark.parametrize("path", JSON)
def test_json_answers_strangers_401(client, path):
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", POSTS)
def test_posts_refuse_strangers(client, path):
    response = client.post(path, data={"csrf_token": "x", "status": "handled", "note": "n"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"


@pytest.mark.parametrize("path", POSTS)
def test_posts_without_csrf_token_fail_even_when_logged_in(as_user, path):
    c, _ = as_user("boss")
    response = c.post(path, data={"status": "handled", "note": "已提醒", "grade": "A", "kind": "clients",
                                  "format": "csv", "since": "2026-03-01"}, follow_redirects=False)
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_post_with_another_sessions_token_fails(as_user, seeded):
    c, token = as_user("boss")
    response = c.post(f"/dashboard/violations/{seeded['v_east']}/status",
                      data={"status": "handled", "note": "已提醒", "csrf_token": token[::-1]}, follow_redirects=False)
    assert response.status_code == 403


@pytest.mark.parametrize(("username", "password", "status", "message"), [
    ("boss", PASSWORD, 303, None),
    ("boss", "wrong password!", 401, "用户名或密码错误"),
    ("nobody", PASSWORD, 401, "用户名或密码错误"),
    ("BOSS", PASSWORD, 401, "用户名或密码错误"),
    ("bo\x00ss", PASSWORD, 400, "非法字符"),
])
def test_login(client, seeded, username, password, status, message):
    response = login(client, username, password)
    assert response.status_code == status
    if message:
        assert message in response.text
    else:
        assert client.get("/dashboard/").status_code == 200


def test_login_form_needs_its_own_csrf_token(client, seeded):
    client.get("/dashboard/login")
    response = client.post("/dashboard/login", data={"username": "boss", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 403
    assert client.get("/dashboard/", follow_redirects=False).status_code == 303


def test_logout_ends_the_session(as_user):
    c, token = as_user("lisi")
    assert c.post("/dashboard/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert c.get("/dashboard/", follow_redirects=False).status_code == 303


def test_tampered_session_cookie_is_refused(as_user):
    c, _ = as_user("lisi")
    cookie = c.cookies.get("groupbot_session")
    # Change one character inside the signature for a different one (the last base64 character
    # carries padding bits, and "xx" may already be there: either could leave the bytes as they were).
    swapped = "A" if cookie[-5] != "A" else "B"
    c.cookies.set("groupbot_session", cookie[:-5] + swapped + cookie[-4:], path="/dashboard")
    assert c.get("/dashboard/", follow_redirects=False).status_code == 303


def test_config_accounts_log_in_and_leave_with_config(make_app, config: AppConfig, password_hash, engine):
    from fastapi.testclient import TestClient

    account = DashboardAccount(username="wangfang", role="admin", password_hash=password_hash)
    with_account = config.model_copy(update={"dashboard": DashboardConfig(users=(account,))})
    with TestClient(make_app(with_account)) as c:
        assert login(c, "wangfang").status_code == 303
        assert "管理员" in c.get("/dashboard/").text
    with TestClient(make_app(config)) as c:
        assert login(c, "wangfang").status_code == 401


def test_config_refuses_clear_passwords():
    with pytest.raises(ValueError, match="argon2 hash"):
        DashboardAccount(username="x", password_hash="hunter2hunter2")


def test_login_page_is_chinese(client):
    html = client.get("/dashboard/login").text
    assert "用户名" in html and "密码" in html and csrf_of(html)


@pytest.mark.parametrize(("name", "status"), [("style.css", 200), ("app.js", 404), ("..%2Fweb%2Fauth.py", 404)])
def test_static_files_are_a_fixed_list(client, name, status):
    assert client.get(f"/dashboard/static/{name}").status_code == status


def _every_route():
    from bot.web import ROUTE_MODULES

    for module in ROUTE_MODULES:
        for route in module.router.routes:
            for method in route.methods:
                yield method, "/dashboard" + route.path.replace("{violation_id}", "1").replace(
                    "{client_id}", "1").replace("{appeal_id}", "1").replace("{deal_id}", "1").replace("{item_id}", "1")


OPEN = {("GET", "/dashboard/login"), ("POST", "/dashboard/login")}


@pytest.mark.parametrize(("method", "path"), sorted(set(_every_route()) - OPEN))
def test_every_route_refuses_strangers(client, method, path):
    """A meta-test over the route modules, so a new page cannot be added unprotected."""
    response = client.request(method, path, follow_redirects=False)
    assert response.status_code in (303, 401)
    if response.status_code == 303:
        assert response.headers["location"] == "/dashboard/login"

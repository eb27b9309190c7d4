"""Sessions can be ended from the server: a copied cookie stops working after logout, a new password
or role, `groupbot user disable`, and when its config.yaml account changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.config import AppConfig, DashboardAccount, DashboardConfig
from bot.web.auth import hash_password
from storage.db import make_session_factory
from storage.users import disable_user, get_user, put_user
from tests.bot.web.conftest import PASSWORD, csrf_of, login

NEW_PASSWORD = "another horse battery"


def copy_of(c: TestClient, app) -> TestClient:
    """A second browser holding a copy of `c`'s session cookie (as a thief would)."""
    thief = TestClient(app, base_url="http://testserver")
    thief.cookies.set("groupbot_session", c.cookies.get("groupbot_session"), path="/dashboard")
    return thief


def opens(c: TestClient) -> bool:
    response = c.get("/dashboard/violations", follow_redirects=False)
    assert response.status_code in (200, 303)
    return response.status_code == 200


def test_logout_ends_every_copy_of_the_session(app, client, seeded):
    assert login(client, "lisi").status_code == 303
    thief = copy_of(client, app)
    assert opens(thief)
    token = csrf_of(client.get("/dashboard/").text)
    assert client.post("/dashboard/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert not opens(thief) and not opens(client)
    assert login(client, "lisi").status_code == 303 and opens(client)  # logging in again works


def _new_password(s, name):
    put_user(s, username=name, password_hash=hash_password(NEW_PASSWORD), role="manager")


def _new_role(s, name):
    put_user(s, username=name, password_hash=get_user(s, name).password_hash, role="admin")


def _new_userid(s, name):
    put_user(s, username=name, password_hash=get_user(s, name).password_hash, role="manager", userid="wangfang")


def _disabled(s, name):
    disable_user(s, username=name)


@pytest.mark.parametrize("change", [_new_password, _new_role, _new_userid, _disabled])
def test_account_changes_end_open_sessions(app, client, seeded, engine: Engine, change: Callable):
    assert login(client, "lisi").status_code == 303
    thief = copy_of(client, app)
    with make_session_factory(engine)() as s:
        change(s, "lisi")
        s.commit()
    assert not opens(thief) and not opens(client)


def test_unchanged_account_refresh_keeps_sessions(app, client, seeded, engine: Engine, password_hash):
    assert login(client, "lisi").status_code == 303
    with make_session_factory(engine)() as s:  # what a config account's login sync does: same values
        put_user(s, username="lisi", password_hash=password_hash, role="manager")
        s.commit()
    assert opens(client)


def test_a_disabled_account_cannot_log_in_and_add_enables_it(client, seeded, engine: Engine, password_hash):
    with make_session_factory(engine)() as s:
        disable_user(s, username="lisi")
        s.commit()
    refused = login(client, "lisi")
    assert refused.status_code == 403 and "已停用" in refused.text
    assert login(client, "lisi", "wrong password!").status_code == 401  # nothing said without the password
    with make_session_factory(engine)() as s:
        put_user(s, username="lisi", password_hash=password_hash, role="manager", enable=True)
        s.commit()
    assert login(client, "lisi").status_code == 303


def test_a_config_account_changed_in_config_yaml_loses_its_sessions(make_app, config: AppConfig, password_hash):
    account = DashboardAccount(username="wangfang", role="admin", password_hash=password_hash)
    before = config.model_copy(update={"dashboard": DashboardConfig(users=(account,))})
    changed = DashboardAccount(username="wangfang", role="admin", password_hash=hash_password(NEW_PASSWORD))
    after = config.model_copy(update={"dashboard": DashboardConfig(users=(changed,))})
    with TestClient(make_app(before)) as c:
        assert login(c, "wangfang", PASSWORD).status_code == 303 and opens(c)
        cookie = c.cookies.get("groupbot_session")
    with TestClient(make_app(after)) as c:  # restarted with the new hash: the old cookie is void
        c.cookies.set("groupbot_session", cookie, path="/dashboard")
        assert not opens(c)
        assert login(c, "wangfang", NEW_PASSWORD).status_code == 303 and opens(c)

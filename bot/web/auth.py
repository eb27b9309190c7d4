"""Login, logout and password hashing (argon2id) for the dashboard.

Config accounts (config.yaml `dashboard.users`) are copied into the accounts table at each login
attempt, so the lock-out counter works the same for them as for `groupbot user add` accounts.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature

from bot.web.deps import LOGIN_COOKIE, SESSION_COOKIE, CsrfViewerDep, SessionDep, StateDep, WebState
from storage.users import get_user, is_locked, put_user, register_failure, register_success

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("groupbot-no-such-user")
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


router = APIRouter()


def _secure(state: WebState) -> bool:
    return state.settings.public_url.startswith("https://")


def _login_page(request: Request, state: WebState, error: str | None, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = state.templates.TemplateResponse(
        request, "login.html", {"csrf": token, "error": error, "viewer": None}, status_code=status
    )
    response.set_cookie(
        LOGIN_COOKIE, state.signer.dumps(token, salt="login"), max_age=3600, httponly=True,
        samesite="lax", secure=_secure(state), path=state.prefix or "/",
    )
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, state: StateDep) -> Response:
    return _login_page(request, state, None)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    state: StateDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    try:
        expected = state.signer.loads(request.cookies.get(LOGIN_COOKIE, ""), salt="login", max_age=3600)
    except BadSignature:
        expected = None
    if not isinstance(expected, str) or not hmac.compare_digest(expected, csrf_token):
        return _login_page(request, state, "页面已过期，请重新登录。", status=403)

    if "\x00" in username or "\x00" in password:
        return _login_page(request, state, "用户名或密码包含非法字符。", status=400)
    now = state.clock()
    lockout = state.config.dashboard.lockout
    configured = {u.username: u for u in state.config.dashboard.users}
    if account := configured.get(username):
        put_user(session, username=username, password_hash=account.password_hash, role=account.role,
                 userid=account.userid, source="config")
    user = get_user(session, username)
    if user is not None and user.source == "config" and username not in configured:
        user = None  # removed from config.yaml: the account is gone
    if user is None:
        verify_password(_DUMMY_HASH, password)
        session.commit()
        return _login_page(request, state, "用户名或密码错误。", status=401)
    if is_locked(user, now):
        session.commit()
        return _login_page(request, state, f"登录失败次数过多，账户已锁定 {lockout.minutes} 分钟。", status=423)
    if not verify_password(user.password_hash, password):
        locked = register_failure(session, user=user, now=now, attempts=lockout.attempts,
                                  lock_minutes=lockout.minutes)
        session.commit()
        message = f"登录失败次数过多，账户已锁定 {lockout.minutes} 分钟。" if locked else "用户名或密码错误。"
        return _login_page(request, state, message, status=423 if locked else 401)
    if user.source != "config" and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    register_success(session, user=user, now=now)
    session.commit()

    response = RedirectResponse(state.url("/"), status_code=303)
    cookie = state.signer.dumps({"u": user.username, "c": secrets.token_urlsafe(24)}, salt="session")
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=state.config.dashboard.session_hours * 3600, httponly=True,
        samesite="lax", secure=_secure(state), path=state.prefix or "/",
    )
    response.delete_cookie(LOGIN_COOKIE, path=state.prefix or "/")
    return response


@router.post("/logout", include_in_schema=False)
def logout(state: StateDep, _viewer: CsrfViewerDep) -> Response:
    response = RedirectResponse(state.url("/login"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=state.prefix or "/")
    return response

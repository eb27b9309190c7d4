"""Login, logout and password hashing (argon2id) for the dashboard.

Config accounts (config.yaml `dashboard.users`) are copied into the accounts table at each login
attempt, so sessions and throttling work the same for them as for `groupbot user add` accounts.
Failed logins are throttled per (account, address), per address and per account
(storage.login_throttle); no account is ever locked. A session cookie names the account's session
generation, which logout, a new password or role and `groupbot user disable` bump (bot.web.deps).
"""

from __future__ import annotations

import hmac
import math
import secrets
from datetime import timedelta
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature

from bot.config import LockoutConfig
from bot.web.deps import LOGIN_COOKIE, SESSION_COOKIE, CsrfViewerDep, SessionDep, StateDep, WebState
from storage import login_throttle
from storage.login_throttle import ThrottlePolicy
from storage.users import end_sessions, get_user, put_user, register_failure, register_success

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
WRONG = "用户名或密码错误。"


def throttle_policy(config: LockoutConfig) -> ThrottlePolicy:
    return ThrottlePolicy(
        pair_free=config.pair_free, address_free=config.address_free, account_free=config.account_free,
        base_seconds=config.base_seconds, max_seconds=config.max_seconds,
        account_max_seconds=config.account_max_seconds, forget_after=timedelta(minutes=config.forget_after_minutes),
    )


def client_address(request: Request) -> str:
    """The peer address; behind a trusted reverse proxy (FORWARDED_ALLOW_IPS) uvicorn puts the
    X-Forwarded-For client here, otherwise every login would share the proxy's counter."""
    return request.client.host if request.client else "unknown"


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
    policy = throttle_policy(state.config.dashboard.lockout)
    address = client_address(request)
    # Checked before anything about the account is looked at, the same for known and unknown names.
    wait = login_throttle.wait_seconds(session, username=username, address=address, policy=policy, now=now)
    if wait > 0:
        seconds = math.ceil(wait)
        response = _login_page(request, state, f"登录尝试过于频繁，请 {seconds} 秒后再试。", status=429)
        response.headers["Retry-After"] = str(seconds)
        return response
    configured = {u.username: u for u in state.config.dashboard.users}
    if account := configured.get(username):
        put_user(session, username=username, password_hash=account.password_hash, role=account.role,
                 userid=account.userid, source="config")
    user = get_user(session, username)
    if user is not None and user.source == "config" and username not in configured:
        user = None  # removed from config.yaml: the account is gone
    if user is None:
        verify_password(_DUMMY_HASH, password)
        login_throttle.record_failure(session, username=username, address=address, policy=policy, now=now)
        session.commit()
        return _login_page(request, state, WRONG, status=401)
    if not verify_password(user.password_hash, password):
        login_throttle.record_failure(session, username=username, address=address, policy=policy, now=now)
        register_failure(session, username=user.username, now=now)
        session.commit()
        return _login_page(request, state, WRONG, status=401)
    if user.disabled:  # said only to whoever knows the password
        session.commit()
        return _login_page(request, state, "账户已停用，请联系管理员。", status=403)
    if user.source != "config" and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    login_throttle.record_success(session, username=username, address=address)
    register_success(session, user=user, now=now)
    session.commit()

    response = RedirectResponse(state.url("/"), status_code=303)
    cookie = state.signer.dumps(
        {"u": user.username, "c": secrets.token_urlsafe(24), "g": user.session_generation}, salt="session"
    )
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=state.config.dashboard.session_hours * 3600, httponly=True,
        samesite="lax", secure=_secure(state), path=state.prefix or "/",
    )
    response.delete_cookie(LOGIN_COOKIE, path=state.prefix or "/")
    return response


@router.post("/logout", include_in_schema=False)
def logout(state: StateDep, session: SessionDep, viewer: CsrfViewerDep) -> Response:
    # Server side: a copy of the cookie (another browser, a stolen one) stops working too.
    if (user := get_user(session, viewer.username)) is not None:
        end_sessions(user)
        session.commit()
    response = RedirectResponse(state.url("/login"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=state.prefix or "/")
    return response

"""WeCom's answers, mapped to what the dispatcher does about them: retry, refresh the token, give up.

`check(answer)` raises the matching bot.errors exception for a non-zero errcode; `raise_for_http`
does the same for transport faults and HTTP statuses. Codes not in the table are retried (bounded
by `outbox.max_attempts`): an unknown code is more often WeCom having a bad minute than a bug.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from bot.errors import PermanentSendError, RetryableSendError, SendError, TokenExpiredError

Verdict = Literal["retry", "token", "permanent"]

#: errcode -> (what to do, what an admin should know). Sources: WeCom global error codes (D/90313)
#: and shared/spec/wecom-protocol.md section c.
ERRCODES: dict[int, tuple[Verdict, str]] = {
    -1: ("retry", "WeCom system busy"),
    45009: ("retry", "rate limit: more than 20 posts per minute to this robot, or API frequency"),
    45011: ("retry", "API minute frequency limit"),
    45033: ("retry", "too many concurrent calls"),
    40014: ("token", "invalid access_token"),
    42001: ("token", "access_token expired"),
    41001: ("token", "access_token missing"),
    40001: ("permanent", "invalid app secret (GROUPBOT_APP_SECRET)"),
    40013: ("permanent", "invalid corp id (GROUPBOT_CORP_ID)"),
    40056: ("permanent", "invalid agentid (GROUPBOT_AGENT_ID)"),
    40008: ("permanent", "message type not accepted"),
    40035: ("permanent", "invalid parameter in the message body"),
    44004: ("permanent", "empty message content"),
    45002: ("permanent", "message content too long"),
    40009: ("permanent", "invalid image (over 2 MB or not an image)"),
    301019: ("permanent", "image md5 does not match its content"),
    48002: ("permanent", "API forbidden for this app"),
    60011: ("permanent", "no privilege: the app's visible range must cover these members (root for appchat)"),
    60020: (
        "permanent",
        "this server's IP is not in the app's trusted IPs: in the WeCom admin console open "
        "应用管理 → the app → 企业可信IP and add this server's public egress IP, then requeue",
    ),
    60111: ("permanent", "userid not found"),
    81013: ("permanent", "no valid recipient (user, party and tag all invalid)"),
    86003: ("permanent", "appchat does not exist or was not created by this app"),
    93000: ("permanent", "invalid robot webhook key (GROUPBOT_ROBOT_KEYS)"),
    93004: ("permanent", "robot disabled in the group"),
}


def error_for(errcode: int, api: str) -> SendError:
    verdict, meaning = ERRCODES.get(errcode, ("retry", "unknown WeCom error code"))
    reason = f"{api}: {meaning}"
    if verdict == "token":
        return TokenExpiredError(reason, errcode)
    if verdict == "permanent":
        return PermanentSendError(reason, errcode)
    return RetryableSendError(reason, errcode, retry_after=60.0 if errcode == 45009 else None)


def check(response: httpx.Response, api: str) -> dict[str, Any]:
    """The JSON answer of a WeCom call, or the right SendError (WeCom's errors come with HTTP 200)."""
    if response.status_code >= 500 or response.status_code == 429:
        raise RetryableSendError(f"{api}: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise PermanentSendError(f"{api}: HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise RetryableSendError(f"{api}: answer is not JSON") from None
    errcode = int(answer.get("errcode", 0) or 0)
    if errcode:
        raise error_for(errcode, api)
    return answer


async def post(client: httpx.AsyncClient, url: str, api: str, *, params: dict[str, str], json: Any) -> dict:
    """POST and check; network faults and timeouts are retryable. `params` may hold secrets: they
    never reach an exception message (httpx puts the URL only on the request object)."""
    try:
        response = await client.post(url, params=params, json=json)
    except httpx.TimeoutException:
        raise RetryableSendError(f"{api}: timed out") from None
    except httpx.TransportError as exc:
        raise RetryableSendError(f"{api}: network error {type(exc).__name__}") from None
    return check(response, api)


async def get(client: httpx.AsyncClient, url: str, api: str, *, params: dict[str, str]) -> dict:
    try:
        response = await client.get(url, params=params)
    except httpx.TimeoutException:
        raise RetryableSendError(f"{api}: timed out") from None
    except httpx.TransportError as exc:
        raise RetryableSendError(f"{api}: network error {type(exc).__name__}") from None
    return check(response, api)

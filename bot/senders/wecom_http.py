"""The WeCom HTTP client: one POST/GET that turns every transport fault, HTTP status and errcode
into the right bot.errors exception (WeCom's errors come with HTTP 200; `errcodes.ERRCODES` says
which are retried). The senders, the token cache and the contacts lookup all call through here.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.errors import PermanentSendError, RetryableSendError
from bot.senders.errcodes import error_for


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

"""WeCom's error codes, mapped to what the dispatcher does about them: retry, refresh the token, give up.

`error_for(errcode, api)` is the matching bot.errors exception. Codes not in the table are retried
(bounded by `outbox.max_attempts`): an unknown code is more often WeCom having a bad minute than a bug.
"""

from __future__ import annotations

from typing import Literal

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

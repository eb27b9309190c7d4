"""The native chat-archive SDK runs in its own process, so it survives our C++ extensions."""

from __future__ import annotations

import importlib.util

import kiwisolver  # noqa: F401  (loaded first on purpose: in-process, the SDK would abort after it)
import matplotlib.ft2font  # noqa: F401
import pytest
from pydantic import TypeAdapter

from bot.errors import ArchiveSdkError
from bot.settings import Settings
from bot.wecom.archive import make_archive_sdk
from bot.wecom.archive_process import IsolatedArchiveSdk

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pywecomarchive") is None, reason="the archive extra is not installed"
)
SECRET = "archive-secret-" + "x" * 28


def test_the_sdk_logs_in_beside_matplotlib_and_reports_errors_by_type_only():
    with IsolatedArchiveSdk("ww1234567890abcdef", SECRET, timeout=30) as sdk:
        # No WeCom is reachable here: the real GetChatData fails with the SDK's network error.
        with pytest.raises(ArchiveSdkError) as caught:
            sdk.get_chat_data(0, 10)
    assert "SdkNetworkError" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_decrypt_error_comes_back_typed_and_the_process_keeps_serving():
    with IsolatedArchiveSdk("ww1234567890abcdef", SECRET, timeout=30) as sdk:
        for _ in range(2):
            with pytest.raises(ArchiveSdkError, match="archive SDK failed"):
                sdk.decrypt_data("not-a-key", "not-a-message", adapter=TypeAdapter(dict))


def test_a_dead_sdk_process_is_an_error_not_a_hang():
    sdk = IsolatedArchiveSdk("ww1234567890abcdef", SECRET, timeout=30)
    sdk._proc.kill()
    sdk._proc.wait()
    with pytest.raises(ArchiveSdkError, match="archive SDK process"):
        sdk.get_chat_data(0, 10)


def test_the_service_builds_the_isolated_sdk():
    sdk = make_archive_sdk(Settings(corp_id="ww1234567890abcdef", archive_secret=SECRET))
    try:
        assert isinstance(sdk, IsolatedArchiveSdk)
    finally:
        sdk.close()

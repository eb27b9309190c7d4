"""The suite stands alone: no file outside the repository, no request to the real WeCom."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.settings import Settings
from tests.conftest import NO_WECOM_API, REPO, WECOM_VECTORS


def test_settings_in_tests_point_wecom_calls_at_a_dead_local_port():
    assert Settings().wecom_api_base == NO_WECOM_API


def test_a_forgotten_simulator_fails_fast_instead_of_reaching_wecom():
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{Settings().wecom_api_base}/gettoken", timeout=2)


def test_tencents_sample_vectors_are_kept_in_the_repository():
    assert WECOM_VECTORS.is_relative_to(REPO)
    vectors = json.loads(WECOM_VECTORS.read_text(encoding="utf-8"))["vectors"]
    assert {v["kind"] for v in vectors} >= {"verify_url", "decrypt_xml", "decrypt_json"}


"""The server as a whole: settings from env and flags, seeds, the control switch, page, load."""

from __future__ import annotations

import gc
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sandbox.__main__ import load_config
from sandbox.config import SandboxConfig, config_from_env
from sandbox.testing import SandboxServer, running_sandbox
from sandbox.tests.helpers import GLOBAL_KEY, create_evolution


def test_env_vars_set_defaults_and_flags_override_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLUTION_API_KEY", "from-env")
    monkeypatch.setenv("SANDBOX_CONTROL", "0")
    monkeypatch.setenv("SANDBOX_RECEIPT_DELAYS", "0.5,1,2")
    config = load_config(
        ["--port", "9999", "--seed", "7", "--clock", "manual", "--greenapi-instances", "11:tok"]
    )
    assert (config.port, config.seed, config.clock, config.control) == (9999, 7, "manual", False)
    assert config.evolution_api_key == "from-env" and config.receipt_delays == (0.5, 1.0, 2.0)
    assert config.greenapi_instances == [(11, "tok")]


def test_defaults_follow_the_reference() -> None:
    config = config_from_env({})
    assert (config.evolution_qr_seconds, config.evolution_qr_limit, config.greenapi_qr_seconds) == (
        45,
        30,
        20,
    )
    assert (
        config.webhook_max_attempts,
        config.webhook_initial_delay,
        config.webhook_max_delay,
    ) == (10, 5, 300)
    assert config.webhook_non_retryable == {400, 401, 403, 404, 422}


def run_scenario(seed: int) -> tuple[str, str, str]:
    """Create an Evolution and a GreenAPI instance on a fresh sandbox; return tokens and QR."""
    with running_sandbox(seed=seed, clock="manual") as sandbox:
        created = create_evolution(sandbox, None)
        green = sandbox.create_greenapi_instance()
        return created["hash"], created["qrcode"]["code"], green["apiTokenInstance"]


def test_the_same_seed_gives_the_same_tokens_and_qr_codes() -> None:
    assert run_scenario(11) == run_scenario(11)
    assert run_scenario(11) != run_scenario(12)


def test_manual_clock_starts_at_a_fixed_time_and_moves_on_advance(sandbox: SandboxServer) -> None:
    before = sandbox.control("GET", "/clock")
    after = sandbox.advance(90)
    assert before["mode"] == "manual" and after["now"] - before["now"] == 90


def test_preconfigured_greenapi_instances_exist_at_start() -> None:
    with running_sandbox(greenapi_instances="1101000042:secret-token") as sandbox:
        url = f"{sandbox.base_url}/waInstance1101000042/getStateInstance/secret-token"
        assert requests.get(url, timeout=5).json() == {"stateInstance": "notAuthorized"}


def test_control_api_can_be_switched_off() -> None:
    with running_sandbox(SandboxConfig(port=0, control=False)) as sandbox:
        response = requests.get(f"{sandbox.base_url}/_sandbox/state", timeout=5)
        assert response.status_code == 404
        assert response.json()["response"]["message"] == ["Cannot GET /_sandbox/state"]


def test_stopping_while_a_request_hangs_leaves_no_pending_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with running_sandbox() as sandbox:
        sandbox.faults(timeout_rate=1, hang_seconds=60)
        with pytest.raises(requests.Timeout):
            requests.get(sandbox.base_url + "/", timeout=0.3)
    # asyncio reports a task closed while pending when the task is collected.
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
    assert not [r for r in caplog.records if "pending" in r.getMessage()]


def test_demo_page_lists_instances_and_works_offline(sandbox: SandboxServer) -> None:
    page = requests.get(f"{sandbox.base_url}/_sandbox/", timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "<script src" not in page.text and "https://" not in page.text
    create_evolution(sandbox, None)
    state = sandbox.control("GET", "/state")
    assert state["instances"][0]["qr"].startswith("data:image/png;base64,")


def test_serves_hundreds_of_concurrent_requests(sandbox: SandboxServer) -> None:
    create_evolution(sandbox, None)
    url = f"{sandbox.base_url}/instance/connectionState/wa1"

    def poll(_: int) -> int:
        return requests.get(url, headers={"apikey": GLOBAL_KEY}, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        codes = list(pool.map(poll, range(400)))
    assert codes == [200] * 400

"""Past capacity the gateway sheds new requests with a fast 503 and Retry-After."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import yaml

from tests.support.gateway import upstream_route
from tests.support.processes import aligngate, running_process
from tests.support.servers import free_port

BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]}
CLIENTS = 100


async def _flood(base: str, seconds: float = 4.0) -> tuple[list[httpx.Response], int]:
    """CLIENTS clients back to back for ``seconds``, and /healthz's status meanwhile."""
    limits = httpx.Limits(max_connections=CLIENTS + 1)
    responses: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        deadline = asyncio.get_running_loop().time() + seconds

        async def one_client() -> None:
            while asyncio.get_running_loop().time() < deadline:
                responses.append(await http.post("/v1/chat/completions", json=BODY))

        flood = [asyncio.ensure_future(one_client()) for _ in range(CLIENTS)]
        await asyncio.sleep(seconds / 2)
        health = await http.get("/healthz")
        await asyncio.gather(*flood)
        return responses, health.status_code


def test_an_overloaded_gateway_answers_503_with_retry_after_and_stays_healthy(
    tmp_path: Path, upstream_url: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"models": [upstream_route("gpt-test", upstream_url)]}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # A limit this low is crossed by any sustained load, so the test does not depend on
    # the machine; one burst is not enough (see test_admission_lag.py).
    env = {"ALIGNGATE_STORE": "memory", "ALIGNGATE_MAX_LOOP_LAG_MS": "2"}
    command = aligngate(
        "serve", "--config", str(config), "--port", str(port), "--log-level", "error"
    )
    with running_process(command, f"{base}/healthz", env=env):
        responses, health = asyncio.run(_flood(base))
        statuses = [r.status_code for r in responses]
        shed = [r for r in responses if r.status_code == 503]
        assert shed, statuses
        assert set(statuses) <= {200, 503}, statuses
        for response in shed:
            assert int(response.headers["retry-after"]) >= 1
            assert response.json()["error"]["code"] == "overloaded"
            assert response.json()["error"]["type"] == "api_error"
        served = [r for r in responses if r.status_code == 200]
        assert all(json.loads(r.content)["choices"] for r in served)
        assert health == 200
        # Once the burst is over the loop catches up and requests are admitted again.
        for _ in range(50):
            again = httpx.post(f"{base}/v1/chat/completions", json=BODY, timeout=30)
            if again.status_code == 200:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert again.status_code == 200

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
CLIENTS = 300


async def _flood(base: str) -> tuple[list[httpx.Response], int]:
    """CLIENTS requests at once, and /healthz's status while they are in flight."""
    limits = httpx.Limits(max_connections=CLIENTS + 1)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        flood = [
            asyncio.ensure_future(http.post("/v1/chat/completions", json=BODY))
            for _ in range(CLIENTS)
        ]
        await asyncio.sleep(0.05)
        health = await http.get("/healthz")
        return list(await asyncio.gather(*flood)), health.status_code


def test_an_overloaded_gateway_answers_503_with_retry_after_and_stays_healthy(
    tmp_path: Path, upstream_url: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"models": [upstream_route("gpt-test", upstream_url)]}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # A limit this low is crossed by any burst, so the test does not depend on the machine.
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

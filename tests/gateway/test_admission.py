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
CLIENTS = 200


async def _flood(base: str, most_s: float = 30.0) -> tuple[list[httpx.Response], int]:
    """CLIENTS clients back to back until the gateway sheds (or ``most_s``), and /healthz meanwhile.

    How soon a flood from this process outruns the gateway depends on how much CPU each
    gets on a shared machine, so the flood lasts until the first 503 (plus a little, for
    the requests already on the way), not a fixed time.
    """
    limits = httpx.Limits(max_connections=CLIENTS + 1)
    responses: list[httpx.Response] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + most_s
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:

        async def one_client() -> None:
            nonlocal deadline
            while loop.time() < deadline:
                response = await http.post("/v1/chat/completions", json=BODY)
                responses.append(response)
                if response.status_code == 503:
                    deadline = min(deadline, loop.time() + 0.5)

        flood = [asyncio.ensure_future(one_client()) for _ in range(CLIENTS)]
        while not any(r.status_code == 503 for r in responses) and loop.time() < deadline:
            await asyncio.sleep(0.05)
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

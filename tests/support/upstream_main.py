"""Run the loopback upstream as its own process: ``python -m tests.support.upstream_main PORT``."""

from __future__ import annotations

import sys

import uvicorn

from tests.support.upstream import UpstreamScript, create_upstream

if __name__ == "__main__":
    port = int(sys.argv[1])
    reply = sys.argv[2] if len(sys.argv) > 2 else UpstreamScript().reply
    uvicorn.run(
        create_upstream(UpstreamScript(reply=reply, keep_requests=False)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )

"""`helm test`: the installed gateway keeps its promises, checked from inside the cluster.

The chart runs this in the gateway's own image (Python, no curl) with the addresses in
the environment; exit status 0 passes. Standard library only.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request


def status(url: str, key: str | None = None) -> int:
    """The HTTP status of a GET, error statuses included; 0 if nothing answered."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def wait_ready(url: str, timeout_s: float) -> int:
    """Poll /readyz until it answers 200 or the time is up; the last status."""
    deadline = time.monotonic() + timeout_s
    while (got := status(url)) != 200 and time.monotonic() < deadline:
        time.sleep(2)
    return got


def main() -> int:
    """Run the checks the environment asks for; 1 if any fails."""
    api = os.environ["GATEWAY_URL"].rstrip("/")
    ready = wait_ready(f"{api}/readyz", float(os.environ.get("READY_TIMEOUT_S", "120")))
    results = [("ready", f"{api}/readyz", ready, 200)]
    metrics = os.environ.get("METRICS_URL", "").rstrip("/")
    if metrics:
        # /metrics names every tenant, so the API port must not serve it.
        got = status(f"{api}/metrics")
        results.append(("no /metrics on the API port", f"{api}/metrics", got, 404))
        got = status(f"{metrics}/metrics", os.environ.get("METRICS_KEY"))
        results.append(("/metrics on its own port", f"{metrics}/metrics", got, 200))
    if os.environ.get("TENANTS") == "true":
        got = status(f"{api}/v1/models")
        results.append(("a request without a key is refused", f"{api}/v1/models", got, 401))
    for name, url, got, expected in results:
        verdict = "ok" if got == expected else "FAIL"
        print(f"{verdict}: {name}: GET {url} -> {got} (expected {expected})", flush=True)
    return 0 if all(got == expected for _, _, got, expected in results) else 1


if __name__ == "__main__":
    sys.exit(main())

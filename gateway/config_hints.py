"""Hints for config files written for another gateway, LiteLLM's proxy above all.

People arrive with a working LiteLLM ``config.yaml``; telling them only "unknown
key 'model_list'" leaves them to find the translation themselves, so the hint is
their own first model rewritten in aligngate's ``models:`` form.
"""

from __future__ import annotations

from typing import Any

import yaml

from gateway.backends.old_spelling import DIRECT_PROVIDERS

LITELLM_KEYS = {"model_list", "litellm_settings", "general_settings", "router_settings"}
# LiteLLM reads a key from the environment when written "os.environ/NAME".
LITELLM_ENV_PREFIX = "os.environ/"


def foreign_config_hint(key: str, data: Any) -> str | None:
    """How to write a foreign top-level ``key`` for aligngate, if it is a known one."""
    if key not in LITELLM_KEYS:
        return None
    if key != "model_list":
        return (
            "this looks like a LiteLLM proxy config; aligngate has no such section "
            "(models go under 'models:', tenants and keys under 'tenants:')"
        )
    entries = data.get("model_list") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        entries = []
    example = _as_aligngate_model(entries[0]) if entries else None
    if example is None:
        return "this looks like a LiteLLM proxy config; aligngate lists its models under 'models:'"
    rest = f" (write the other {len(entries) - 1} likewise)" if len(entries) > 1 else ""
    dumped = yaml.safe_dump([example], default_flow_style=True, sort_keys=False, width=10**6)
    # The example comes last so that everything after "e.g. " pastes as YAML.
    return (
        f"this looks like a LiteLLM proxy config; aligngate lists its models under "
        f"'models:'{rest}, e.g. models: {dumped.strip()}"
    )


def _as_aligngate_model(entry: dict[str, Any]) -> dict[str, Any] | None:
    params = entry.get("litellm_params")
    if not isinstance(params, dict) or not isinstance(params.get("model"), str):
        return None
    backend: dict[str, Any] = {"kind": "litellm", "model": params["model"]}
    if isinstance(params.get("api_base"), str):
        backend["api_base"] = params["api_base"]
        provider, _, name = params["model"].partition("/")
        if provider in DIRECT_PROVIDERS and name:
            # An OpenAI-compatible server needs no translation: the direct path.
            backend.update(kind="openai", model=name)
    api_key = params.get("api_key")
    if isinstance(api_key, str) and api_key.startswith(LITELLM_ENV_PREFIX):
        backend["api_key_env"] = api_key.removeprefix(LITELLM_ENV_PREFIX)
    elif api_key is not None:
        # Never echo a literal key into a log line.
        backend["api_key_env"] = "NAME_OF_THE_VARIABLE_HOLDING_THE_KEY"
    return {"name": str(entry.get("model_name", params["model"])), "backend": backend}

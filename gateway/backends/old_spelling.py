"""Reading the old ``kind: litellm`` spelling of a direct OpenAI-compatible backend.

Before ``kind: openai`` existed, ``kind: litellm`` also configured the direct HTTP
path (a model ``openai/...`` or ``hosted_vllm/...`` with an ``api_base``, or
``direct: true``), which never touches litellm. Such configs keep working: each is
rewritten to the spelling that says what it is, with a note the gateway logs once at
start-up. Removing this module is the end of the deprecation.
"""

from __future__ import annotations

from typing import Any

DIRECT_PROVIDERS = {"openai", "hosted_vllm"}
# Settings only the direct path reads; litellm ignored them silently.
DIRECT_ONLY = (
    "connect_timeout_s",
    "first_byte_timeout_s",
    "idle_timeout_s",
    "stream_deadline_s",
    "forward_client_key",
)


def rewrite_old_spelling(data: Any) -> tuple[Any, str | None]:
    """The backend mapping in today's spelling, and a deprecation note if it changed."""
    if not isinstance(data, dict) or data.get("kind") != "litellm":
        return data, None
    data = dict(data)
    direct = data.pop("direct", None)
    model = data.get("model")
    if not isinstance(model, str):
        return data, None  # validation reports the bad model
    provider, _, name = model.partition("/")
    implicit = data.get("api_base") is not None and provider in DIRECT_PROVIDERS
    if direct is True or (direct is None and implicit):
        data["kind"] = "openai"
        data["model"] = name if provider in DIRECT_PROVIDERS and name else model
        return data, (
            f"backend {model!r}: 'kind: litellm' here means the direct OpenAI-compatible "
            f"path, which is now spelt 'kind: openai' with 'model: {data['model']}'"
            + ("" if direct else "; set 'direct: false' to keep litellm")
        )
    ignored = [key for key in DIRECT_ONLY if data.pop(key, None) is not None]
    if not ignored:
        return data, None
    return data, (
        f"backend {model!r}: litellm never read {', '.join(ignored)} (settings of "
        "'kind: openai'); remove them"
    )

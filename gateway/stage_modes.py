"""The words a stage's settings are spelt in, shared by the config file and tenant records.

Kept free of other gateway imports so that both ``gateway.config`` and
``gateway.tenants.models`` (which the config imports) can name them.
"""

from __future__ import annotations

from typing import Literal

# Whether a stage runs for a request; 'shadow' runs it but never applies its change.
RunMode = Literal["on", "off", "shadow"]
# Whether the risk gate decides that a running stage is called at all.
GateMode = Literal["always", "never", "gated"]
# What a stage that fails means for the request: 'open' answers without it,
# 'closed' answers with an error rather than unaligned text.
FailurePolicy = Literal["open", "closed"]

DEFAULT_REFUSAL = "I'm sorry, but I can't help with that."

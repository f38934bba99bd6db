"""When a rewrite is not trusted and the original prompt is kept instead."""

from __future__ import annotations

# The BPO authors dropped rewrites outside this length ratio and ones with this marker.
MIN_RATIO = 0.5
MAX_RATIO = 6.0
PROTECTED_MARKER = "[protected"


def clean_rewrite(text: str) -> str:
    """Strip whitespace and a leading ``[/INST]`` some checkpoints echo."""
    text = text.strip()
    if text.startswith("[/INST]"):
        text = text[len("[/INST]") :].strip()
    return text


def rejection_reason(original: str, rewrite: str) -> str | None:
    """Why ``rewrite`` should not replace ``original``, or None if it may."""
    if not rewrite:
        return "empty rewrite"
    if PROTECTED_MARKER in rewrite:
        return "rewrite contains a [protected marker"
    ratio = len(rewrite) / max(len(original), 1)
    if not MIN_RATIO <= ratio <= MAX_RATIO:
        return f"length ratio {ratio:.2f} outside [{MIN_RATIO}, {MAX_RATIO}]"
    return None

"""Structured output (``response_format``): what a post-call stage may put in its place.

A client that asked for JSON parses the answer (``chat.completions.parse()``,
LangChain's ``with_structured_output``), so free text there breaks it. A correction
replaces a JSON answer only if it is JSON too and satisfies the request's schema; a
refusal goes where OpenAI puts structured-output refusals, ``message.refusal``, with
no content, which the SDK's ``parse()`` reports as a refusal instead of failing.
"""

from __future__ import annotations

import json
import re
from typing import Any

# A multiple-choice answer: a short text that is, or states, one option letter.
_LETTER = re.compile(r"^\W*(?:(?:option|answer)\s*:?\s*)?[\[\(*\s]*([A-D])\b", re.IGNORECASE)
_SHORT = 40


def wants_json(response_format: dict[str, Any] | None) -> bool:
    """Whether the client asked for a JSON object or a JSON schema."""
    if not response_format:
        return False
    return response_format.get("type") in {"json_object", "json_schema"}


def json_problem(text: str, response_format: dict[str, Any] | None) -> str | None:
    """Why ``text`` does not fit the requested structure, or None if it does (or none asked)."""
    if not wants_json(response_format):
        return None
    assert response_format is not None
    try:
        value = json.loads(text)
    except ValueError:
        return "not valid JSON"
    schema = (response_format.get("json_schema") or {}).get("schema")
    if response_format.get("type") == "json_schema" and isinstance(schema, dict):
        import jsonschema  # only when a client sends a schema

        try:
            jsonschema.validate(value, schema)
        except jsonschema.ValidationError as exc:
            return f"does not satisfy the schema: {exc.message[:200]}"
        except jsonschema.SchemaError:
            return "the request's schema is not a valid JSON schema"
    elif not isinstance(value, dict):
        return "not a JSON object"
    return None


def option_letter(text: str) -> str | None:
    """The option letter a short multiple-choice answer gives, or None for other answers."""
    stripped = text.strip()
    found = _LETTER.match(stripped) if len(stripped) <= _SHORT else None
    return found.group(1).upper() if found else None


def letter_problem(original: str, correction: str) -> str | None:
    """A correction of an option-letter answer must give the same letter."""
    letter = option_letter(original)
    if letter is None or option_letter(correction) == letter:
        return None
    return f"changes the option letter {letter}"

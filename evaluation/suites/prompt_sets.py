"""Prompt sets from JSONL or CSV files, with a mapping from the file's columns to ours."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ColumnMapping(BaseModel):
    """Which column of the file holds each field of a prompt row."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(default="prompt", description="Column with the user prompt.")
    id: str | None = Field(default=None, description="Column with a row id (default: line).")
    category: str | None = Field(default=None, description="Column with the row's category.")
    safe_answer: str | None = Field(default=None, description="Column with a safe answer.")
    harmful_answer: str | None = Field(default=None, description="Column with a harmful answer.")


class PromptSetSource(BaseModel):
    """A prompt file and how to read it."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    format: Literal["auto", "jsonl", "csv"] = Field(
        default="auto", description="File format; auto decides by the file's extension."
    )
    columns: ColumnMapping = Field(default_factory=ColumnMapping)
    limit: int | None = Field(default=None, ge=1, description="Read only the first N rows.")


class PromptRow(BaseModel):
    """One prompt of a set, with optional category and reference answers."""

    id: str
    prompt: str
    category: str = "all"
    safe_answer: str | None = None
    harmful_answer: str | None = None


def _records(source: PromptSetSource) -> list[dict[str, Any]]:
    kind = source.format
    if kind == "auto":
        kind = "csv" if source.path.suffix.lower() == ".csv" else "jsonl"
    text = source.path.read_text(encoding="utf-8")
    if kind == "csv":
        return [dict(row) for row in csv.DictReader(text.splitlines())]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _field(record: dict[str, Any], column: str | None, source: Path) -> str | None:
    if column is None:
        return None
    if column not in record:
        raise ValueError(f"{source}: no column {column!r} (has {sorted(record)})")
    value = record[column]
    return None if value is None else str(value)


def load_prompt_set(source: PromptSetSource) -> list[PromptRow]:
    """The file's rows as prompt rows, mapped by the source's columns."""
    records = _records(source)[: source.limit]
    mapping = source.columns
    rows: list[PromptRow] = []
    for index, record in enumerate(records):
        rows.append(
            PromptRow(
                id=_field(record, mapping.id, source.path) or str(index),
                prompt=_field(record, mapping.prompt, source.path) or "",
                category=_field(record, mapping.category, source.path) or "all",
                safe_answer=_field(record, mapping.safe_answer, source.path),
                harmful_answer=_field(record, mapping.harmful_answer, source.path),
            )
        )
    return rows

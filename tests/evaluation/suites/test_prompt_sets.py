"""Prompt sets from JSONL and CSV with a column mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.suites.prompt_sets import ColumnMapping, PromptSetSource, load_prompt_set


def test_a_jsonl_file_is_read_through_the_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    rows = [{"question": "q1", "category": "c", "qid": 9}, {"question": "q2", "category": "d"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    mapping = ColumnMapping(prompt="question", category="category")
    loaded = load_prompt_set(PromptSetSource(path=path, columns=mapping, limit=1))
    assert [(r.id, r.prompt, r.category) for r in loaded] == [("0", "q1", "c")]


def test_a_csv_file_is_read_with_ids_and_answers(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text("id,text,good,bad\n7,hello,fine,awful\n")
    mapping = ColumnMapping(prompt="text", id="id", safe_answer="good", harmful_answer="bad")
    (row,) = load_prompt_set(PromptSetSource(path=path, columns=mapping))
    assert (row.id, row.prompt, row.safe_answer, row.harmful_answer) == (
        "7",
        "hello",
        "fine",
        "awful",
    )


def test_a_missing_column_is_reported_by_name(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"text": "hi"}\n')
    with pytest.raises(ValueError, match="no column 'prompt'"):
        load_prompt_set(PromptSetSource(path=path))

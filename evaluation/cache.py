"""A resumable on-disk cache of answers per (endpoint, model, arm, prompt, sampling)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from pydantic import BaseModel


class AnswerKey(BaseModel):
    """Everything that decides an answer; two equal keys may share one."""

    base_url: str
    model: str
    arm: str | None
    prompt: str
    max_tokens: int
    temperature: float

    def digest(self) -> str:
        """A stable hash of the key."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class AnswerCache:
    """SQLite file of answers, committed one by one so an interrupted run resumes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, request TEXT, answer TEXT)"
        )
        self._db.commit()

    def get(self, key: AnswerKey) -> str | None:
        """The cached answer, if any."""
        row = self._db.execute(
            "SELECT answer FROM answers WHERE key = ?", (key.digest(),)
        ).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: AnswerKey, answer: str) -> None:
        """Store an answer now."""
        self._db.execute(
            "INSERT OR REPLACE INTO answers (key, request, answer) VALUES (?, ?, ?)",
            (key.digest(), json.dumps(key.model_dump()), answer),
        )
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        """Close the database file."""
        self._db.close()

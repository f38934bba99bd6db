"""The embedded single-node store: SQLite in WAL mode with full fsync on every commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from gateway.tenants.models import KeyRecord, Tenant
from gateway.tenants.store import RequestRecord, TenantChange, read_tenant, read_tenants

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
    sha256 TEXT PRIMARY KEY, id TEXT NOT NULL, tenant TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant);
CREATE TABLE IF NOT EXISTS requests (
    tenant TEXT NOT NULL, experiment TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS requests_experiment ON requests (tenant, experiment);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_PUT_TENANT = """INSERT INTO tenants (name, doc) VALUES (?, ?)
ON CONFLICT(name) DO UPDATE SET doc = excluded.doc"""
# Written with every tenant, in the same transaction: see TenantStore.sealed.
_SEAL = "INSERT OR IGNORE INTO meta (key, value) VALUES ('sealed', '1')"


class SqliteStore:
    """Each write is one committed transaction; WAL with synchronous=FULL survives a crash."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        # Its own connection: data_version changes with every commit made through any
        # other connection, this process's writer and other processes' alike.
        self._version_db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)

    async def version(self) -> int:
        """A number that changes whenever anyone commits to the file (read without I/O)."""
        # On the event loop, not in a thread: it reads the WAL index in shared memory.
        row = self._version_db.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return work(self._db)

        return await asyncio.to_thread(locked)

    async def _write(self, *statements: tuple[str, tuple[object, ...]]) -> int:
        def work(db: sqlite3.Connection) -> int:
            changed = 0
            with db:  # one transaction: all statements or none
                db.execute("BEGIN IMMEDIATE")
                for sql, params in statements:
                    changed += db.execute(sql, params).rowcount
            return changed

        return await self._run(work)

    async def has_tenants(self) -> bool:
        """Whether any tenant exists."""
        row = await self._run(lambda db: db.execute("SELECT 1 FROM tenants LIMIT 1").fetchone())
        return row is not None

    async def sealed(self) -> bool:
        """Whether the store ever held a tenant (or holds one, written before the seal)."""
        row = await self._run(
            lambda db: db.execute(
                "SELECT 1 FROM meta WHERE key = 'sealed' UNION ALL SELECT 1 FROM tenants LIMIT 1"
            ).fetchone()
        )
        return row is not None

    async def seal(self) -> None:
        """Require keys from now on."""
        await self._write((_SEAL, ()))

    async def assignment_secret(self, candidate: str) -> str:
        """The stored secret; ``candidate`` becomes it if the store has none yet."""

        def work(db: sqlite3.Connection) -> str:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('assignment_secret', ?)",
                    (candidate,),
                )
                row = db.execute("SELECT value FROM meta WHERE key = 'assignment_secret'")
                return str(row.fetchone()[0])

        return await self._run(work)

    async def get_tenant(self, name: str) -> Tenant | None:
        """One tenant, or None."""
        row = await self._run(
            lambda db: db.execute("SELECT doc FROM tenants WHERE name = ?", (name,)).fetchone()
        )
        return read_tenant(name, row[0]) if row else None

    async def list_tenants(self) -> list[Tenant]:
        """All readable tenants, by name."""
        rows = await self._run(
            lambda db: db.execute("SELECT name, doc FROM tenants ORDER BY name").fetchall()
        )
        return read_tenants(rows)

    async def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant."""
        await self._write((_PUT_TENANT, (tenant.name, tenant.model_dump_json())), (_SEAL, ()))

    async def update_tenant(self, name: str, change: TenantChange) -> Tenant:
        """Read, change and write in one BEGIN IMMEDIATE transaction.

        IMMEDIATE takes the write lock before the read, so another connection (another
        process on the same file) waits instead of writing in between.
        """

        def work(db: sqlite3.Connection) -> Tenant:
            with db:
                db.execute("BEGIN IMMEDIATE")
                row = db.execute("SELECT doc FROM tenants WHERE name = ?", (name,)).fetchone()
                tenant = change(read_tenant(name, row[0]) if row else None)
                db.execute(_PUT_TENANT, (name, tenant.model_dump_json()))
                db.execute(_SEAL)
            return tenant

        return await self._run(work)

    async def delete_tenant(self, name: str) -> bool:
        """Delete a tenant and its keys in one transaction."""
        changed = await self._write(
            ("DELETE FROM api_keys WHERE tenant = ?", (name,)),
            ("DELETE FROM tenants WHERE name = ?", (name,)),
        )
        return changed > 0

    async def add_key(self, record: KeyRecord) -> None:
        """Store a key's digest."""
        await self._write(
            (
                "INSERT INTO api_keys (sha256, id, tenant, doc) VALUES (?, ?, ?, ?)",
                (record.sha256, record.id, record.tenant, record.model_dump_json()),
            )
        )

    async def list_keys(self, tenant: str) -> list[KeyRecord]:
        """A tenant's key records."""
        rows = await self._run(
            lambda db: db.execute("SELECT doc FROM api_keys WHERE tenant = ?", (tenant,)).fetchall()
        )
        return [KeyRecord.model_validate_json(row[0]) for row in rows]

    async def delete_key(self, tenant: str, key_id: str) -> bool:
        """Revoke one key of a tenant."""
        changed = await self._write(
            ("DELETE FROM api_keys WHERE tenant = ? AND id = ?", (tenant, key_id))
        )
        return changed > 0

    async def find_key(self, sha256: str) -> KeyRecord | None:
        """The key record with this digest."""
        row = await self._run(
            lambda db: db.execute("SELECT doc FROM api_keys WHERE sha256 = ?", (sha256,)).fetchone()
        )
        return KeyRecord.model_validate_json(row[0]) if row else None

    async def add_record(self, record: RequestRecord) -> None:
        """Append a request record."""
        await self._write(
            (
                "INSERT INTO requests (tenant, experiment, doc) VALUES (?, ?, ?)",
                (record.tenant, record.experiment, record.model_dump_json()),
            )
        )

    async def records(self, tenant: str, experiment: str) -> list[RequestRecord]:
        """One experiment's records, oldest first."""
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM requests WHERE tenant = ? AND experiment = ? ORDER BY rowid",
                (tenant, experiment),
            ).fetchall()
        )
        return [RequestRecord.model_validate_json(row[0]) for row in rows]

    async def aclose(self) -> None:
        """Close the database."""
        self._version_db.close()
        await self._run(lambda db: db.close())

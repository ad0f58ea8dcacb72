"""The answers of a study, in SQLite (standard library) inside the study folder.

Why SQLite in WAL mode with synchronous=FULL: every answer is committed before the server replies, so
a server killed at any moment (or a power cut) loses nothing a judge was told was saved, and the report
can read the database while judges are still answering. Judges and their plans are stored too, so a
restarted server resumes each judge at the same place with the same images.

The schema keeps each answer self-describing (image id and source, truth, requested and measured
exposure, answer, reaction time), so the database alone is enough to check a report.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from gankit.errors import UserError
from gankit.human_eval.protocol import PlannedTrial

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS judges (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    user_agent TEXT
);
CREATE TABLE IF NOT EXISTS plan (
    judge TEXT NOT NULL REFERENCES judges(id),
    position INTEGER NOT NULL,
    image TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('practice', 'trial', 'attention')),
    track INTEGER NOT NULL,
    PRIMARY KEY (judge, position),
    UNIQUE (judge, image)
);
CREATE TABLE IF NOT EXISTS answers (
    judge TEXT NOT NULL,
    position INTEGER NOT NULL,
    image TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    track INTEGER NOT NULL,
    truth TEXT NOT NULL CHECK (truth IN ('real', 'fake')),
    answer TEXT NOT NULL CHECK (answer IN ('real', 'fake')),
    requested_ms REAL,
    measured_ms REAL,
    reaction_ms REAL NOT NULL,
    answered_at REAL NOT NULL,
    PRIMARY KEY (judge, position),
    FOREIGN KEY (judge, position) REFERENCES plan(judge, position)
);
"""


class AlreadyAnswered(Exception):
    """The trial has an answer already (a retried request, or two tabs of one judge)."""


@dataclass(frozen=True)
class Answer:
    judge: str
    position: int
    image: str
    source: str
    kind: str
    track: int
    truth: str
    answer: str
    requested_ms: float | None
    measured_ms: float | None
    reaction_ms: float
    answered_at: float

    @property
    def correct(self) -> bool:
        return self.answer == self.truth


class Store:
    """One connection, used under a lock: the server's handlers are short, and SQLite serializes
    writers anyway."""

    def __init__(self, path: Path, study_id: str) -> None:
        """Open the study's answers, made whole on first use. An existing database is never
        repaired: one without gankit's tables or its study's id is refused, not rebuilt to look
        valid."""
        self._lock = threading.Lock()
        path = Path(path)
        try:
            if not path.exists():
                _create(path, study_id)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
        except sqlite3.DatabaseError as exc:  # a folder in its place, a full or read-only disk
            raise UserError(f"{path}: the answers database cannot be made or opened ({exc})") from None
        try:
            stored = self._prepare()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise UserError(f"{path} is not a usable answers database ({exc})") from None
        if stored != study_id:
            self._db.close()
            raise UserError(f"{path} holds the answers of another study ({stored}); it does not belong with this study.json")

    def _prepare(self) -> str:
        """Set the connection up; returns the study id the database names."""
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = sorted(set(_COLUMNS) - tables)
        if missing:
            raise sqlite3.DatabaseError(f"it has no {', '.join(missing)} table: it is damaged or truncated")
        for table, columns in _COLUMNS.items():
            present = _columns_of(self._db, table)
            lacking = [c for c in columns if c not in present]
            if lacking:
                raise sqlite3.DatabaseError(f"its {table} table lacks {', '.join(lacking)}: it is damaged")
        row = self._db.execute("SELECT value FROM meta WHERE key = 'study'").fetchone()
        if row is None:
            raise sqlite3.DatabaseError("it names no study: it is damaged")
        return row[0]

    def close(self) -> None:
        self._db.close()

    def create_judge(self, plan: Iterable[PlannedTrial], user_agent: str | None) -> str:
        """A new judge with its plan, in one transaction; returns the judge's id."""
        judge = secrets.token_hex(5)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT INTO judges VALUES (?, ?, ?)", (judge, time.time(), (user_agent or "")[:300]))
                self._db.executemany(
                    "INSERT INTO plan VALUES (?, ?, ?, ?, ?)",
                    [(judge, t.position, t.image, t.kind, t.track) for t in plan],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return judge

    def has_judge(self, judge: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM judges WHERE id = ?", (judge,)).fetchone() is not None

    def plan(self, judge: str) -> list[PlannedTrial]:
        with self._lock:
            rows = self._db.execute(
                "SELECT position, image, kind, track FROM plan WHERE judge = ? ORDER BY position", (judge,)
            ).fetchall()
        return [PlannedTrial(*row) for row in rows]

    def answers(self, judge: str | None = None) -> list[Answer]:
        """The answers of one judge (or all), in the order given."""
        query = f"SELECT {', '.join(Answer.__dataclass_fields__)} FROM answers"
        with self._lock:
            if judge is None:
                rows = self._db.execute(query + " ORDER BY judge, position").fetchall()
            else:
                rows = self._db.execute(query + " WHERE judge = ? ORDER BY position", (judge,)).fetchall()
        return [Answer(*row) for row in rows]

    def judges(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT id FROM judges ORDER BY created").fetchall()]

    def record(self, answer: Answer) -> None:
        """Commit one answer (durably) or raise AlreadyAnswered; nothing else changes."""
        fields = list(Answer.__dataclass_fields__)
        with self._lock:
            try:
                self._db.execute(
                    f"INSERT INTO answers ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
                    [getattr(answer, f) for f in fields],
                )
            except sqlite3.IntegrityError:
                raise AlreadyAnswered(f"trial {answer.position} of judge {answer.judge} is answered already") from None

    def counts(self) -> dict[str, int]:
        """Row counts, for tests and the server's log line."""
        with self._lock:
            return {t: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("judges", "plan", "answers")}


def _create(path: Path, study_id: str) -> None:
    """Make the empty database for `study_id` beside `path`, then link it into place: a failure
    or a second server starting at once never leaves half a database behind."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.new")
    staging.unlink(missing_ok=True)  # left by a killed process that had this pid
    try:
        db = sqlite3.connect(str(staging), isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # kept in the file
            db.executescript(SCHEMA)
            db.execute("INSERT INTO meta VALUES ('study', ?)", (study_id,))
        finally:
            db.close()  # folds the write-ahead log into the file
        try:
            os.link(staging, path)  # unlike a rename, never replaces a database made meanwhile
        except FileExistsError:  # another server made it first: use that one
            pass
        except OSError:  # a file system without hard links
            os.replace(staging, path)
    finally:
        for leftover in (staging, *(staging.with_name(staging.name + end) for end in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)


def _columns_of(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _schema_columns() -> dict[str, list[str]]:
    """Each table of SCHEMA and its columns, read off a database made from it in memory."""
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.executescript(SCHEMA)
        return {table: _columns_of(db, table) for table in ("meta", "judges", "plan", "answers")}


_COLUMNS = _schema_columns()

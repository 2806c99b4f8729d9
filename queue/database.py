"""The queue database: one SQLite file under the plugin's data folder, shared by every process.

Hooks, the drain and the tasks each open their own connection (WAL, busy timeout), and every state
change is one transaction, so a process killed at any instruction leaves a consistent file. A damaged
file is moved aside (never deleted) and a fresh one is started, so work continues.
"""
from __future__ import annotations

import os
import sqlite3
import time

from queue.errors import DatabaseUnavailable  # noqa: F401 - defined there (no sqlite3), named here as always

DB_FILE = "plexsync.db"
BUSY_TIMEOUT_MS = 30_000

# Every release's schema change is one entry here, applied in order inside one transaction per version,
# so a database written by any earlier release opens with its pending scenes, sync state, reviews and dead
# letters (tests/queue/test_migrations.py opens a file made by release 0.1.0). Never edit an entry that
# has been released: add the next version.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "release 0.1.0: pending set, lease, drain request, sync state, dead letters, reviews, state", """
CREATE TABLE IF NOT EXISTS pending (
    scene_id     INTEGER PRIMARY KEY,
    recorded_at  REAL NOT NULL,     -- when the newest update was recorded
    updated_at   REAL,              -- the scene's update time the hook saw (or the recording time)
    reason       TEXT NOT NULL,     -- 'hook', 'performer', 'sync-recent', 'sync-all', ...
    force        INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS lease (
    name         TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    expires_at   REAL NOT NULL,
    acquired_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS drain_request (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    requested_at REAL NOT NULL,
    job_id       TEXT
);
CREATE TABLE IF NOT EXISTS sync_state (
    scene_id         INTEGER PRIMARY KEY,
    synced_at        REAL NOT NULL,
    stash_updated_at TEXT,
    rating_key       INTEGER,
    section_id       INTEGER,
    content_hash     TEXT,
    poster_hash      TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
    scene_id   INTEGER PRIMARY KEY,
    error      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    failed_at  REAL NOT NULL,
    job        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reviews (
    scene_id     INTEGER PRIMARY KEY,
    line         TEXT NOT NULL,
    recorded_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"""),
    (2, "issue 12: managed Plex collections and each scene's collection state", """
CREATE TABLE IF NOT EXISTS managed_collections (
    section_id    INTEGER NOT NULL,
    source        TEXT NOT NULL,     -- 'studio:12', 'group:3', 'performer:7', 'tag:5', 'organized'
    name          TEXT NOT NULL,     -- the collection's title in Plex (prefix included)
    rating_key    INTEGER,           -- the collection's own ratingKey, once seen in Plex
    summary       TEXT,              -- wanted summary (None: PlexSync does not manage it)
    image_url     TEXT,              -- wanted poster source (a Stash image URL), None: none
    applied       TEXT,              -- hash of summary + poster bytes last sent to Plex
    ordered       INTEGER NOT NULL DEFAULT 0,  -- 1: items kept in Stash's scene_index order
    order_hash    TEXT,              -- the order last applied
    dirty         INTEGER NOT NULL DEFAULT 1,  -- membership, text or order may differ: check on flush
    PRIMARY KEY (section_id, source)
);
CREATE TABLE IF NOT EXISTS scene_collections (
    scene_id  INTEGER PRIMARY KEY,
    hash      TEXT NOT NULL          -- the scene's collection state (names, text, images, indexes) last sent
);
-- An install that synced before: its studio/group collections were made by PlexSync's exact tag lists
-- (no table remembered them). worker/collections.py adopts such a collection when a scene's item already
-- carries it (a fresh install never adopts).
INSERT OR IGNORE INTO state(key, value) SELECT 'collections_legacy', '1' WHERE EXISTS (SELECT 1 FROM sync_state);
"""),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]




def default_data_dir(plugin_dir: str | None) -> str:
    """`{PluginDir}/data`: it survives plugin updates, which replace only the files Stash installed."""
    base = plugin_dir or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(base, "data")


def db_path(data_dir: str) -> str:
    return os.path.join(data_dir, DB_FILE)


def _open(path: str) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN ourselves, so each state change is exactly one transaction.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch to WAL journal (got {mode})")
        migrate(conn)
    # A newer release's file (a downgrade) is used as it is: its extra tables and columns are kept.
    # NORMAL keeps commits across a killed process (the failure Stash's Stop causes); FULL would add an
    # fsync to every hook for protection against power loss only.
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the file's user_version, in order; returns the version reached.
    Each version commits on its own, so a process killed mid-way resumes at the next version."""
    while True:
        with transaction(conn):
            # Read inside the write lock: two processes opening an old file never both apply a version.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            pending = [m for m in MIGRATIONS if m[0] > version]
            if not pending:
                return version
            number, _what, statements = pending[0]
            for statement in statements.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")


def _move_aside(path: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = f"{path}.damaged-{stamp}"
    n = 1
    while os.path.exists(target):
        n += 1
        target = f"{path}.damaged-{stamp}-{n}"
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            try:
                os.replace(path + suffix, target + suffix)
            except OSError:
                pass
    return target


def connect(data_dir: str, on_recover=None) -> sqlite3.Connection:
    """Open (creating when needed) the queue database in `data_dir`.

    `on_recover(message)` is called with one line when a damaged file had to be moved aside.
    Raises DatabaseUnavailable with a clear message when the folder or file cannot be used.
    """
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot create the data folder {data_dir}: {exc.strerror or exc}") from None
    path = db_path(data_dir)
    try:
        conn = _open(path)
        conn.execute("SELECT count(*) FROM pending").fetchone()
        return conn
    except sqlite3.DatabaseError as exc:
        message = str(exc).lower()
        if any(s in message for s in ("readonly", "read-only", "unable to open", "disk i/o", "locked")):
            raise DatabaseUnavailable(f"the queue database {path} cannot be used: {exc}") from None
        try:
            moved = _move_aside(path)
        except OSError as move_exc:
            raise DatabaseUnavailable(f"the queue database {path} is damaged ({exc}) and could not be moved "
                                      f"aside: {move_exc.strerror or move_exc}") from None
        if on_recover is not None:
            on_recover(f"the queue database was damaged ({exc}); moved it to {moved} and started a fresh one")
        try:
            return _open(path)
        except sqlite3.DatabaseError as exc2:
            raise DatabaseUnavailable(f"cannot create a fresh queue database at {path}: {exc2}") from None


class transaction:  # noqa: N801 - used as `with transaction(conn):`, like the function it replaced
    """One atomic state change. IMMEDIATE takes the write lock up front, so two writers never deadlock.

    A small class rather than contextlib.contextmanager: every hook opens one, and contextlib is
    among the imports the hook process cannot afford."""

    __slots__ = ("conn", "immediate")

    def __init__(self, conn: sqlite3.Connection, immediate: bool = True) -> None:
        self.conn = conn
        self.immediate = immediate

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE" if self.immediate else "BEGIN")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False


def get_state(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_state(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, value))

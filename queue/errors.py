"""The queue database's error, in a module of its own so the entry point can name it without importing
sqlite3 (a hook that records nothing never opens the database)."""


class DatabaseUnavailable(RuntimeError):
    """The queue database cannot be opened or written (read-only folder, full disk...)."""

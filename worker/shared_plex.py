"""The Plex state a worker's lanes share: the session with its path index, the circuit breaker and the
managed collections, each used by one lane at a time under `lock`.

The session is opened on first need, so a drain whose scenes are all unchanged never connects to Plex
(worker/plex_session.py).
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from queue.database import connect
from validation.config import Settings
from worker.circuit import CircuitBreaker
from worker.collections import CollectionSync
from worker.plex_session import PlexSession


class SharedPlex:
    def __init__(self, settings: Settings, data_dir: str, stash: Any, *, manual: bool,
                 factory: Callable[[Settings, Any], PlexSession], keep_conn: Callable[[Any], None]) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.stash = stash
        self.manual = manual
        self._factory = factory
        self._keep_conn = keep_conn  # the worker closes these connections when it ends
        self.lock = threading.RLock()  # Plex session, path index, circuit breaker, collections: one at a time
        self.session: PlexSession | None = None
        self.breaker: CircuitBreaker | None = None  # loaded when the worker's thread starts
        self._collections: CollectionSync | None = None

    def open(self) -> PlexSession:
        """The session, opened by the first lane that needs it."""
        if self.session is None:
            with self.lock:  # lanes wait for the one that opens it (and builds the path index)
                if self.session is None:
                    assert self.breaker is not None
                    # Its own connection: the path index keeps it, and lanes use the session in turn.
                    plex = self._factory(self.settings, connect(self.data_dir))
                    plex.index.force_next_look = self.manual  # a user's press always asks Plex again
                    self.breaker.record_success()
                    self.session = plex
        return self.session

    def collection_sync(self) -> CollectionSync:
        """Shared by the lanes and used only under `lock`, so it keeps one connection of its own."""
        with self.lock:
            if self._collections is None:
                conn = connect(self.data_dir)
                self._keep_conn(conn)  # closed with the lanes' connections when the worker ends
                self._collections = CollectionSync(conn, self.settings, self.stash)
            return self._collections

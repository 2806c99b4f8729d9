"""Circuit breaker for Plex: stop calling a server that is down, and say when we will try again.

State lives in the queue database so "Queue status" can show it and the next drain knows it. A drain
that starts while the breaker is open makes one probe: recovery needs no manual step beyond it.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from queue.database import get_state, set_state, transaction

STATE_KEY = "plex_circuit"
FAILURE_THRESHOLD = 3
MIN_COOLDOWN = 30.0
MAX_COOLDOWN = 600.0


@dataclass
class CircuitBreaker:
    conn: sqlite3.Connection
    failures: int = 0
    open_until: float = 0.0
    cooldown: float = MIN_COOLDOWN
    last_error: str = ""

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> "CircuitBreaker":
        raw = get_state(conn, STATE_KEY)
        breaker = cls(conn)
        if raw:
            try:
                data = json.loads(raw)
                breaker.failures = int(data.get("failures", 0))
                breaker.open_until = float(data.get("open_until", 0.0))
                breaker.cooldown = float(data.get("cooldown", MIN_COOLDOWN))
                breaker.last_error = str(data.get("last_error", ""))
            except (ValueError, TypeError, AttributeError):
                pass
        return breaker

    @property
    def is_open(self) -> bool:
        return self.failures >= FAILURE_THRESHOLD and time.time() < self.open_until

    @property
    def tripped(self) -> bool:
        """Open, or past its cooldown but not yet proven healthy (half-open)."""
        return self.failures >= FAILURE_THRESHOLD

    def record_success(self) -> None:
        if self.failures or self.open_until:
            self.failures, self.open_until, self.cooldown, self.last_error = 0, 0.0, MIN_COOLDOWN, ""
            self._save()

    def record_failure(self, error: str) -> bool:
        """Count an outage; returns True when this failure opened the breaker."""
        self.failures += 1
        self.last_error = error[:300]
        opened = False
        if self.failures >= FAILURE_THRESHOLD:
            if time.time() >= self.open_until:
                opened = True
                if self.failures > FAILURE_THRESHOLD:
                    self.cooldown = min(MAX_COOLDOWN, self.cooldown * 2)
            self.open_until = time.time() + self.cooldown
        self._save()
        return opened

    def describe(self) -> str:
        if not self.tripped:
            return "closed (Plex reachable)"
        when = time.strftime("%H:%M:%S", time.localtime(self.open_until))
        state = "open" if self.is_open else "half-open"
        return f"{state} after {self.failures} failures ({self.last_error}); next try at {when}"

    def _save(self) -> None:
        with transaction(self.conn):
            set_state(self.conn, STATE_KEY, json.dumps({"failures": self.failures, "open_until": self.open_until,
                                                        "cooldown": self.cooldown, "last_error": self.last_error}))

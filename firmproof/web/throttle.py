"""Failed logins, counted per account name and per client address, so that a password cannot be
guessed at the speed of the server (OWASP's authentication guidance: throttle per account and
per source, lock nobody out for good).

After `limit` failures of one key within `window` seconds, that key waits before it may try
again: `base` seconds, doubled for each failure past the limit, at most `cap`. An account name
allows fewer failures than an address (one address may hold many people, and may try many
names: password spraying). A success clears the account's count, not the address's. Refused
attempts are not checked at all (no scrypt work is spent on them) and do not count. The counts
live in the server's memory: a restart clears them, as it does every session's CSRF secret."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

ACCOUNT_LIMIT, ADDRESS_LIMIT = 5, 20      # failures within WINDOW before a key waits
WINDOW = 15 * 60
BASE_DELAY, MAX_DELAY = 30.0, 15 * 60.0
MAX_KEYS = 10_000                          # keys remembered; the least recently failed go first


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)     # within the window, oldest first


class LoginThrottle:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._keys: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def keys(name: str, address: str | None) -> tuple[tuple[str, int], ...]:
        """The keys of one attempt, each with its limit."""
        return ((f"name:{name}", ACCOUNT_LIMIT), (f"address:{address or '?'}", ADDRESS_LIMIT))

    def wait(self, name: str, address: str | None) -> int:
        """Seconds before an attempt for `name` from `address` is heard (0: now)."""
        now = self._clock()
        longest = 0.0
        with self._lock:
            for key, limit in self.keys(name, address):
                failures = self._recent(key, now)
                if failures is None or len(failures.times) < limit:
                    continue
                delay = min(MAX_DELAY, BASE_DELAY * 2 ** (len(failures.times) - limit))
                longest = max(longest, failures.times[-1] + delay - now)
        return math.ceil(longest) if longest > 0 else 0

    def failed(self, name: str, address: str | None) -> None:
        now = self._clock()
        with self._lock:
            for key, _ in self.keys(name, address):
                failures = self._recent(key, now) or _Failures()
                failures.times.append(now)
                self._keys[key] = failures
                self._keys.move_to_end(key)
            while len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._keys.pop(f"name:{name}", None)

    def _recent(self, key: str, now: float) -> _Failures | None:
        failures = self._keys.get(key)
        if failures is None:
            return None
        failures.times = [t for t in failures.times if now - t < WINDOW]
        if not failures.times:
            del self._keys[key]
            return None
        return failures

"""A client that commits numbered rows through the load balancer without pause, the way an
application keeps writing while a host or process fails, and the figures an operator asks for
afterwards: rows acknowledged, rows lost, the longest write outage.

A row is acknowledged when its INSERT returned OK under autocommit: Galera has certified it on
every member of the Primary component and the client may forget it. A failed or timed-out
INSERT is not acknowledged (it may or may not have committed), and the next row gets the next
number, so the table's content is always a superset of what was acknowledged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from tests import sql_client

# Short enough that a connection to a vanished node or load balancer is given up within a few
# seconds; long enough for a commit that waits out a Galera view change.
CONNECT_TIMEOUT_SECONDS = 2
QUERY_TIMEOUT_SECONDS = 8
# After a failure, before trying the next load balancer address.
RETRY_PAUSE_SECONDS = 0.1


@dataclass
class WriteReport:
    """What a RowWriter saw: `acknowledged` row ids in commit order, `attempts` INSERTs tried,
    `longest_outage` seconds between two acknowledged commits (or from the start to the first
    one), when it happened (seconds since the writer started), and the errors seen, counted."""

    acknowledged: list[int]
    attempts: int
    longest_outage: float
    outage_started_at: float
    errors: dict[str, int] = field(default_factory=dict)

    def summary(self, what: str, lost: int | None = None) -> str:
        lost_text = "" if lost is None else f", {lost} lost"
        errors = ", ".join(f"{n}× {e}" for e, n in sorted(self.errors.items(), key=lambda kv: -kv[1]))
        return (f"{what}: {len(self.acknowledged)} rows acknowledged of {self.attempts} attempts{lost_text}; "
                f"longest write outage {self.longest_outage:.1f} s (from {self.outage_started_at:.1f} s); "
                f"errors: {errors or 'none'}")


class RowWriter:
    """Commits rows (id, written_by) into `table` through the MySQL endpoints `addresses`
    ([(host, port)], tried in turn, as a client that knows every load balancer address does),
    on a thread, from __enter__ until __exit__, over TLS verified with `ca_file` when given
    (sql_client.connect). Ids start at `first_id`.

    The table is made if missing: `CREATE TABLE <table> (id BIGINT PRIMARY KEY, ...)`.
    Raises pymysql errors from __enter__ if no address answers at the start."""

    def __init__(self, addresses: list[tuple[str, int]], user: str, password: str, ca_file: Path | None,
                 table: str, first_id: int = 1):
        self.addresses = addresses
        self.ca_file = ca_file
        self.user = user
        self.password = password
        self.table = table
        self.next_id = first_id
        self.acknowledged: list[int] = []
        self.commit_times: list[float] = []
        self.attempts = 0
        self.errors: dict[str, int] = {}
        self._address_index = 0
        self.stopped: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"writer {table}", daemon=True)

    def _connect(self) -> pymysql.connections.Connection:
        host, port = self.addresses[self._address_index % len(self.addresses)]
        return sql_client.connect(host, port, self.user, self.password, self.ca_file,
                                  connect_timeout=CONNECT_TIMEOUT_SECONDS, query_timeout=QUERY_TIMEOUT_SECONDS)

    def __enter__(self) -> "RowWriter":
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.table} "
                           "(id BIGINT PRIMARY KEY, written_by VARCHAR(64), written_at TIMESTAMP(3) "
                           "DEFAULT CURRENT_TIMESTAMP(3))")
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> WriteReport:
        """Stops writing (waits for the INSERT in flight) and returns the report."""
        self._stop.set()
        self._thread.join(timeout=QUERY_TIMEOUT_SECONDS + CONNECT_TIMEOUT_SECONDS + 5)
        self.stopped = self.stopped or time.monotonic()
        return self.report()

    def _note_error(self, error: Exception) -> None:
        name = type(error).__name__
        code = error.args[0] if isinstance(error, pymysql.MySQLError) and error.args else ""
        key = f"{name} {code}".strip()
        self.errors[key] = self.errors.get(key, 0) + 1

    def _run(self) -> None:
        connection = None
        while not self._stop.is_set():
            row_id = self.next_id
            self.next_id += 1
            self.attempts += 1
            try:
                if connection is None:
                    connection = self._connect()
                with connection.cursor() as cursor:
                    cursor.execute(f"INSERT INTO {self.table} (id, written_by) VALUES (%s, @@hostname)", (row_id,))
                self.acknowledged.append(row_id)
                self.commit_times.append(time.monotonic())
            except (pymysql.MySQLError, OSError) as error:
                self._note_error(error)
                if connection is not None:
                    connection.close()
                connection = None
                self._address_index += 1
                self._stop.wait(RETRY_PAUSE_SECONDS)
        if connection is not None:
            connection.close()

    def report(self) -> WriteReport:
        """The figures so far (until stop()); the outage counts the time since the last commit too."""
        marks = [self.started, *self.commit_times, self.stopped or time.monotonic()]
        gaps = [(later - earlier, earlier - self.started) for earlier, later in zip(marks, marks[1:])]
        longest, at = max(gaps)
        return WriteReport(list(self.acknowledged), self.attempts, longest, at, dict(self.errors))

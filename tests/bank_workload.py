"""The bank workload of issue 19: writer threads moving money between a few accounts in
transactions, the way an application's hot rows meet on a Galera cluster. Shared by the image
contract tests and the lab's integration suite (PyMySQL, requirements.txt).

    with BankWorkload([("127.0.0.1", 3306)], "root", password, ca_file) as bank:
        time.sleep(20)
    report = bank.report()          # transfers committed, errors by MySQL code, the total

Each transfer is one transaction: both rows locked in id order (`SELECT ... FOR UPDATE`), so
InnoDB on one node never deadlocks; an error 1213 (ER_LOCK_DEADLOCK) can then only come from
Galera's certification, which reports a write set that conflicts with one committed on ANOTHER
node that way. Through one writer node there is no other node, hence no 1213. A transfer that
fails otherwise (the node or load balancer gone mid-commit) is retried on a new connection;
whether it committed or not, it moved nothing or everything, so the total stays the same.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pymysql

from tests import sql_client

ACCOUNTS = 10
WRITERS = 4
OPENING_BALANCE = 1000
# The error Galera gives a transaction whose write set lost certification to another node's.
ER_LOCK_DEADLOCK = 1213
CONNECT_TIMEOUT_SECONDS = 2
QUERY_TIMEOUT_SECONDS = 8
RETRY_PAUSE_SECONDS = 0.1


@dataclass
class BankReport:
    """`committed` transfers (COMMIT returned OK), `errors` by MySQL error code (0 for a
    network error without one), and the `total` of all balances read at the end."""
    committed: int
    errors: dict[int, int]
    total: int

    @property
    def deadlocks(self) -> int:
        return self.errors.get(ER_LOCK_DEADLOCK, 0)

    def summary(self, what: str) -> str:
        errors = ", ".join(f"{n}× {code}" for code, n in sorted(self.errors.items())) or "none"
        return (f"{what}: {self.committed} transfers committed, errors by code: {errors}; "
                f"total {self.total} (opening {ACCOUNTS * OPENING_BALANCE})")


class BankWorkload:
    """WRITERS threads transferring between ACCOUNTS accounts of `table` (made afresh, each
    with OPENING_BALANCE) through the MySQL endpoints `addresses` ([(host, port)]): writer K
    starts at address K (mod their count) and moves to the next one after an error that is not
    a deadlock; over TLS verified with `ca_file` when given (sql_client.connect). Runs from
    __enter__ to __exit__; `report()` reads the total through the first address. Raises pymysql
    errors from __enter__ when the first address does not answer."""

    def __init__(self, addresses: list[tuple[str, int]], user: str, password: str, ca_file: Path | None,
                 table: str = "bank.accounts", writers: int = WRITERS):
        self.addresses = addresses
        self.user = user
        self.password = password
        self.ca_file = ca_file
        self.table = table
        self.committed = 0
        self.errors: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k,), name=f"bank writer {k}", daemon=True)
                         for k in range(writers)]

    def connect(self, index: int = 0) -> pymysql.connections.Connection:
        host, port = self.addresses[index % len(self.addresses)]
        return sql_client.connect(host, port, self.user, self.password, self.ca_file,
                                  connect_timeout=CONNECT_TIMEOUT_SECONDS, query_timeout=QUERY_TIMEOUT_SECONDS)

    def __enter__(self) -> "BankWorkload":
        database = self.table.split(".")[0]
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(f"CREATE TABLE {self.table} (id INT PRIMARY KEY, balance BIGINT NOT NULL)")
            cursor.execute(f"INSERT INTO {self.table} VALUES "
                           + ",".join(f"({i}, {OPENING_BALANCE})" for i in range(1, ACCOUNTS + 1)))
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=QUERY_TIMEOUT_SECONDS * 3 + CONNECT_TIMEOUT_SECONDS + 5)

    def _transfer(self, connection: pymysql.connections.Connection, rng: random.Random) -> None:
        low, high = sorted(rng.sample(range(1, ACCOUNTS + 1), 2))
        amount = rng.randint(1, 50)
        source, target = (low, high) if rng.random() < 0.5 else (high, low)
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            try:
                cursor.execute(f"SELECT id FROM {self.table} WHERE id IN (%s, %s) ORDER BY id FOR UPDATE", (low, high))
                cursor.execute(f"UPDATE {self.table} SET balance = balance - %s WHERE id = %s", (amount, source))
                cursor.execute(f"UPDATE {self.table} SET balance = balance + %s WHERE id = %s", (amount, target))
                cursor.execute("COMMIT")
            except BaseException:
                try:
                    cursor.execute("ROLLBACK")
                except (pymysql.MySQLError, OSError):
                    pass
                raise

    def _run(self, writer: int) -> None:
        rng = random.Random(writer)
        index = writer
        connection = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    connection = self.connect(index)
                self._transfer(connection, rng)
                with self._lock:
                    self.committed += 1
            except (pymysql.MySQLError, OSError) as error:
                code = error.args[0] if isinstance(error, pymysql.MySQLError) and error.args \
                    and isinstance(error.args[0], int) else 0
                with self._lock:
                    self.errors[code] += 1
                if code != ER_LOCK_DEADLOCK:
                    if connection is not None:
                        connection.close()
                    connection = None
                    index += 1
                self._stop.wait(RETRY_PAUSE_SECONDS)
        if connection is not None:
            connection.close()

    def report(self, retries: int = 30) -> BankReport:
        """The figures so far, with the total of the balances read through the first address
        that answers (each tried in turn, up to `retries` times a second apart)."""
        last: Exception | None = None
        for attempt in range(retries):
            try:
                with self.connect(attempt) as connection, connection.cursor() as cursor:
                    cursor.execute("SET SESSION wsrep_sync_wait = 1")
                    cursor.execute(f"SELECT SUM(balance) FROM {self.table}")
                    (total,) = cursor.fetchone()
                with self._lock:
                    return BankReport(self.committed, dict(self.errors), int(total))
            except (pymysql.MySQLError, OSError) as error:
                last = error
                time.sleep(1)
        raise AssertionError(f"no address of {self.addresses} answered for the bank total: {last!r}")

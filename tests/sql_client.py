"""The tests' PyMySQL connection to a Galera node or load balancer, over TLS when the cluster
has it: the accounts that log in over the network require TLS then (agent/credentials,
TLSRequirement)."""

from __future__ import annotations

from pathlib import Path

import pymysql


def connect(host: str, port: int, user: str, password: str, ca_file: Path | None, *,
            connect_timeout: float, query_timeout: float) -> pymysql.connections.Connection:
    """An autocommit connection to `host`:`port` (seconds for `connect_timeout` and for each
    read or write, `query_timeout`). With `ca_file` (the cluster CA's PEM) the session is TLS
    and the server's chain is verified against it, not its name: tests connect by address, and
    the certificates name the services (galera_swarm.tls.node_names). Raises pymysql errors."""
    tls = {"ca": str(ca_file), "check_hostname": False} if ca_file else None
    return pymysql.connect(host=host, port=port, user=user, password=password, ssl=tls,
                           connect_timeout=connect_timeout, read_timeout=query_timeout,
                           write_timeout=query_timeout, autocommit=True)

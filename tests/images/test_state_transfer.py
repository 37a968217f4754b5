"""A joiner receiving a state transfer longer than the health start period is never marked
unhealthy (a swarm would kill it) and ends Synced."""

from __future__ import annotations

import collections
import time

from tests.images.conftest import MEASUREMENTS
from tests.images.docker_helpers import docker

ROWS = 400_000  # ~1 KB each: a few hundred MB to transfer
BATCH = 100_000
SHORT_HEALTH = ["--health-start-period=5s", "--health-interval=1s", "--health-retries=2",
                "--health-timeout=5s"]


def test_a_long_sst_is_never_killed_by_the_healthcheck(cluster_factory):
    cluster = cluster_factory("sst", size=2)
    donor, joiner = cluster.nodes
    cluster.extra_args[joiner] = SHORT_HEALTH
    cluster.recreate(joiner)
    cluster.start(donor)
    cluster.wait_all_synced(timeout=180, nodes=[donor])

    started = time.monotonic()
    cluster.sql(donor, "CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, pad VARCHAR(1000))")
    for first in range(1, ROWS + 1, BATCH):
        cluster.sql(donor, f"INSERT INTO t SELECT seq, REPEAT(SHA2(seq, 256), 15) "
                           f"FROM seq_{first}_to_{first + BATCH - 1}", database="big")
    size_mb = docker("exec", donor, "du", "-sm", "/var/lib/mysql/big").stdout.split()[0]
    MEASUREMENTS.append(f"long SST: {ROWS} rows, {size_mb} MB generated in {time.monotonic() - started:.0f}s")

    cluster.start(joiner)
    started = time.monotonic()
    samples: list[tuple[float, str, str]] = []  # (seconds, docker health, galera-health output)
    deadline = started + 900
    while time.monotonic() < deadline:
        health = cluster.health_status(joiner)
        check = docker("exec", joiner, "galera-health", "--check", "--donor-ok", check=False, timeout=30)
        samples.append((time.monotonic() - started, health, check.stdout.strip()))
        if cluster.is_synced(joiner, 2) and health == "healthy":
            break
        running = docker("inspect", "-f", "{{.State.Running}}", joiner).stdout.strip()
        assert running == "true", cluster.logs(joiner)[-3000:]
        time.sleep(1)

    statuses = collections.Counter(h for _, h, _ in samples)
    messages = collections.Counter(m for _, _, m in samples)
    MEASUREMENTS.append(f"long SST: joiner Synced after {time.monotonic() - started:.0f}s; "
                        f"{len(samples)} one-second samples of the docker health: {dict(statuses)}")
    MEASUREMENTS.extend(f"  galera-health --check --donor-ok said {n}x: {m}" for m, n in messages.items())
    first_healthy = next((t for t, h, _ in samples if h == "healthy"), None)
    MEASUREMENTS.append(f"  first 'healthy' sample at {first_healthy}s")
    assert "unhealthy" not in statuses, samples
    assert cluster.is_synced(joiner, 2)
    assert cluster.sql(joiner, "SELECT COUNT(*) FROM big.t") == str(ROWS)
    assert docker("inspect", "-f", "{{.RestartCount}}", joiner).stdout.strip() == "0"

"""A joiner receiving a state transfer longer than the health start period is never marked
unhealthy (a swarm would kill it) and ends Synced; with --transfer-ok-after (what the stack's
healthcheck uses), it counts as healthy only once Synced while its container is younger than
that, so a swarm rolling update waits for it."""

from __future__ import annotations

import collections
import time

from tests.images.conftest import MEASUREMENTS
from tests.images.docker_helpers import docker

ROWS = 400_000  # ~1 KB each: a few hundred MB to transfer
BATCH = 100_000
# A start period much shorter than the transfer; --transfer-ok-after follows it, as it must.
SHORT_HEALTH = ["--health-start-period=5s", "--health-interval=1s", "--health-retries=2",
                "--health-timeout=5s",
                "--health-cmd=/usr/local/bin/galera-health --check --donor-ok --transfer-ok-after 5"]


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
    # (seconds, docker health, galera-health --donor-ok output, output and exit of the same
    # with --transfer-ok-after an hour)
    samples: list[tuple[float, str, str, str, int]] = []
    deadline = started + 900
    while time.monotonic() < deadline:
        health = cluster.health_status(joiner)
        check = docker("exec", joiner, "galera-health", "--check", "--donor-ok", check=False, timeout=30)
        young = docker("exec", joiner, "galera-health", "--check", "--donor-ok", "--transfer-ok-after", "3600",
                       check=False, timeout=30)
        samples.append((time.monotonic() - started, health, check.stdout.strip(), young.stdout.strip(),
                        young.returncode))
        if young.returncode == 0 and health == "healthy":  # Synced: see the assertions below
            break
        running = docker("inspect", "-f", "{{.State.Running}}", joiner).stdout.strip()
        assert running == "true", cluster.logs(joiner)[-3000:]
        time.sleep(1)

    statuses = collections.Counter(sample[1] for sample in samples)
    messages = collections.Counter(sample[2] for sample in samples)
    MEASUREMENTS.append(f"long SST: joiner Synced after {time.monotonic() - started:.0f}s; "
                        f"{len(samples)} one-second samples of the docker health: {dict(statuses)}")
    MEASUREMENTS.extend(f"  galera-health --check --donor-ok said {n}x: {m}" for m, n in messages.items())
    first_healthy = next((sample[0] for sample in samples if sample[1] == "healthy"), None)
    MEASUREMENTS.append(f"  first 'healthy' sample at {first_healthy}s")
    assert "unhealthy" not in statuses, samples
    young = [(message, rc) for *_, message, rc in samples]
    in_transfer = [(m, rc) for m, rc in young if not m.startswith("Galera node is Synced")]
    MEASUREMENTS.append(f"  --transfer-ok-after 3600: {len(in_transfer)} samples before Synced, "
                        f"{sum(rc == 0 for _, rc in in_transfer)} of them healthy")
    assert in_transfer and all(rc == 1 for _, rc in in_transfer), in_transfer
    assert young[-1][0].startswith("Galera node is Synced") and young[-1][1] == 0, young[-1]
    assert cluster.is_synced(joiner, 2)
    assert cluster.sql(joiner, "SELECT COUNT(*) FROM big.t") == str(ROWS)
    assert docker("inspect", "-f", "{{.RestartCount}}", joiner).stdout.strip() == "0"

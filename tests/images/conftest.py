"""Fixtures for the image contract tests: images built once, a private bridge network,
and Galera clusters (etcd + 3 nodes) that are always removed, also when a test fails."""

from __future__ import annotations

import os
import secrets
import subprocess
import time

import pytest

from components.haproxy_config import CONFIG_PATH, HAPROXY_DEFAULTS, render_haproxy_config
from tests.images.docker_helpers import IMAGES_DIR, GaleraCluster, docker, remove_everything

PREFIX = os.environ.get("GSIMG_IMAGE_PREFIX", "galera-swarm")
TAG = os.environ.get("GSIMG_IMAGE_TAG", "dev")

# Figures measured during the run, printed at the end (never asserted on).
MEASUREMENTS: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if MEASUREMENTS:
        terminalreporter.section("galera image measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """Build the four images once per session with images/build.sh (layer cache)."""
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(IMAGES_DIR / "build.sh"), "--prefix", PREFIX, "--tag", TAG],
        capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, f"images/build.sh failed:\n{proc.stdout}\n{proc.stderr}"
    MEASUREMENTS.append(f"images/build.sh took {time.monotonic() - started:.0f}s")
    MEASUREMENTS.extend("  " + line for line in proc.stdout.splitlines())
    return {name: f"{PREFIX}/{name}:{TAG}" for name in ("galera", "etcd", "wordpress", "haproxy")}


@pytest.fixture(scope="session")
def run_prefix() -> str:
    return f"gsimg-{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def network(run_prefix):
    """A user-defined bridge network (Docker DNS at 127.0.0.11, like an overlay in swarm)."""
    name = f"{run_prefix}-net"
    docker("network", "create", name)
    try:
        yield name
    finally:
        remove_everything(run_prefix)


def make_cluster(request, run_prefix, network, images, name, **kwargs) -> GaleraCluster:
    cluster = GaleraCluster(prefix=f"{run_prefix}-{name}", network=network, images=images, **kwargs)

    def finalize():
        if request.session.testsfailed:
            print(cluster.dump_logs())
        remove_everything(cluster.prefix)
        cluster.remove_files()

    request.addfinalizer(finalize)
    cluster.create()
    return cluster


@pytest.fixture(scope="session")
def cluster(request, run_prefix, network, images) -> GaleraCluster:
    """A fresh 3-node cluster, all nodes started at once; reports the time to all-Synced."""
    c = make_cluster(request, run_prefix, network, images, "a")
    started = time.monotonic()
    c.start(*c.nodes)
    c.wait_all_synced(timeout=240)
    MEASUREMENTS.append(
        f"fresh 3-node cluster (started at once) all Synced after {time.monotonic() - started:.0f}s")
    return c


@pytest.fixture
def cluster_factory(request, run_prefix, network, images):
    """Makes further clusters for one test (each removed after it)."""
    return lambda name, **kw: make_cluster(request, run_prefix, network, images, name, **kw)


def run_haproxy(cluster: GaleraCluster, name: str, config_dir) -> str:
    """An HAProxy container `name` with the config rendered for the cluster's DNS alias by the
    function that renders the stack's swarm config (the writer script it loads is the image's,
    as in the stack); its stats, writer and reader ports published on 127.0.0.1."""
    cfg = config_dir / "haproxy.cfg"
    cfg.write_text(render_haproxy_config(**{**HAPROXY_DEFAULTS, "galera_dns": cluster.alias}))
    cfg.chmod(0o644)
    docker("run", "-d", "--name", name, "--network", cluster.network, "-p", "127.0.0.1::8404",
           "-p", f"127.0.0.1::{HAPROXY_DEFAULTS['listen_port']}", "-p", f"127.0.0.1::{HAPROXY_DEFAULTS['read_port']}",
           "-v", f"{cfg}:{CONFIG_PATH}:ro", cluster.images["haproxy"])
    return name


@pytest.fixture(scope="session")
def haproxy(cluster, tmp_path_factory):
    """HAProxy in front of the session's cluster (run_haproxy)."""
    name = run_haproxy(cluster, f"{cluster.prefix}-haproxy", tmp_path_factory.mktemp("haproxy"))
    try:
        yield name
    finally:
        docker("rm", "-f", name, check=False)


@pytest.fixture(scope="session")
def haproxy_replicas(cluster, haproxy, tmp_path_factory):
    """Two HAProxy containers with the same config in front of the session's cluster, as the
    stack runs load balancer replicas: `haproxy` and a second one."""
    name = run_haproxy(cluster, f"{cluster.prefix}-haproxy-2", tmp_path_factory.mktemp("haproxy-2"))
    try:
        yield [haproxy, name]
    finally:
        docker("rm", "-f", name, check=False)

"""The writer and reader endpoints of the load balancer (issue 19) and one load balancer and
WordPress task per host (issue 18): the rendered haproxy.cfg, the writer script, the ports and
service mode sent to Docker, the outputs an operator reads."""

from __future__ import annotations

import re

import pytest

from components.haproxy_config import (HAPROXY_DEFAULTS, READER_PROXY, WRITER_INTERVAL_MS, WRITER_PROXY,
                                       WRITER_SCRIPT_PATH, render_haproxy_config, writer_script)
from galera_swarm.settings import ConfigError, parse_settings
from tests.unit.conftest import PASSWORDS, NAMESPACE, resolve, stack_config
from tests.unit.test_program import services

SECRET_KEYS = {f"{NAMESPACE}:{k}" for k in PASSWORDS}


def listener(config: str, name: str) -> list[str]:
    """The lines of `listen <name>` in a rendered config, without comments."""
    block = re.search(rf"^listen {re.escape(name)}\n((?:    .*\n)+)", config, re.MULTILINE)
    assert block, f"no listener {name} in:\n{config}"
    return [line.strip() for line in block.group(1).splitlines() if not line.strip().startswith("#")]


def test_writer_listens_on_the_mysql_port_with_weight_zero_servers_for_the_script_to_choose_from():
    writer = listener(render_haproxy_config(**HAPROXY_DEFAULTS), WRITER_PROXY)
    assert writer[0] == "bind :3306"
    assert "balance leastconn" in writer
    assert "server-template galera 1-5 tasks.mysql-galera:3306" in writer
    (default_server,) = [line for line in writer if line.startswith("default-server")]
    # No connection but to the node the writer script gives weight 1; health is the reader's.
    assert default_server.startswith("default-server weight 0 resolvers docker")
    assert " check" not in default_server


def test_reader_listens_on_the_read_port_and_spreads_over_every_synced_node():
    reader = listener(render_haproxy_config(**HAPROXY_DEFAULTS), READER_PROXY)
    assert reader[0] == "bind :3307"
    assert "balance leastconn" in reader and "http-check expect status 200" in reader
    assert any(line.startswith("default-server check port 9200 ") and "on-marked-down shutdown-sessions" in line
               for line in reader)
    assert "server-template galera 1-5 tasks.mysql-galera:3306" in reader


def test_config_loads_the_writer_script_that_reads_the_reader_and_weighs_the_writer():
    config = render_haproxy_config(**HAPROXY_DEFAULTS)
    assert f"    lua-load {WRITER_SCRIPT_PATH}\n" in config
    script = writer_script()
    assert (f'local reader_name, writer_name, interval_ms = "{READER_PROXY}", "{WRITER_PROXY}", '
            f"{WRITER_INTERVAL_MS}\n") in script
    assert "@{" not in script


def test_writer_and_reader_ports_must_differ():
    with pytest.raises(ValueError, match="listen_port, read_port and stats_port must differ"):
        render_haproxy_config(**{**HAPROXY_DEFAULTS, "read_port": 3306})


def test_published_load_balancer_sends_both_ports_to_docker_in_host_mode(program):
    spec = services(program(loadBalancer={"publish": True}))["galera-lb"]
    assert spec["endpointSpec"]["ports"] == [
        {"targetPort": 3306, "publishedPort": 3306, "publishMode": "host", "protocol": "tcp"},
        {"targetPort": 3307, "publishedPort": 3307, "publishMode": "host", "protocol": "tcp"}]
    custom = services(program(loadBalancer={"publish": True, "port": 13306, "readPort": 13307}))["galera-lb"]
    assert [(p["publishedPort"], p["targetPort"]) for p in custom["endpointSpec"]["ports"]] == [
        (13306, 3306), (13307, 3307)]


@pytest.mark.parametrize("host_count", [1, 3, 5])
def test_load_balancer_and_wordpress_run_one_task_per_active_host_by_default(program, host_count):
    specs = services(program(host_count=host_count, loadBalancer={"publish": True}, wordpress={}))
    for name in ("galera-lb", "wordpress"):
        assert specs[name]["mode"] == {"replicated": {"replicas": host_count}}, name
        # Host-mode ports bind once per host: at most one task each, so every host answers.
        assert specs[name]["taskSpec"]["placement"]["maxReplicas"] == 1, name


def test_a_drained_host_gets_no_load_balancer_or_wordpress_task(program, key_path):
    config = stack_config(key_path, loadBalancer={"publish": True}, wordpress={})
    config["hosts"][2]["availability"] = "drain"
    config["galera"] = {"replicas": 1}
    s = parse_settings(config, SECRET_KEYS)
    assert (s.load_balancer.replicas, s.wordpress.replicas) == (2, 2)


def test_an_explicit_replica_count_is_kept(program):
    specs = services(program(host_count=5, loadBalancer={"replicas": 2}, wordpress={"replicas": 3}))
    assert specs["galera-lb"]["mode"]["replicated"]["replicas"] == 2
    assert specs["wordpress"]["mode"]["replicated"]["replicas"] == 3


def test_outputs_list_the_writer_and_reader_addresses_of_every_host_running_a_load_balancer(program):
    lb = program(loadBalancer={"publish": True}).program["lb"]
    # The mocks' swarm answers that tasks run on 192.0.2.11 and .12 (tests/unit/conftest.py).
    assert resolve(lb.addresses) == ["192.0.2.11:3306", "192.0.2.12:3306"]
    assert resolve(lb.read_addresses) == ["192.0.2.11:3307", "192.0.2.12:3307"]
    assert (resolve(lb.endpoint), resolve(lb.read_endpoint)) == ("galera-lb:3306", "galera-lb:3307")
    ingress = program(endpointMode="vip", publishMode="ingress", loadBalancer={"publish": True}).program["lb"]
    assert resolve(ingress.addresses) == ["192.0.2.11:3306"]
    unpublished = program().program["lb"]
    assert resolve(unpublished.addresses) == [] and resolve(unpublished.read_addresses) == []


def test_wordpress_writes_through_the_writer_port(program):
    run = program()
    db_host = services(run)["wordpress"]["taskSpec"]["containerSpec"]["env"]["WORDPRESS_DB_HOST"]
    # No port: MySQL's 3306, where the writer listens (not the reader's 3307).
    assert db_host == "galera-lb"
    (config,) = run.mocks.of_type("docker:index/serviceConfig:ServiceConfig")
    assert listener(config.inputs["dataRaw"], WRITER_PROXY)[0] == "bind :3306"


@pytest.mark.parametrize("change,problem", [
    ({"loadBalancer": {"publish": True, "readPort": 3306}},
     "galera-swarm:loadBalancer.readPort: port 3306 is taken by loadBalancer.port; publish another port"),
    ({"loadBalancer": {"publish": True, "readPort": 80}},
     "galera-swarm:wordpress.port: port 80 is taken by loadBalancer.readPort; publish another port"),
    ({"loadBalancer": {"publish": True, "readPort": 22}},
     "galera-swarm:loadBalancer.readPort: port 22 is taken by the SSH port of the hosts (ssh.port); "
     "publish another port"),
    ({"loadBalancer": {"publish": True, "readPort": 2377}},
     "galera-swarm:loadBalancer.readPort: port 2377 is taken by swarm's cluster management port; "
     "publish another port"),
    ({"galera": {"replicas": 3, "publishPort": 3307}, "loadBalancer": {"publish": True}},
     "galera-swarm:loadBalancer.readPort: port 3307 is taken by galera.publishPort; publish another port"),
])
def test_the_read_port_clashes_with_other_published_ports(key_path, change, problem):
    with pytest.raises(ConfigError) as err:
        parse_settings(stack_config(key_path, **change), SECRET_KEYS)
    assert err.value.problems == [problem]


def test_an_unpublished_read_port_does_not_clash(key_path):
    s = parse_settings(stack_config(key_path, loadBalancer={"readPort": 80}), SECRET_KEYS)
    assert s.load_balancer.read_port == 80


def test_more_replicas_than_active_hosts_in_host_mode_are_refused(key_path):
    with pytest.raises(ConfigError) as err:
        parse_settings(stack_config(key_path, wordpress={"replicas": 4}), SECRET_KEYS)
    assert err.value.problems == ["galera-swarm:wordpress.replicas: 4 replicas publishing port 80 in host mode "
                                  "need as many active hosts; only 3 are configured"]

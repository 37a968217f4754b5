"""Every configuration mistake is caught before anything is created, with a message that
names the key and the fix."""

from __future__ import annotations

import pytest

from galera_swarm.settings import ConfigError, parse_settings
from tests.unit.conftest import NAMESPACE, PASSWORDS, stack_config

SECRET_KEYS = {f"{NAMESPACE}:{k}" for k in PASSWORDS}


def problems_of(config: dict, secret_keys=SECRET_KEYS) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_settings(config, secret_keys)
    return err.value.problems


def hosts(*entries: dict) -> list[dict]:
    return list(entries)


def test_lab_config_parses_into_typed_settings(key_path):
    s = parse_settings(stack_config(key_path), SECRET_KEYS)
    assert [h.name for h in s.hosts] == ["docker1", "docker2", "docker3"]
    assert s.leader.name == "docker1"
    assert (s.endpoint_mode, s.publish_mode) == ("dnsrr", "host")
    assert s.galera.image == "registry.test:5000/galera-swarm/galera:dev"
    assert s.galera.service_name == "mysql-galera" and s.galera.replicas == 3
    assert s.network.name == "mynet"
    assert s.etcd.replicas == 1 and s.etcd.publish is False
    assert s.warnings == ()


def test_defaults_are_the_seed_recipe_vip_and_ingress(key_path):
    config = stack_config(key_path)
    del config["endpointMode"], config["publishMode"]
    s = parse_settings(config, SECRET_KEYS)
    assert (s.endpoint_mode, s.publish_mode) == ("vip", "ingress")
    assert s.load_balancer.enabled and s.wordpress.replicas == 2


def test_no_hosts(key_path):
    assert problems_of(stack_config(key_path, hosts=[])) == [
        "galera-swarm:hosts: no hosts configured; list at least one Docker host, e.g. "
        "`- {name: docker1, address: 192.0.2.11}`"]


def test_duplicate_names_and_addresses(key_path):
    config = stack_config(key_path, hosts=hosts(
        {"name": "docker1", "address": "192.0.2.11"},
        {"name": "docker1", "address": "192.0.2.12"},
        {"name": "docker3", "address": "192.0.2.12"}))
    assert problems_of(config) == [
        "galera-swarm:hosts: duplicate name 'docker1'; every host needs its own name",
        "galera-swarm:hosts: duplicate address '192.0.2.12'; every host needs its own address"]


@pytest.mark.parametrize("address", ["10.0.0.300", "host_with_underscore", "-bad.example"])
def test_malformed_address(key_path, address):
    config = stack_config(key_path, hosts=hosts(
        {"name": "docker1", "address": "192.0.2.11"},
        {"name": "docker2", "address": "192.0.2.12"},
        {"name": "docker3", "address": address}))
    assert f"galera-swarm:hosts[2].address: {address!r} is not an IP address or DNS name" in problems_of(config)


def test_dns_names_and_ipv6_are_valid_addresses(key_path):
    config = stack_config(key_path, hosts=hosts(
        {"name": "db1", "address": "db1.example.org"},
        {"name": "db2", "address": "2001:db8::2"},
        {"name": "db3", "address": "192.0.2.13"}))
    assert [h.address for h in parse_settings(config, SECRET_KEYS).hosts][:2] == ["db1.example.org", "2001:db8::2"]


def test_no_manager(key_path):
    config = stack_config(key_path, hosts=[
        {"name": f"docker{i}", "address": f"192.0.2.{10 + i}", "role": "worker"} for i in (1, 2, 3)])
    assert problems_of(config) == [
        "galera-swarm:hosts: no manager; set `role: manager` on at least one host "
        "(the first manager initialises the swarm)"]


def test_even_manager_count(key_path):
    config = stack_config(key_path, hosts=hosts(
        {"name": "docker1", "address": "192.0.2.11"},
        {"name": "docker2", "address": "192.0.2.12"},
        {"name": "docker3", "address": "192.0.2.13", "role": "worker"}))
    assert problems_of(config) == [
        "galera-swarm:hosts: 2 managers is an even count, which tolerates no more failures than 1; "
        "use an odd number of managers (1, 3, 5) for Raft quorum"]


def test_unknown_role_and_availability(key_path):
    config = stack_config(key_path, hosts=hosts(
        {"name": "docker1", "address": "192.0.2.11", "role": "boss", "availability": "maybe"}),
        galera={"replicas": 1}, loadBalancer={"replicas": 1}, wordpress={"replicas": 1})
    assert problems_of(config) == [
        "galera-swarm:hosts[0].role: unknown value 'boss'; use one of: manager, worker",
        "galera-swarm:hosts[0].availability: unknown value 'maybe'; use one of: active, pause, drain"]


def test_galera_replicas_above_eligible_nodes(key_path):
    config = stack_config(key_path, galera={"replicas": 5})
    assert problems_of(config) == [
        "galera-swarm:galera.replicas: 5 replicas with at most one per node need 5 active hosts, "
        "but only 3 are configured; lower galera.replicas or add hosts"]


def test_drained_hosts_are_not_eligible_for_galera(key_path):
    config = stack_config(key_path)
    config["hosts"][2]["availability"] = "drain"
    assert "need 3 active hosts, but only 2 are configured" in problems_of(config)[0]


def test_two_galera_replicas_are_rejected(key_path):
    assert problems_of(stack_config(key_path, galera={"replicas": 2})) == [
        "galera-swarm:galera.replicas: 2 nodes cannot keep quorum when one fails (the survivor "
        "stops serving); use 1 for a test setup or 3 or more"]


def test_other_even_galera_counts_only_warn(key_path):
    s = parse_settings(stack_config(key_path, host_count=5, galera={"replicas": 4}), SECRET_KEYS)
    assert s.galera.replicas == 4
    assert s.warnings == ("galera-swarm:galera.replicas is 4, an even count: a network split into "
                          "two halves leaves no Primary component; prefer an odd count",)


def test_password_in_plain_text(key_path):
    plain = SECRET_KEYS - {f"{NAMESPACE}:appPassword"}
    assert problems_of(stack_config(key_path), plain) == [
        "galera-swarm:appPassword: is stored in plain text; store it encrypted with "
        "`pulumi config set --secret galera-swarm:appPassword <password>`"]


def test_retired_sst_password_is_accepted_with_a_warning(key_path):
    config = stack_config(key_path)
    config["sstPassword"] = "old-sst-pw"
    settings = parse_settings(config, SECRET_KEYS | {f"{NAMESPACE}:sstPassword"})
    assert settings.warnings == (
        "galera-swarm:sstPassword is no longer used (state transfers log in through unix_socket, "
        "without a password); remove it with `pulumi config rm galera-swarm:sstPassword`",)


def test_missing_password(key_path):
    config = stack_config(key_path)
    del config["rootPassword"]
    assert problems_of(config) == [
        "galera-swarm:rootPassword: missing; set it with "
        "`pulumi config set --secret galera-swarm:rootPassword <password>`"]


@pytest.mark.parametrize("password", ["two\nlines", "tab\there", "bell\a"])
def test_password_with_a_control_character(key_path, password):
    assert problems_of(stack_config(key_path, rootPassword=password)) == [
        "galera-swarm:rootPassword: holds a line break or another non-printable character; use printable "
        "characters only: `pulumi config set --secret galera-swarm:rootPassword <password>`"]


def test_unknown_endpoint_mode(key_path):
    assert problems_of(stack_config(key_path, endpointMode="round-robin")) == [
        "galera-swarm:endpointMode: unknown value 'round-robin'; use one of: vip, dnsrr"]


def test_unknown_publish_mode(key_path):
    assert problems_of(stack_config(key_path, endpointMode="vip", publishMode="mesh")) == [
        "galera-swarm:publishMode: unknown value 'mesh'; use one of: ingress, host"]


def test_dnsrr_without_load_balancer(key_path):
    assert problems_of(stack_config(key_path, loadBalancer={"enabled": False})) == [
        "galera-swarm:loadBalancer.enabled: endpointMode dnsrr has no virtual IP to spread "
        "connections; keep the load balancer enabled (true) or use endpointMode vip"]


def test_dnsrr_with_ingress_publishing(key_path):
    assert problems_of(stack_config(key_path, publishMode="ingress")) == [
        "galera-swarm:publishMode: ingress publishing needs a virtual IP; with endpointMode dnsrr "
        "set publishMode to host"]


def test_vip_mode_may_run_without_load_balancer(key_path):
    s = parse_settings(stack_config(key_path, endpointMode="vip", publishMode="ingress",
                                    loadBalancer={"enabled": False}), SECRET_KEYS)
    assert not s.load_balancer.enabled


def test_unknown_key_is_reported_not_ignored(key_path):
    assert problems_of(stack_config(key_path, galeraReplicas=3))[0].startswith(
        "galera-swarm:galeraReplicas: unknown key; known keys are: appPassword, backup, endpointMode")


def test_missing_ssh_key_path(key_path):
    config = stack_config(key_path, ssh={"user": "root"})
    assert problems_of(config) == [
        "galera-swarm:ssh.privateKeyPath: missing; set the path of the SSH private key that logs "
        "in to every host (the docker provider and the swarm commands both use it)"]


@pytest.mark.parametrize("memory,expected", [("512m", 512 * 1024**2), ("2g", 2 * 1024**3),
                                             (1048576, 1048576), ("1.5G", int(1.5 * 1024**3))])
def test_memory_limit_sizes(key_path, memory, expected):
    s = parse_settings(stack_config(key_path, galera={"replicas": 3, "memory": memory}), SECRET_KEYS)
    assert s.galera.memory_bytes == expected


def test_bad_cpu_and_memory_limits(key_path):
    assert problems_of(stack_config(key_path, galera={"replicas": 3, "cpus": "lots", "memory": "big"})) == [
        "galera-swarm:galera.cpus: 'lots' is not a CPU count; use a positive number like 0.5 or 2",
        "galera-swarm:galera.memory: 'big' is not a memory size; use bytes or a size like 512m or 2g"]


def test_bad_subnet_and_etcd_member_count(key_path):
    assert problems_of(stack_config(key_path, network={"subnet": "10.1.2.0/33"}, etcd={"replicas": 2})) == [
        "galera-swarm:network.subnet: '10.1.2.0/33' is not a CIDR subnet like 10.20.0.0/24",
        "galera-swarm:etcd.replicas: 2 etcd members; use 1, or 3 / 5 for a quorum that survives failures"]


def test_all_problems_are_reported_at_once(key_path):
    config = stack_config(key_path, endpointMode="x", galera={"replicas": 2})
    del config["appPassword"]
    assert len(problems_of(config)) == 3


def test_placement_constraints_narrow_the_eligible_hosts(key_path):
    config = stack_config(key_path, host_count=5, galera={"replicas": 3, "constraints": ["node.labels.db == true"]})
    for host in config["hosts"][:2]:
        host["labels"] = {"db": "true"}
    assert problems_of(config) == [
        "galera-swarm:galera.replicas: 3 replicas with at most one per node need 3 active hosts "
        "matching galera.constraints, but only 2 are configured; lower galera.replicas or add hosts"]
    config["hosts"][2]["labels"] = {"db": "true"}
    assert parse_settings(config, SECRET_KEYS).galera.constraints == ("node.labels.db == true",)


@pytest.mark.parametrize("stack_file", ["Pulumi.dev.yaml", "examples/Pulumi.prod.yaml"])
def test_shipped_stack_files_are_valid(stack_file, key_path):
    import yaml  # PyYAML comes with the Pulumi SDK (pinned in requirements.txt)
    from tests.unit.conftest import ROOT, stand_in_secrets
    config = yaml.safe_load((ROOT / stack_file).read_text())["config"]
    raw = {k.split(":", 1)[1]: stand_in_secrets(v) for k, v in config.items()
           if not isinstance(v, dict) or "secure" not in v}
    raw.update(PASSWORDS)
    # A secure value inside an object (backup.password) makes the whole key secret.
    s = parse_settings(raw, SECRET_KEYS | {f"{NAMESPACE}:backup"})
    assert s.galera.replicas == 3 and len(s.hosts) >= 3


def test_a_bad_image_setting_is_reported_once(key_path):
    assert problems_of(stack_config(key_path, images={"prefix": 5})) == [
        "galera-swarm:images.prefix: must be a non-empty string, got 5"]
    s = parse_settings(stack_config(key_path, images={"prefix": "reg.example:5000/gs", "tag": "1.0"},
                                    wordpress={"image": "custom/wp:6"}), SECRET_KEYS)
    assert (s.etcd.image, s.galera.image, s.load_balancer.image, s.wordpress.image) == (
        "reg.example:5000/gs/etcd:1.0", "reg.example:5000/gs/galera:1.0",
        "reg.example:5000/gs/haproxy:1.0", "custom/wp:6")

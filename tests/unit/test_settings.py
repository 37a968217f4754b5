"""The schema's own promises: unknown keys refused at every level with a suggestion, every rule
the images and Docker enforce checked at preview in our error form, all problems at once, the
stack read through the public Pulumi config API, README's table generated from the schema."""

from __future__ import annotations

import math

import pytest

from galera_swarm import settings as schema
from galera_swarm.settings import ConfigError, host_port, parse_settings
from tests.unit.conftest import NAMESPACE, PASSWORDS, ROOT, SwarmMocks, run_program, stack_config

SECRET_KEYS = {f"{NAMESPACE}:{k}" for k in PASSWORDS}


def problems_of(config: dict, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_settings(config, SECRET_KEYS, **kwargs)
    return err.value.problems


def test_unknown_nested_key_suggests_the_closest_known_one(key_path):
    assert problems_of(stack_config(key_path, galera={"replica": 3})) == [
        "galera-swarm:galera.replica: unknown key; did you mean 'replicas'?"]


def test_unknown_key_inside_a_host_is_refused(key_path):
    config = stack_config(key_path)
    config["hosts"][1]["adress"] = config["hosts"][1].pop("address")
    assert problems_of(config) == [
        "galera-swarm:hosts[1].address: missing; give the IP address or DNS name SSH reaches",
        "galera-swarm:hosts[1].adress: unknown key; did you mean 'address'?"]


def test_snake_case_keys_are_not_the_wire_form(key_path):
    assert problems_of(stack_config(key_path, loadBalancer={"service_name": "lb"})) == [
        "galera-swarm:loadBalancer.service_name: unknown key; did you mean 'serviceName'?"]


def test_unknown_key_without_a_close_one_lists_the_known_keys(key_path):
    assert problems_of(stack_config(key_path, ssh={"privateKeyPath": str(key_path), "zzz": 1})) == [
        "galera-swarm:ssh.zzz: unknown key; known keys are: agent, ignoreHostKey, knownHostsPath, port, privateKeyPath, user"]


def test_a_section_that_is_no_object(key_path):
    assert problems_of(stack_config(key_path, ssh="root@docker1", hosts="docker1")) == [
        "galera-swarm:hosts: must be a list, got str",
        "galera-swarm:ssh: must be an object, got str"]


@pytest.mark.parametrize("cpus,message", [
    ("inf", "'inf' is not a finite CPU count; use a number like 0.5 or 2"),
    (math.inf, "inf is not a finite CPU count; use a number like 0.5 or 2"),
    ("nan", "'nan' is not a CPU count; use a positive number like 0.5 or 2"),
    (True, "True is not a CPU count; use a positive number like 0.5 or 2"),
    (0.001, "0.001 is below Docker's smallest CPU limit, 0.01"),
])
def test_cpu_limit_is_finite_and_in_dockers_range(key_path, cpus, message):
    assert problems_of(stack_config(key_path, galera={"replicas": 3, "cpus": cpus})) == [
        f"galera-swarm:galera.cpus: {message}"]


def test_memory_limit_fits_dockers_int64(key_path):
    assert problems_of(stack_config(key_path, galera={"replicas": 3, "memory": "9000000000g"})) == [
        "galera-swarm:galera.memory: '9000000000g' is larger than Docker can limit (2^63 - 1 bytes)"]


@pytest.mark.parametrize("section,key,value,expected", [
    ("wordpress", "port", 0, "must be a whole number from 1 to 65535, got 0"),
    ("ssh", "port", 70000, "must be a whole number from 1 to 65535, got 70000"),
    ("galera", "publishPort", "33o6", "must be a whole number from 1 to 65535, got '33o6'"),
    ("loadBalancer", "replicas", True, "must be a whole number from 1 to 99, got True"),
    ("wordpress", "replicas", 1.5, "must be a whole number from 1 to 99, got 1.5"),
    ("etcd", "publish", "yes", "must be true or false, got 'yes'"),
])
def test_numbers_and_flags_are_checked(key_path, section, key, value, expected):
    base = {"galera": {"replicas": 3}, "ssh": {"privateKeyPath": str(key_path)}}.get(section, {})
    config = stack_config(key_path, **{section: {**base, key: value}})
    assert problems_of(config) == [f"galera-swarm:{section}.{key}: {expected}"]


@pytest.mark.parametrize("key,value,expected", [
    ("clusterName", "my cluster", "'my cluster' may hold only letters, digits, '.', '_' and '-' "
     "(the Galera image's rule for CLUSTER_NAME, also its etcd key prefix)"),
    ("database", "wp;drop", "'wp;drop' may hold only letters, digits, '_', '$' and '-' "
     "(the Galera image's rule for MYSQL_DATABASE), at most 64 characters"),
    ("database", "d" * 65, f"{'d' * 65!r} may hold only letters, digits, '_', '$' and '-' "
     "(the Galera image's rule for MYSQL_DATABASE), at most 64 characters"),
    ("user", "root", "'root' is the administrator; give the application its own user, e.g. wordpress"),
    ("user", "app\tuser", "'app\\tuser' is not a MariaDB user name (printable characters, at most 80)"),
    ("serviceName", "mysql.galera", "'mysql.galera' is not a name swarm accepts for a service or "
     "network: letters and digits, '-' and '_' between them, at most 63 characters"),
    ("serviceName", "-galera", "'-galera' is not a name swarm accepts for a service or "
     "network: letters and digits, '-' and '_' between them, at most 63 characters"),
])
def test_names_follow_the_rules_of_the_images_and_swarm(key_path, key, value, expected):
    assert problems_of(stack_config(key_path, galera={"replicas": 3, key: value})) == [
        f"galera-swarm:galera.{key}: {expected}"]


def test_names_the_images_accept_pass(key_path):
    s = parse_settings(stack_config(key_path, galera={
        "replicas": 3, "clusterName": "prod.eu-1_a", "database": "wp_$-1", "user": "wp-app",
        "serviceName": "db_galera-1"}), SECRET_KEYS)
    assert (s.galera.cluster_name, s.galera.database, s.galera.user, s.galera.service_name) == (
        "prod.eu-1_a", "wp_$-1", "wp-app", "db_galera-1")


def test_network_name_follows_swarms_rule(key_path):
    assert problems_of(stack_config(key_path, network={"name": "my net"})) == [
        "galera-swarm:network.name: 'my net' is not a name swarm accepts for a service or network: "
        "letters and digits, '-' and '_' between them, at most 63 characters"]


def test_task_host_names_stay_within_64_characters(key_path):
    assert problems_of(stack_config(key_path, galera={"replicas": 3, "serviceName": "g" * 57})) == [
        f"galera-swarm:galera.serviceName: the task host name '{'g' * 57}-docker1' would be 65 "
        "characters, over Linux's 64; shorten galera.serviceName or the host names"]


@pytest.mark.parametrize("images,expected", [
    ({"tag": "-dev"}, "galera-swarm:images.tag: '-dev' is not a valid Docker tag: letters, digits, '_', "
     "'.' and '-', not first '.' or '-', at most 128 characters"),
    ({"tag": "t" * 129}, f"galera-swarm:images.tag: {'t' * 129!r} is not a valid Docker tag: letters, "
     "digits, '_', '.' and '-', not first '.' or '-', at most 128 characters"),
    ({"prefix": "Registry/GS"}, "galera-swarm:images.prefix: 'Registry/GS' is not a Docker repository "
     "prefix like registry.example.com:5000/galera-swarm (lowercase path components)"),
])
def test_image_prefix_and_tag_are_valid_docker_references(key_path, images, expected):
    assert problems_of(stack_config(key_path, images=images)) == [expected]


@pytest.mark.parametrize("source,rule", [
    ("images/build.sh", f"=~ ^{schema.TAG_PATTERN}$"),
    # galera-agent (agent/config) applies CLUSTER_NAME's and MYSQL_DATABASE's rules in the image.
    ("agent/config/config.go", f"regexp.MustCompile(`^{schema.CLUSTER_NAME_PATTERN}$`)"),
    ("agent/config/config.go", f"regexp.MustCompile(`^{schema.DATABASE_PATTERN}$`)"),
])
def test_the_schema_checks_the_rules_the_images_apply(source, rule):
    # The image keeps its check as a second line of defence; both must say the same.
    assert rule in (ROOT / source).read_text()


def test_a_unicode_tag_is_refused_as_docker_does(key_path):
    assert problems_of(stack_config(key_path, images={"tag": "dév"}))[0].startswith(
        "galera-swarm:images.tag: 'dév' is not a valid Docker tag")


def test_an_image_override_must_be_a_reference(key_path):
    assert problems_of(stack_config(key_path, etcd={"image": "bad image"})) == [
        "galera-swarm:etcd.image: 'bad image' is not a Docker image reference like "
        "registry.example.com/galera-swarm/galera:1.0"]
    pinned = "registry:5000/x/etcd:3.5@sha256:" + "a" * 64
    assert parse_settings(stack_config(key_path, etcd={"image": pinned}), SECRET_KEYS).etcd.image == pinned


@pytest.mark.parametrize("constraint", ["node.labels.db = true", "node.role", "== manager"])
def test_placement_constraints_have_swarms_form(key_path, constraint):
    assert problems_of(stack_config(key_path, galera={"replicas": 3, "constraints": [constraint]})) == [
        f"galera-swarm:galera.constraints: {constraint!r} is not a swarm placement constraint; write "
        "KEY == VALUE or KEY != VALUE, e.g. 'node.labels.db == true'"]


def test_two_services_cannot_publish_the_same_port(key_path):
    config = stack_config(key_path, endpointMode="vip", publishMode="ingress",
                          galera={"replicas": 3, "publishPort": 80})
    assert problems_of(config) == [
        "galera-swarm:wordpress.port: port 80 is taken by galera.publishPort; publish another port"]


def test_published_ports_clash_with_etcd_swarm_and_ssh(key_path):
    config = stack_config(key_path, etcd={"publish": True}, galera={"replicas": 3, "publishPort": 2379},
                          loadBalancer={"replicas": 2, "publish": True, "port": 2377},
                          wordpress={"replicas": 2, "port": 22})
    assert problems_of(config) == [
        "galera-swarm:galera.publishPort: port 2379 is taken by etcd.publish; publish another port",
        "galera-swarm:loadBalancer.port: port 2377 is taken by swarm's cluster management port; "
        "publish another port",
        "galera-swarm:wordpress.port: port 22 is taken by the SSH port of the hosts (ssh.port); "
        "publish another port"]


def test_unpublished_ports_do_not_clash(key_path):
    # The load balancer publishes nothing unless asked, and a disabled WordPress publishes nothing.
    s = parse_settings(stack_config(key_path, loadBalancer={"port": 80},
                                    wordpress={"enabled": False, "port": 22}), SECRET_KEYS)
    assert s.load_balancer.port == 80


def test_service_names_are_distinct(key_path):
    config = stack_config(key_path, galera={"replicas": 3, "serviceName": "etcd"},
                          wordpress={"replicas": 2, "serviceName": "galera-lb"})
    assert problems_of(config) == [
        "galera-swarm:galera.serviceName: 'etcd' is also the name of an etcd member; "
        "every service needs its own name",
        "galera-swarm:wordpress.serviceName: 'galera-lb' is also the name of loadBalancer.serviceName; "
        "every service needs its own name"]


def test_three_etcd_members_keep_their_alias(key_path):
    config = stack_config(key_path, etcd={"replicas": 3}, loadBalancer={"replicas": 2, "serviceName": "etcd-2"})
    assert problems_of(config) == [
        "galera-swarm:loadBalancer.serviceName: 'etcd-2' is also the name of an etcd member; "
        "every service needs its own name"]


def test_problems_of_every_section_are_printed_together(key_path):
    config = stack_config(key_path, publishMode="ingress", images={"tag": "a b"},
                          galera={"replicas": 3, "cpus": "inf"}, wordpress={"replicas": 2, "port": 22},
                          hosts=[{"name": "docker1", "address": "192.0.2.11"},
                                 {"name": "docker2", "address": "192.0.2.12", "zone": "a"},
                                 {"name": "docker3", "address": "192.0.2.13"}])
    del config["rootPassword"]
    with pytest.raises(ConfigError) as err:
        parse_settings(config, SECRET_KEYS)
    assert str(err.value) == "\n".join([
        "invalid stack configuration:",
        "  - galera-swarm:hosts[1].zone: unknown key; known keys are: address, availability, hostKey, labels, name, role",
        "  - galera-swarm:publishMode: ingress publishing needs a virtual IP; with endpointMode dnsrr "
        "set publishMode to host",
        "  - galera-swarm:images.tag: 'a b' is not a valid Docker tag: letters, digits, '_', '.' and '-', "
        "not first '.' or '-', at most 128 characters",
        "  - galera-swarm:galera.cpus: 'inf' is not a finite CPU count; use a number like 0.5 or 2",
        "  - galera-swarm:wordpress.port: port 22 is taken by the SSH port of the hosts (ssh.port); "
        "publish another port",
        "  - galera-swarm:rootPassword: missing; set it with "
        "`pulumi config set --secret galera-swarm:rootPassword <password>`"])


def test_no_password_value_is_ever_printed(key_path):
    secret = "s3cr\x07t-value"
    with pytest.raises(ConfigError) as err:
        parse_settings(stack_config(key_path, rootPassword=secret), SECRET_KEYS - {f"{NAMESPACE}:rootPassword"})
    assert secret not in str(err.value) and "plain text" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_settings(stack_config(key_path, rootPassword=secret), SECRET_KEYS)
    assert secret not in str(err.value) and "non-printable" in str(err.value)


def test_passwords_come_out_as_secret_outputs(key_path):
    from tests.unit.conftest import is_secret, resolve
    s = parse_settings(stack_config(key_path), SECRET_KEYS)
    assert is_secret(s.passwords.root) and resolve(s.passwords.app) == PASSWORDS["appPassword"]
    assert PASSWORDS["rootPassword"] not in repr(s)


def test_dns_names_are_resolved_once_for_swarm(key_path):
    asked: list[str] = []

    def resolve(name: str) -> str:
        asked.append(name)
        return {"db1.example.org": "192.0.2.21"}[name]

    config = stack_config(key_path, hosts=[{"name": "db1", "address": "db1.example.org"},
                                           {"name": "db2", "address": "2001:db8::2"},
                                           {"name": "db3", "address": "192.0.2.13"}])
    s = parse_settings(config, SECRET_KEYS, resolve=resolve)
    assert [h.address for h in s.hosts] == ["db1.example.org", "2001:db8::2", "192.0.2.13"]
    assert [h.advertise_address for h in s.hosts] == ["192.0.2.21", "2001:db8::2", "192.0.2.13"]
    assert asked == ["db1.example.org"]
    assert [host_port(h.advertise_address, 2377) for h in s.hosts] == [
        "192.0.2.21:2377", "[2001:db8::2]:2377", "192.0.2.13:2377"]


def test_a_name_that_does_not_resolve_is_reported(key_path):
    def resolve(name: str) -> str:
        raise OSError(-2, "Name or service not known")

    config = stack_config(key_path, hosts=[{"name": "db1", "address": "db1.example.invalid"}],
                          galera={"replicas": 1}, loadBalancer={"replicas": 1}, wordpress={"replicas": 1})
    assert problems_of(config, resolve=resolve) == [
        "galera-swarm:hosts[0].address: 'db1.example.invalid' does not resolve (Name or service not "
        "known); use the host's IP address, or fix its DNS record"]


def test_the_program_reads_unknown_keys_through_pulumi_config(key_path):
    mocks = SwarmMocks()
    with pytest.raises(Exception) as err:
        run_program(stack_config(key_path, galera={"replicas": 3, "clusterNmae": "x"}, endpointMod="vip"),
                    mocks=mocks)
    assert "galera-swarm:endpointMod: unknown key; did you mean 'endpointMode'?" in str(err.value)
    assert "galera-swarm:galera.clusterNmae: unknown key; did you mean 'clusterName'?" in str(err.value)
    assert mocks.resources == []


def test_the_program_refuses_a_plain_password(key_path):
    mocks = SwarmMocks()
    with pytest.raises(Exception) as err:
        run_program(stack_config(key_path), secret_keys=[f"{NAMESPACE}:rootPassword"], mocks=mocks)
    assert "galera-swarm:appPassword: is stored in plain text" in str(err.value)
    assert PASSWORDS["appPassword"] not in str(err.value)


def test_readme_configuration_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- config-table: begin -->\n", "<!-- config-table: end -->"
    assert begin in readme and end in readme, "README lost the markers around the configuration table"
    table = readme.split(begin, 1)[1].split(end, 1)[0]
    assert table == schema.markdown_table(), (
        "README's configuration table differs from the schema; regenerate it with "
        "`.venv/bin/python -m galera_swarm.settings --markdown-table`")


def test_markdown_table_has_a_row_per_key_with_type_default_and_meaning():
    rows = schema.markdown_table().splitlines()
    assert rows[:2] == ["| key | type | default | meaning |", "|---|---|---|---|"]
    assert "| `galera.publishPort` | int 1–65535 | (none) | publish MySQL directly (normally use the load balancer) |" in rows
    assert "| `hosts[].role` | `manager`\\|`worker` | `manager` | the first manager initialises the swarm; the manager count must be odd |" in rows
    assert any(r.startswith("| `rootPassword` | **secret** | (required) |") for r in rows)

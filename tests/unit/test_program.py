"""The whole program under mocks: components pass each other the right outputs, passwords
stay secret, and the services carry the spec an operator expects."""

from __future__ import annotations

import base64

import pytest

from components.cluster_certificates import tls_env
from tests.unit.conftest import PASSWORDS, SwarmMocks, is_secret, node_id, resolve, run_program, secret_input, stack_config

SERVICE = "docker:index/service:Service"


def services(run) -> dict:
    return {r.inputs["name"]: r.inputs for r in run.mocks.of_type(SERVICE)}


def env_of(service_inputs: dict) -> dict:
    return service_inputs["taskSpec"]["containerSpec"].get("env", {})


def test_galera_discovery_service_is_the_etcd_endpoint(program):
    run = program()
    endpoint = resolve(run.program["etcd"].endpoint)
    assert endpoint == "etcd:2379"
    assert env_of(services(run)["mysql-galera"])["DISCOVERY_SERVICE"] == endpoint


def test_wordpress_talks_to_the_load_balancer(program):
    run = program()
    lb_name = resolve(run.program["lb"].service_name)
    assert lb_name == "galera-lb"
    wp_env = env_of(services(run)["wordpress"])
    assert wp_env["WORDPRESS_DB_HOST"] == lb_name
    assert (wp_env["WORDPRESS_DB_USER"], wp_env["WORDPRESS_DB_NAME"]) == ("wordpress", "wordpress")


def test_without_load_balancer_wordpress_talks_to_galera(program):
    run = program(endpointMode="vip", publishMode="ingress", loadBalancer={"enabled": False})
    assert "galera-lb" not in services(run)
    assert env_of(services(run)["wordpress"])["WORDPRESS_DB_HOST"] == "mysql-galera"


def test_passwords_are_swarm_secrets_and_never_environment_values(program):
    run = program()
    # MariaDB's root and app, etcd's root and galera (the others are ClusterCertificates').
    secrets = [s for s in run.mocks.of_type("docker:index/secret:Secret") if not s.name.startswith("tls-")]
    assert len(secrets) == 4
    stored = {base64.b64decode(secret_input(s.inputs["data"])).decode() for s in secrets}
    assert stored == set(PASSWORDS.values())
    for name, spec in services(run).items():
        for value in env_of(spec).values():
            assert not any(pw in value for pw in PASSWORDS.values()), f"password in {name}'s env"
    galera_env = env_of(services(run)["mysql-galera"])
    assert galera_env["MYSQL_ROOT_PASSWORD_FILE"] == "/run/secrets/mysql-root-password"
    mounted = [s["fileName"] for s in services(run)["mysql-galera"]["taskSpec"]["containerSpec"]["secrets"]]
    assert mounted == ["/run/secrets/mysql-root-password", "/run/secrets/mysql-app-password",
                       "/run/secrets/etcd-galera-password", *tls_env().values()]
    assert not any("SST" in key for key in galera_env)
    assert galera_env["PEERS_DNS"] == "tasks.mysql-galera"
    wp_secret = services(run)["wordpress"]["taskSpec"]["containerSpec"]["secrets"][0]
    assert wp_secret["secretId"] == "galera-mysql-app-password-id"
    assert env_of(services(run)["wordpress"])["WORDPRESS_DB_PASSWORD_FILE"] == wp_secret["fileName"]


@pytest.mark.parametrize("name,step", [("passwords-new-passwords-accepted", "await-accepted"),
                                       ("passwords-discard-old", "discard-old")])
def test_rotation_steps_run_galera_passwords_only_when_the_passwords_change(program, name, step):
    step_command = program().mocks.named(name)
    # Created with the cluster: nothing to rotate. A password change is a change of stdin, an
    # update: the step runs in a container of the Galera image on the overlay, on the leader.
    assert step_command.inputs["create"] == "set -eu\n: the passwords a cluster is made with need no rotation\n"
    assert step_command.inputs["update"] == (
        "set -eu\ndocker run --rm -i --network network-mynet-id -e MYSQL_USER=wordpress -e MYSQL_DATABASE=wordpress "
        "--entrypoint galera-passwords registry.test:5000/galera-swarm/galera:dev "
        f"{step} --host mysql-galera --timeout 900\n")
    assert secret_input(step_command.inputs["stdin"]) == "root-pw-4a7c\napp-pw-3f00\n"
    assert secret_input(step_command.inputs["connection"])["host"] == "192.0.2.11"
    assert "triggers" not in step_command.inputs


def test_password_outputs_are_secret(program):
    run = program()
    settings = run.program["settings"]
    assert all(is_secret(o) for o in (settings.passwords.root, settings.passwords.app))


def test_galera_service_spec(program):
    spec = services(program(galera={"replicas": 3, "cpus": 1.5, "memory": "1g"}))["mysql-galera"]
    task = spec["taskSpec"]
    assert spec["mode"]["replicated"]["replicas"] == 3
    assert task["placement"]["maxReplicas"] == 1
    assert task["containerSpec"]["hostname"] == "{{.Service.Name}}-{{.Node.Hostname}}"
    assert task["containerSpec"]["mounts"] == [
        {"type": "volume", "source": "{{.Service.Name}}-data", "target": "/var/lib/mysql"}]
    health = task["containerSpec"]["healthcheck"]
    # A joiner counts as healthy in a transfer only after the start period (images/galera).
    assert health["tests"] == [
        "CMD", "/usr/local/bin/galera-health", "--check", "--donor-ok", "--transfer-ok-after", "600"]
    assert health["startPeriod"] == "600s"
    # `up` waits for a rolling update in which each node may take the whole start period.
    assert spec["convergeConfig"]["timeout"] == f"{3 * (600 + 60)}s"
    assert task["resources"]["limits"] == {"nanoCpus": 1.5e9, "memoryBytes": 1024**3}
    assert task["restartPolicy"]["condition"] == "any"
    update = spec["updateConfig"]
    assert (update["parallelism"], update["failureAction"], update["order"]) == (1, "rollback", "stop-first")
    assert spec["rollbackConfig"]["parallelism"] == 1
    assert spec["endpointSpec"] == {"mode": "dnsrr"}


def test_modes_and_ports_follow_config(program):
    vip = services(program(endpointMode="vip", publishMode="ingress", galera={"replicas": 3, "publishPort": 3307}))
    assert vip["mysql-galera"]["endpointSpec"] == {"mode": "vip", "ports": [
        {"targetPort": 3306, "publishedPort": 3307, "publishMode": "ingress", "protocol": "tcp"}]}
    host = services(program())
    assert host["wordpress"]["endpointSpec"]["ports"][0]["publishMode"] == "host"
    # Host-mode ports bind once per node.
    assert host["wordpress"]["taskSpec"]["placement"]["maxReplicas"] == 1


def test_vips_are_read_back_in_vip_mode_only(program):
    vip = program(endpointMode="vip", publishMode="ingress").program
    assert resolve(vip["galera"].vips) == ["10.0.1.2"] and resolve(vip["etcd"].vips) == ["10.0.1.2"]
    dnsrr = program().program
    assert resolve(dnsrr["galera"].vips) == [] and resolve(dnsrr["etcd"].vips) == []


def test_etcd_is_private_by_default_and_published_on_request(program):
    assert "ports" not in services(program())["etcd"]["endpointSpec"]
    published = services(program(etcd={"publish": True}))["etcd"]["endpointSpec"]["ports"]
    assert [p["targetPort"] for p in published] == [2379, 2380]


def test_three_etcd_members_form_one_initial_cluster(program):
    run = program(etcd={"replicas": 3})
    members = {n: s for n, s in services(run).items() if n.startswith("etcd")}
    assert sorted(members) == ["etcd-1", "etcd-2", "etcd-3"]
    expected = ",".join(f"etcd-{i}=http://etcd-{i}:2380" for i in (1, 2, 3))
    for name, spec in members.items():
        env = env_of(spec)
        assert env["ETCD_NAME"] == name and env["ETCD_INITIAL_CLUSTER"] == expected
        assert spec["taskSpec"]["networksAdvanceds"][0]["aliases"] == ["etcd"]
    assert resolve(run.program["etcd"].endpoint) == "etcd:2379"


def test_each_etcd_member_stays_on_its_host_beside_its_data(program):
    # Node ids come from the join/settings commands (the mocks answer node_id(<host>)).
    one = services(program())["etcd"]["taskSpec"]["placement"]["constraints"]
    assert one == [f"node.id == {node_id('docker1')}"]
    three = services(program(etcd={"replicas": 3}))
    assert [three[f"etcd-{i}"]["taskSpec"]["placement"]["constraints"] for i in (1, 2, 3)] == [
        [f"node.id == {node_id('docker1')}"], [f"node.id == {node_id('docker2')}"], [f"node.id == {node_id('docker3')}"]]


def test_etcd_members_go_to_active_managers_round_robin():
    from galera_swarm.placement import etcd_member_hosts
    from galera_swarm.settings import Host
    hosts = [Host(name="a", address="192.0.2.1"), Host(name="w", address="192.0.2.2", role="worker"),
             Host(name="d", address="192.0.2.3", availability="drain"), Host(name="b", address="192.0.2.4")]
    assert etcd_member_hosts(hosts, 3) == ["a", "b", "a"]
    assert etcd_member_hosts([Host(name="w", address="192.0.2.2", role="worker")], 1) == ["w"]


def test_haproxy_config_is_rendered_for_the_galera_service(program):
    run = program()
    (config,) = run.mocks.of_type("docker:index/serviceConfig:ServiceConfig")
    rendered = config.inputs["dataRaw"]
    assert "server-template galera 1-5 tasks.mysql-galera:3306" in rendered
    assert "check port 9200" in rendered and "$" not in rendered
    lb = services(run)["galera-lb"]["taskSpec"]["containerSpec"]["configs"][0]
    assert lb["fileName"] == "/usr/local/etc/haproxy/haproxy.cfg"
    assert lb["configId"] == f"{config.name}-id"  # the mocks' id of the ServiceConfig


def test_every_service_joins_the_overlay(program):
    run = program()
    (network,) = run.mocks.of_type("docker:index/network:Network")
    assert (network.inputs["name"], network.inputs["driver"], network.inputs["attachable"]) == ("mynet", "overlay", True)
    for spec in services(run).values():
        assert spec["taskSpec"]["networksAdvanceds"][0]["id"] == "network-mynet-id"


def test_wordpress_urls_point_at_nodes_running_it(program):
    assert resolve(program().program["app"].urls) == ["http://192.0.2.11/", "http://192.0.2.12/"]
    ingress = program(endpointMode="vip", publishMode="ingress").program
    assert resolve(ingress["app"].urls) == ["http://192.0.2.11/"]


def test_wordpress_answers_under_each_hosts_address_only_with_host_mode_ports(program):
    assert env_of(services(program())["wordpress"])["WORDPRESS_SITE_URL"] == "from-request"
    ingress = program(endpointMode="vip", publishMode="ingress")
    assert "WORDPRESS_SITE_URL" not in env_of(services(ingress)["wordpress"])


def test_wordpress_url_names_a_port_other_than_80():
    from components.wordpress_app import site_url
    assert site_url("192.0.2.11", 8080) == "http://192.0.2.11:8080/"
    assert site_url("192.0.2.11", 80) == "http://192.0.2.11/"


@pytest.mark.parametrize("host_count,total", [(1, 23), (3, 29), (5, 35)])
def test_resource_counts(program, host_count, total):
    run = program(host_count=host_count)
    # 20 that do not depend on the host count: provider, network, 5 secrets, haproxy config,
    # 4 services, the lookup of WordPress's nodes (host mode), the two password rotation steps,
    # the two certificate commands and their three secrets;
    # the swarm's commands grow with hosts.
    assert len(run.mocks.of_type(SERVICE)) == 4
    assert len(run.mocks.custom()) == total
    components = sorted(r.typ for r in run.mocks.resources if not r.custom)
    assert components == [f"galera-swarm:index:{c}" for c in (
        "ClusterCertificates", "EtcdDiscovery", "GaleraLoadBalancer", "GaleraService", "OverlayNetwork", "PasswordRotation",
        "SwarmCluster", "WordPressApp")]


def test_bad_config_stops_the_program_before_any_resource(key_path):
    mocks = SwarmMocks()
    with pytest.raises(Exception) as err:
        run_program(stack_config(key_path, galera={"replicas": 2}), mocks=mocks)
    assert "galera-swarm:galera.replicas: 2 nodes cannot keep quorum" in str(err.value)
    assert mocks.resources == []


def test_missing_key_file_is_reported_before_any_resource(tmp_path):
    mocks = SwarmMocks()
    with pytest.raises(Exception) as err:
        run_program(stack_config(tmp_path / "absent"), mocks=mocks)
    assert f"galera-swarm:ssh.privateKeyPath: no file at {tmp_path / 'absent'}" in str(err.value)
    assert mocks.resources == []

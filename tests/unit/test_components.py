"""The rules the components own: the load balancer's capacity and its rendered haproxy.cfg,
the order of a password rotation, the docker provider given once through `opts`."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re

import pytest
from pulumi.runtime import mocks as mock_runtime

from components.cluster_certificates import tls_env
from components.galera_service import CLUSTER_SIZE_TEMPLATE, galera_env
from components.haproxy_config import HAPROXY_DEFAULTS, render_haproxy_config
from components.load_balancer import server_slots
from tests.unit.conftest import ROOT
from tests.unit.test_program import env_of, services


@pytest.mark.parametrize("galera_replicas,host_count,slots", [
    (1, 1, 3),   # room to scale a test setup to 3
    (3, 3, 5),   # the default: two spare slots
    (3, 5, 5),
    (3, 7, 7),   # Galera may be scaled onto every host (one task each)
    (5, 5, 7),
])
def test_load_balancer_keeps_a_server_slot_per_possible_galera_node(galera_replicas, host_count, slots):
    assert server_slots(galera_replicas, host_count) == slots


def test_load_balancer_capacity_refuses_an_empty_cluster():
    with pytest.raises(ValueError, match="galera_replicas=0, host_count=3"):
        server_slots(0, 3)


def test_haproxy_config_has_one_server_slot_per_possible_galera_node(program):
    run = program(host_count=5)
    (config,) = run.mocks.of_type("docker:index/serviceConfig:ServiceConfig")
    assert "server-template galera 1-5 tasks.mysql-galera:3306" in config.inputs["dataRaw"]
    run = program(host_count=7, galera={"replicas": 3, "serviceName": "db"})
    (config,) = run.mocks.of_type("docker:index/serviceConfig:ServiceConfig")
    assert "server-template galera 1-7 tasks.db:3306" in config.inputs["dataRaw"]


def test_the_image_ships_what_the_default_stack_renders(program):
    # The haproxy image's built-in config (images/build.sh renders HAPROXY_DEFAULTS) is the one
    # a stack with the default Galera service on three hosts mounts.
    (config,) = program().mocks.of_type("docker:index/serviceConfig:ServiceConfig")
    assert config.inputs["dataRaw"] == render_haproxy_config(**HAPROXY_DEFAULTS)


def test_rendered_haproxy_config_checks_each_node_on_its_health_port():
    rendered = render_haproxy_config(**{**HAPROXY_DEFAULTS, "galera_dns": "gsimg-galera", "max_nodes": 4,
                                        "health_port": 9201, "listen_port": 3307, "read_port": 3308})
    assert "    bind :3307\n" in rendered
    assert "default-server check port 9201 " in rendered
    assert "server-template galera 1-4 gsimg-galera:3306" in rendered
    assert "    bind :8404\n" in rendered and "$" not in rendered


@pytest.mark.parametrize("change,message", [
    ({"health_port": 0}, "health_port must be a port from 1 to 65535, got 0"),
    ({"max_nodes": 0}, "max_nodes must be at least 1, got 0"),
    ({"galera_dns": ""}, "galera_dns must name the Galera nodes"),
])
def test_haproxy_config_refuses_bad_values_naming_them(change, message):
    with pytest.raises(ValueError, match=message):
        render_haproxy_config(**{**HAPROXY_DEFAULTS, **change})


def test_wordpress_mounts_the_app_password_only_after_the_cluster_accepts_it(program):
    run = program()
    mocks = run.mocks
    wp_secret = services(run)["wordpress"]["taskSpec"]["containerSpec"]["secrets"][0]
    app_secret = mocks.named("galera-mysql-app-password")
    assert (wp_secret["secretId"], wp_secret["secretName"]) == (f"{app_secret.name}-id", app_secret.outputs["name"])
    assert wp_secret["fileName"] == "/run/secrets/wordpress-db-password"
    # WordPress's service is sent to Docker only after the await-accepted step ran.
    assert mocks.position("passwords-new-passwords-accepted") < mocks.position("app-wordpress")


def test_old_passwords_are_discarded_only_after_galera_and_wordpress_rolled(program):
    mocks = program().mocks
    discard = mocks.position("passwords-discard-old")
    assert discard > mocks.position("galera-mysql-galera")
    assert discard > mocks.position("app-wordpress")


def test_without_wordpress_the_old_passwords_are_discarded_after_galera_rolled(program):
    mocks = program(wordpress={"enabled": False}).mocks
    assert mocks.position("passwords-discard-old") > mocks.position("galera-mysql-galera")
    assert not [r for r in mocks.resources if r.name.startswith("app-")]


def test_every_docker_resource_goes_through_the_swarm_leaders_provider(program):
    mocks = program().mocks
    (provider,) = mocks.of_type("pulumi:providers:docker")
    assert provider.inputs["host"] == "ssh://root@192.0.2.11:22"
    docker_resources = [r for r in mocks.custom() if r.typ.startswith("docker:index/")]
    # network, 7 secrets (2 MariaDB, 2 etcd, 3 TLS), haproxy config, 4 services
    assert len(docker_resources) == 13
    for r in docker_resources:
        assert r.provider is not None and r.provider.split("::")[-2] == "swarm-docker", (r.name, r.provider)


COMPONENT_MODULES = sorted((ROOT / "components").glob("*.py"))


@pytest.mark.parametrize("module", COMPONENT_MODULES, ids=lambda p: p.name)
def test_components_never_read_the_stack_settings(module):
    # Components get what they need as typed args; __main__.py alone maps the settings.
    imported = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    # The stack settings live in galera_swarm.settings (they were components.config).
    assert not {m for m in imported if m == "galera_swarm.settings" or m.startswith("galera_swarm.settings.")}, \
        sorted(imported)


ARGS_CLASSES = ["etcd_discovery.EtcdDiscoveryArgs", "galera_service.GaleraServiceArgs",
                "load_balancer.GaleraLoadBalancerArgs", "overlay_network.OverlayNetworkArgs",
                "password_rotation.PasswordRotationArgs", "swarm_cluster.SwarmClusterArgs",
                "wordpress_app.WordPressAppArgs"]


@pytest.mark.parametrize("qualified", ARGS_CLASSES)
def test_component_args_hold_no_provider_and_no_resource(qualified):
    module_name, class_name = qualified.split(".")
    args_type = getattr(importlib.import_module(f"components.{module_name}"), class_name)
    for field in dataclasses.fields(args_type):
        # The annotation as written (the modules use postponed annotations).
        text = str(field.type)
        assert not re.search(r"\b(Provider|Resource|ComponentResource|\w*Settings|Passwords)\b", text), (field.name, text)


def test_galera_tasks_get_exactly_the_env_of_galera_env(program):
    # The image tests start their nodes with galera_env too: what they prove holds for the stack.
    sent = env_of(services(program(galera={"replicas": 3, "clusterName": "prod", "user": "app"}))["mysql-galera"])
    assert sent == {**galera_env(cluster_name="prod", discovery_endpoint="etcd:2379", peers_dns="tasks.mysql-galera",
                                 cluster_size=CLUSTER_SIZE_TEMPLATE, database="wordpress", user="app"), **tls_env()}
    assert sent == {
        "CLUSTER_NAME": "prod", "DISCOVERY_SERVICE": "etcd:2379", "PEERS_DNS": "tasks.mysql-galera",
        "CLUSTER_SIZE": '{{index .Service.Labels "com.galera-swarm.cluster-size"}}',
        "MYSQL_ROOT_PASSWORD_FILE": "/run/secrets/mysql-root-password",
        "MYSQL_DATABASE": "wordpress", "MYSQL_USER": "app",
        "MYSQL_PASSWORD_FILE": "/run/secrets/mysql-app-password",
        "ETCD_PASSWORD_FILE": "/run/secrets/etcd-galera-password",
        "TLS_CA_FILE": "/run/secrets/galera-tls-ca", "TLS_CERT_FILE": "/run/secrets/galera-tls-cert",
        "TLS_KEY_FILE": "/run/secrets/galera-tls-key"}


def test_the_cluster_size_is_a_service_label_so_scaling_restarts_no_node(program):
    # The task spec (what swarm rolls on a change) is the same for 3 and 5 replicas; only the
    # service's label and replicas differ, and each task renders the label when it starts.
    three, five = (services(program(galera={"replicas": n}, host_count=5))["mysql-galera"] for n in (3, 5))
    assert three["taskSpec"] == five["taskSpec"]
    assert three["labels"] == [{"label": "com.galera-swarm.cluster-size", "value": "3"}]
    assert five["labels"] == [{"label": "com.galera-swarm.cluster-size", "value": "5"}]
    assert (three["mode"]["replicated"]["replicas"], five["mode"]["replicated"]["replicas"]) == (3, 5)


def test_accepted_step_keeps_its_former_urn_under_the_galera_service(program, monkeypatch):
    # Before PasswordRotation owned it, the step was `galera-new-passwords-accepted`, a child of
    # the GaleraService: without an alias, a stack that upgrades and rotates in one `up` would
    # create the new step (a no-op) instead of updating the old one (the wait).
    aliases: dict[str, list] = {}
    register = mock_runtime.MockMonitor.RegisterResource

    def recording(self, request):
        aliases[request.name] = list(request.aliases)
        return register(self, request)

    monkeypatch.setattr(mock_runtime.MockMonitor, "RegisterResource", recording)
    program()
    (alias,) = aliases["passwords-new-passwords-accepted"]
    assert alias.spec.name == "galera-new-passwords-accepted"
    assert alias.spec.parentUrn == "urn:pulumi:unit::galera-swarm::galera-swarm:index:GaleraService::galera"
    assert aliases["passwords-discard-old"] == []


@pytest.mark.parametrize("etcd_replicas, members", [(1, ["etcd"]), (3, ["etcd-1", "etcd-2", "etcd-3"])])
def test_every_etcd_member_compacts_its_history_hourly(program, etcd_replicas, members):
    # The nodes write their records every 2 s: an etcd that kept every revision would reach its
    # quota and refuse writes.
    run = program(etcd={"replicas": etcd_replicas})
    specs = {r.inputs["name"]: r.inputs for r in run.mocks.of_type("docker:index/service:Service")}
    for member in members:
        env = specs[member]["taskSpec"]["containerSpec"]["env"]
        assert (env["ETCD_AUTO_COMPACTION_MODE"], env["ETCD_AUTO_COMPACTION_RETENTION"]) == ("periodic", "1h"), member

"""etcd requires authentication: the stack makes its two passwords swarm secrets, mounts them
into the etcd members (root's and galera's) and galera's into the Galera nodes, and hands
both only as file paths; the forget step gets galera's on stdin."""

from __future__ import annotations

import base64

import pytest

from components.etcd_discovery import GALERA_PASSWORD_FILE, ROOT_PASSWORD_FILE, auth_env
from galera_swarm.settings import ConfigError, parse_settings
from tests.unit.conftest import (NAMESPACE, PASSWORDS, SwarmMocks, is_secret, previous_outputs, resolve, run_program,
                                 secret_input, stack_config)

SERVICE = "docker:index/service:Service"
SECRET = "docker:index/secret:Secret"
SECRET_KEYS = {f"{NAMESPACE}:{k}" for k in PASSWORDS}


def services(run) -> dict:
    return {r.inputs["name"]: r.inputs for r in run.mocks.of_type(SERVICE)}


def secret_value(record) -> str:
    return base64.b64decode(secret_input(record.inputs["data"])).decode()


def mounts(service_inputs: dict) -> dict[str, str]:
    """file name -> secret id of the swarm secrets mounted into a service's tasks."""
    return {s["fileName"]: s["secretId"] for s in service_inputs["taskSpec"]["containerSpec"]["secrets"]}


@pytest.mark.parametrize("etcd_replicas, members", [(1, ["etcd"]), (3, ["etcd-1", "etcd-2", "etcd-3"])])
def test_every_etcd_member_mounts_both_etcd_passwords_as_files(program, etcd_replicas, members):
    run = program(etcd={"replicas": etcd_replicas})
    secrets = {r.name: r for r in run.mocks.of_type(SECRET)}
    root, galera = secrets[f"etcd-{ROOT_PASSWORD_FILE}"], secrets[f"etcd-{GALERA_PASSWORD_FILE}"]
    assert (secret_value(root), secret_value(galera)) == (PASSWORDS["etcdRootPassword"], PASSWORDS["etcdPassword"])
    for member in members:
        spec = services(run)[member]
        assert mounts(spec) == {f"/run/secrets/{ROOT_PASSWORD_FILE}": f"etcd-{ROOT_PASSWORD_FILE}-id",
                                f"/run/secrets/{GALERA_PASSWORD_FILE}": f"etcd-{GALERA_PASSWORD_FILE}-id"}
        env = spec["taskSpec"]["containerSpec"]["env"]
        assert {k: env[k] for k in auth_env()} == {
            "ETCD_ROOT_PASSWORD_FILE": "/run/secrets/etcd-root-password",
            "ETCD_GALERA_PASSWORD_FILE": "/run/secrets/etcd-galera-password"}
        assert not any(pw in value for value in env.values() for pw in PASSWORDS.values())


def test_galera_nodes_log_in_to_etcd_with_the_galera_users_secret_file(program):
    run = program()
    galera = services(run)["mysql-galera"]
    assert mounts(galera)["/run/secrets/etcd-galera-password"] == f"etcd-{GALERA_PASSWORD_FILE}-id"
    assert f"/run/secrets/{ROOT_PASSWORD_FILE}" not in mounts(galera)  # root stays with etcd
    env = galera["taskSpec"]["containerSpec"]["env"]
    assert env["ETCD_PASSWORD_FILE"] == "/run/secrets/etcd-galera-password" and "ETCD_PASSWORD" not in env


def test_the_forget_step_gets_the_etcd_password_on_stdin_only(key_path):
    five = [{"name": f"docker{i}", "address": f"192.0.2.1{i}"} for i in range(1, 6)]
    first = run_program(stack_config(key_path, hosts=five, galera={"replicas": 5}))
    then = run_program(stack_config(key_path, hosts=five[:3], galera={"replicas": 3}),
                       mocks=SwarmMocks(stack_outputs=previous_outputs(first)))
    forget = then.mocks.named("galera-forget-nodes")
    script = forget.inputs["create"]
    assert "docker run --rm -i " in script and "-e ETCD_PASSWORD_FILE=/dev/stdin" in script
    assert sorted(script.rstrip().rsplit(" forget ", 1)[1].split()) == ["mysql-galera-docker4", "mysql-galera-docker5"]
    assert secret_input(forget.inputs["stdin"]) == PASSWORDS["etcdPassword"]
    assert not any(pw in script for pw in PASSWORDS.values())


def problems_of(config: dict, secret_keys=SECRET_KEYS) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_settings(config, secret_keys)
    return err.value.problems


@pytest.mark.parametrize("key", ["etcdRootPassword", "etcdPassword"])
def test_etcd_passwords_are_required(key_path, key):
    config = stack_config(key_path)
    del config[key]
    assert problems_of(config) == [
        f"galera-swarm:{key}: missing; set it with `pulumi config set --secret galera-swarm:{key} <password>`"]


@pytest.mark.parametrize("key", ["etcdRootPassword", "etcdPassword"])
def test_etcd_passwords_in_plain_text_are_refused(key_path, key):
    assert problems_of(stack_config(key_path), SECRET_KEYS - {f"{NAMESPACE}:{key}"}) == [
        f"galera-swarm:{key}: is stored in plain text; store it encrypted with "
        f"`pulumi config set --secret galera-swarm:{key} <password>`"]


@pytest.mark.parametrize("key", ["etcdRootPassword", "etcdPassword"])
def test_etcd_passwords_with_white_space_are_refused(key_path, key):
    assert problems_of(stack_config(key_path, **{key: "two words"})) == [
        f"galera-swarm:{key}: holds white space, which etcdctl 3.4 cuts a password at; use a password "
        f"without spaces: `pulumi config set --secret galera-swarm:{key} <password>`"]


def test_mariadb_passwords_may_still_hold_spaces(key_path):
    s = parse_settings(stack_config(key_path, rootPassword="two words"), SECRET_KEYS)
    assert resolve(s.passwords.root) == "two words"
    assert is_secret(s.passwords.etcd) and resolve(s.passwords.etcd) == PASSWORDS["etcdPassword"]
    assert is_secret(s.passwords.etcd_root) and resolve(s.passwords.etcd_root) == PASSWORDS["etcdRootPassword"]

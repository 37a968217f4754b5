"""Stack configuration: read once, validated once, handed to components as typed objects.

`parse_settings` is pure (a mapping of keys to values plus the set of keys stored as secrets),
so every rule is unit-testable without a Pulumi engine. `load_settings` feeds it from the
stack's `galera-swarm:*` config. Every problem is collected and reported together; each line
names the key and says how to fix it, and nothing has been created when it is raised.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping, Optional, Sequence

import pulumi

NAMESPACE = "galera-swarm"

ENDPOINT_MODES = ("vip", "dnsrr")
PUBLISH_MODES = ("ingress", "host")
ROLES = ("manager", "worker")
AVAILABILITIES = ("active", "pause", "drain")
PASSWORD_KEYS = ("rootPassword", "appPassword")
# Read by earlier versions: state transfers now log in through unix_socket, without a password.
RETIRED_KEYS = ("sstPassword",)

# Every top-level key this program reads; anything else is most likely a typo.
KNOWN_KEYS = frozenset(
    {
        "hosts",
        "ssh",
        "network",
        "endpointMode",
        "publishMode",
        "images",
        "etcd",
        "galera",
        "loadBalancer",
        "wordpress",
        *PASSWORD_KEYS,
        *RETIRED_KEYS,
    }
)

_HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmg]?)b?$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class ConfigError(ValueError):
    """Raised with every configuration problem found, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    role: str = "manager"
    availability: str = "active"
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


def leader_of(hosts: Sequence[Host]) -> Host:
    """The host that initialises the swarm: the first manager listed."""
    return next(h for h in hosts if h.is_manager)


def etcd_member_hosts(hosts: Sequence[Host], replicas: int) -> list[str]:
    """The name of the host each etcd member runs on, member 1 first: active managers in the
    order listed (the leader first), round robin. A member stays on its host because its data
    is a local volume there; moved elsewhere it would start empty and forget the cluster."""
    candidates = [h.name for h in hosts if h.is_manager and h.availability == "active"] \
        or [h.name for h in hosts]
    return [candidates[i % len(candidates)] for i in range(replicas)]


@dataclass(frozen=True)
class SshSettings:
    user: str
    private_key_path: str
    port: int = 22
    # Lab hosts are re-created with new host keys; real hosts should be in known_hosts.
    ignore_host_key: bool = False


@dataclass(frozen=True)
class NetworkSettings:
    name: str = "mynet"
    subnet: Optional[str] = None


@dataclass(frozen=True)
class EtcdSettings:
    image: str
    replicas: int = 1
    publish: bool = False


@dataclass(frozen=True)
class GaleraSettings:
    image: str
    service_name: str = "mysql-galera"
    replicas: int = 3
    cluster_name: str = "galera"
    database: str = "wordpress"
    user: str = "wordpress"
    cpus: Optional[float] = None
    memory_bytes: Optional[int] = None
    publish_port: Optional[int] = None
    constraints: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadBalancerSettings:
    image: str
    enabled: bool = True
    service_name: str = "galera-lb"
    replicas: int = 2
    port: int = 3306
    publish: bool = False


@dataclass(frozen=True)
class WordPressSettings:
    image: str
    enabled: bool = True
    service_name: str = "wordpress"
    replicas: int = 2
    port: int = 80


@dataclass(frozen=True)
class Passwords:
    root: pulumi.Output[str]
    app: pulumi.Output[str]


@dataclass(frozen=True)
class StackSettings:
    hosts: tuple[Host, ...]
    ssh: SshSettings
    network: NetworkSettings
    endpoint_mode: str
    publish_mode: str
    etcd: EtcdSettings
    galera: GaleraSettings
    load_balancer: LoadBalancerSettings
    wordpress: WordPressSettings
    passwords: Passwords
    warnings: tuple[str, ...] = ()

    @property
    def leader(self) -> Host:
        return leader_of(self.hosts)


class _Reader:
    """Typed access to raw config values that records problems instead of raising."""

    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw
        self.problems: list[str] = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{NAMESPACE}:{key}: {message}")

    def section(self, key: str) -> Mapping[str, Any]:
        value = self.raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, f"must be an object, got {type(value).__name__}")
            return {}
        return value

    def string(self, section: Mapping[str, Any], path: str, key: str, default: Optional[str]) -> Optional[str]:
        value = section.get(key, default)
        if value is None or isinstance(value, str) and value:
            return value
        self.fail(path, f"must be a non-empty string, got {value!r}")
        return default

    def integer(self, section: Mapping[str, Any], path: str, key: str, default: Optional[int],
                low: int, high: int) -> Optional[int]:
        value = section.get(key, default)
        if value is None:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(path, f"must be a whole number from {low} to {high}, got {value!r}")
            return default
        return value

    def boolean(self, section: Mapping[str, Any], path: str, key: str, default: bool) -> bool:
        value = section.get(key, default)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {value!r}")
            return default
        return value

    def choice(self, section: Mapping[str, Any], path: str, key: str, default: str,
               allowed: Collection[str]) -> str:
        value = section.get(key, default)
        if value not in allowed:
            self.fail(path, f"unknown value {value!r}; use one of: {', '.join(allowed)}")
            return default
        return value


def _valid_address(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
        return True
    except ValueError:
        pass
    # A dotted all-numeric string that is not an IP (10.0.0.300) is a typo, not a DNS name.
    if re.fullmatch(r"[\d.]+", address):
        return False
    return bool(_DNS_NAME.match(address))


def _parse_hosts(r: _Reader) -> tuple[Host, ...]:
    raw_hosts = r.raw.get("hosts")
    if not raw_hosts:
        r.fail("hosts", "no hosts configured; list at least one Docker host, e.g. "
               "`- {name: docker1, address: 192.0.2.11}`")
        return ()
    if not isinstance(raw_hosts, list):
        r.fail("hosts", f"must be a list of hosts, got {type(raw_hosts).__name__}")
        return ()

    hosts: list[Host] = []
    for i, item in enumerate(raw_hosts):
        path = f"hosts[{i}]"
        if not isinstance(item, Mapping):
            r.fail(path, f"must be an object with name and address, got {item!r}")
            continue
        name = r.string(item, f"{path}.name", "name", None)
        address = r.string(item, f"{path}.address", "address", None)
        if name is None:
            r.fail(f"{path}.name", "missing; give every host a name (its swarm node name)")
        elif not _HOST_NAME.match(name):
            r.fail(f"{path}.name", f"{name!r} is not a valid host name (letters, digits, '-')")
        if address is None:
            r.fail(f"{path}.address", "missing; give the IP address or DNS name SSH reaches")
        elif not _valid_address(address):
            r.fail(f"{path}.address", f"{address!r} is not an IP address or DNS name")
        role = r.choice(item, f"{path}.role", "role", "manager", ROLES)
        availability = r.choice(item, f"{path}.availability", "availability", "active", AVAILABILITIES)
        labels = item.get("labels") or {}
        if not isinstance(labels, Mapping) or not all(
            isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in labels.items()
        ):
            r.fail(f"{path}.labels", "must map label names to plain values")
            labels = {}
        if name and address:
            hosts.append(Host(name, address, role, availability,
                              {k: str(v) for k, v in labels.items()}))

    for attr in ("name", "address"):
        seen: set[str] = set()
        for h in hosts:
            value = getattr(h, attr)
            if value in seen:
                r.fail("hosts", f"duplicate {attr} {value!r}; every host needs its own {attr}")
            seen.add(value)

    managers = sum(h.is_manager for h in hosts)
    if hosts and managers == 0:
        r.fail("hosts", "no manager; set `role: manager` on at least one host "
               "(the first manager initialises the swarm)")
    elif managers % 2 == 0 and managers:
        r.fail("hosts", f"{managers} managers is an even count, which tolerates no more failures "
               f"than {managers - 1}; use an odd number of managers (1, 3, 5) for Raft quorum")
    return tuple(hosts)


def _parse_ssh(r: _Reader) -> SshSettings:
    s = r.section("ssh")
    key_path = r.string(s, "ssh.privateKeyPath", "privateKeyPath", None)
    if key_path is None:
        r.fail("ssh.privateKeyPath", "missing; set the path of the SSH private key that logs in "
               "to every host (the docker provider and the swarm commands both use it)")
        key_path = ""
    return SshSettings(
        user=r.string(s, "ssh.user", "user", "root"),
        private_key_path=key_path,
        port=r.integer(s, "ssh.port", "port", 22, 1, 65535),
        ignore_host_key=r.boolean(s, "ssh.ignoreHostKey", "ignoreHostKey", False),
    )


def _parse_memory(r: _Reader, value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = _MEMORY.match(str(value).strip())
    if not m or float(m.group(1)) <= 0:
        r.fail("galera.memory", f"{value!r} is not a memory size; use bytes or a size like 512m or 2g")
        return None
    return int(float(m.group(1)) * _MEMORY_UNITS[m.group(2).lower()])


def _parse_cpus(r: _Reader, value: Any) -> Optional[float]:
    if value is None:
        return None
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        cpus = math.nan
    if not cpus > 0 or isinstance(value, bool):
        r.fail("galera.cpus", f"{value!r} is not a CPU count; use a positive number like 0.5 or 2")
        return None
    return cpus


def _image_default(r: _Reader) -> Callable[[str], str]:
    """Default image reference for each service, from `images.prefix` and `images.tag` (read
    once, so a bad value is reported once)."""
    images = r.section("images")
    prefix = r.string(images, "images.prefix", "prefix", "galera-swarm")
    tag = r.string(images, "images.tag", "tag", "dev")
    return lambda name: f"{prefix}/{name}:{tag}"


_CONSTRAINT = re.compile(r"^\s*node\.(labels\.[\w.-]+|hostname|role)\s*(==|!=)\s*(\S+)\s*$")


def _allowed(host: Host, constraints: list[str]) -> bool:
    """Whether swarm may place a task on `host`, for the constraints that name config facts
    (node.labels.*, node.hostname, node.role); others cannot be judged here and pass."""
    for constraint in constraints:
        m = _CONSTRAINT.match(constraint)
        if not m:
            continue
        attr, op, expected = m.groups()
        if attr.startswith("labels."):
            actual = host.labels.get(attr[len("labels."):])
        else:
            actual = host.name if attr == "hostname" else host.role
        if (actual == expected) != (op == "=="):
            return False
    return True


def _parse_galera(r: _Reader, hosts: tuple[Host, ...], image: str, warnings: list[str]) -> GaleraSettings:
    s = r.section("galera")
    replicas = r.integer(s, "galera.replicas", "replicas", 3, 1, 99)
    if replicas == 2:
        r.fail("galera.replicas", "2 nodes cannot keep quorum when one fails (the survivor "
               "stops serving); use 1 for a test setup or 3 or more")
    elif replicas % 2 == 0:
        warnings.append(f"{NAMESPACE}:galera.replicas is {replicas}, an even count: a network split "
                        f"into two halves leaves no Primary component; prefer an odd count")

    constraints = s.get("constraints", [])
    if not isinstance(constraints, list) or not all(isinstance(c, str) for c in constraints):
        r.fail("galera.constraints", "must be a list of swarm placement constraints, "
               "e.g. ['node.labels.db == true']")
        constraints = []

    # One task per node, so every task needs an active node of its own that the placement
    # constraints allow.
    eligible = [h for h in hosts if h.availability == "active" and _allowed(h, constraints)]
    if hosts and replicas > len(eligible):
        where = " matching galera.constraints" if constraints else ""
        r.fail("galera.replicas", f"{replicas} replicas with at most one per node need {replicas} "
               f"active hosts{where}, but only {len(eligible)} are configured; lower "
               f"galera.replicas or add hosts")

    publish_port = r.integer(s, "galera.publishPort", "publishPort", None, 1, 65535)
    return GaleraSettings(
        image=r.string(s, "galera.image", "image", image),
        service_name=r.string(s, "galera.serviceName", "serviceName", "mysql-galera"),
        replicas=replicas,
        cluster_name=r.string(s, "galera.clusterName", "clusterName", "galera"),
        database=r.string(s, "galera.database", "database", "wordpress"),
        user=r.string(s, "galera.user", "user", "wordpress"),
        cpus=_parse_cpus(r, s.get("cpus")),
        memory_bytes=_parse_memory(r, s.get("memory")),
        publish_port=publish_port,
        constraints=tuple(constraints),
    )


def _parse_passwords(r: _Reader, secret_keys: Collection[str]) -> Passwords:
    values: dict[str, pulumi.Output[str]] = {}
    for key in PASSWORD_KEYS:
        full_key = f"{NAMESPACE}:{key}"
        value = r.raw.get(key)
        if value is None or value == "":
            r.fail(key, f"missing; set it with `pulumi config set --secret {full_key} <password>`")
        elif full_key not in secret_keys:
            r.fail(key, "is stored in plain text; store it encrypted with "
                   f"`pulumi config set --secret {full_key} <password>`")
        elif not isinstance(value, str):
            r.fail(key, "must be a string")
        elif not value.isprintable():
            # The image reads a password file's first line and the rotation steps read one
            # password per line; MariaDB takes any printable character (see images/README.md).
            r.fail(key, "holds a line break or another non-printable character; use printable characters "
                   f"only: `pulumi config set --secret {full_key} <password>`")
        values[key] = pulumi.Output.secret(value if isinstance(value, str) else "")
    return Passwords(values["rootPassword"], values["appPassword"])


def parse_settings(raw: Mapping[str, Any], secret_keys: Collection[str] = ()) -> StackSettings:
    """Validate raw stack config (key -> value, keys without namespace) into StackSettings.

    `secret_keys` holds the full keys (`galera-swarm:rootPassword`) stored encrypted.
    Raises ConfigError listing every problem.
    """
    r = _Reader(raw)
    warnings: list[str] = []
    for key in sorted(set(raw) - KNOWN_KEYS):
        r.fail(key, f"unknown key; known keys are: {', '.join(sorted(KNOWN_KEYS))}")

    hosts = _parse_hosts(r)
    ssh = _parse_ssh(r)
    net = r.section("network")
    subnet = r.string(net, "network.subnet", "subnet", None)
    if subnet is not None:
        try:
            ipaddress.ip_network(subnet)
        except ValueError:
            r.fail("network.subnet", f"{subnet!r} is not a CIDR subnet like 10.20.0.0/24")
    network = NetworkSettings(r.string(net, "network.name", "name", "mynet"), subnet)

    endpoint_mode = r.choice(r.raw, "endpointMode", "endpointMode", "vip", ENDPOINT_MODES)
    publish_mode = r.choice(r.raw, "publishMode", "publishMode", "ingress", PUBLISH_MODES)
    if endpoint_mode == "dnsrr" and publish_mode == "ingress":
        r.fail("publishMode", "ingress publishing needs a virtual IP; with endpointMode dnsrr "
               "set publishMode to host")

    default_image = _image_default(r)
    e = r.section("etcd")
    etcd = EtcdSettings(
        image=r.string(e, "etcd.image", "image", default_image("etcd")),
        replicas=r.integer(e, "etcd.replicas", "replicas", 1, 1, 9),
        publish=r.boolean(e, "etcd.publish", "publish", False),
    )
    if etcd.replicas not in (1, 3, 5):
        r.fail("etcd.replicas", f"{etcd.replicas} etcd members; use 1, or 3 / 5 for a "
               "quorum that survives failures")

    galera = _parse_galera(r, hosts, default_image("galera"), warnings)

    lb = r.section("loadBalancer")
    load_balancer = LoadBalancerSettings(
        image=r.string(lb, "loadBalancer.image", "image", default_image("haproxy")),
        enabled=r.boolean(lb, "loadBalancer.enabled", "enabled", True),
        service_name=r.string(lb, "loadBalancer.serviceName", "serviceName", "galera-lb"),
        replicas=r.integer(lb, "loadBalancer.replicas", "replicas", 2, 1, 99),
        port=r.integer(lb, "loadBalancer.port", "port", 3306, 1, 65535),
        publish=r.boolean(lb, "loadBalancer.publish", "publish", False),
    )
    if endpoint_mode == "dnsrr" and not load_balancer.enabled:
        r.fail("loadBalancer.enabled", "endpointMode dnsrr has no virtual IP to spread "
               "connections; keep the load balancer enabled (true) or use endpointMode vip")
    active_hosts = sum(h.availability == "active" for h in hosts)
    lb_host_ports = load_balancer.enabled and load_balancer.publish and publish_mode == "host"
    if lb_host_ports and hosts and load_balancer.replicas > active_hosts:
        r.fail("loadBalancer.replicas", f"{load_balancer.replicas} replicas publishing port "
               f"{load_balancer.port} in host mode need as many active hosts; "
               f"only {active_hosts} are configured")

    wp = r.section("wordpress")
    wordpress = WordPressSettings(
        image=r.string(wp, "wordpress.image", "image", default_image("wordpress")),
        enabled=r.boolean(wp, "wordpress.enabled", "enabled", True),
        service_name=r.string(wp, "wordpress.serviceName", "serviceName", "wordpress"),
        replicas=r.integer(wp, "wordpress.replicas", "replicas", 2, 1, 99),
        port=r.integer(wp, "wordpress.port", "port", 80, 1, 65535),
    )
    if wordpress.enabled and publish_mode == "host" and hosts and wordpress.replicas > active_hosts:
        r.fail("wordpress.replicas", f"{wordpress.replicas} replicas publishing port "
               f"{wordpress.port} in host mode need as many active hosts; "
               f"only {active_hosts} are configured")

    passwords = _parse_passwords(r, secret_keys)
    for key in RETIRED_KEYS:
        if key in r.raw:
            warnings.append(f"{NAMESPACE}:{key} is no longer used (state transfers log in through "
                            f"unix_socket, without a password); remove it with "
                            f"`pulumi config rm {NAMESPACE}:{key}`")

    if r.problems:
        raise ConfigError(r.problems)
    return StackSettings(hosts, ssh, network, endpoint_mode, publish_mode, etcd, galera,
                         load_balancer, wordpress, passwords, tuple(warnings))


def load_settings() -> StackSettings:
    """Read the stack's `galera-swarm:*` config through the Pulumi engine and validate it."""
    from pulumi.runtime import config as runtime_config

    prefix = f"{NAMESPACE}:"
    # The engine hands config to the program in-process or through PULUMI_CONFIG; list both
    # so an unknown (mistyped) key is reported rather than silently ignored.
    present = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for full_key in sorted(present):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix):]
        text = config.get(key)
        if key in PASSWORD_KEYS or key in RETIRED_KEYS or text is None:
            raw[key] = text
            continue
        try:
            raw[key] = json.loads(text)
        except ValueError:  # a plain word such as `dnsrr`
            raw[key] = text
    secret_keys = {k for k in present if pulumi.runtime.is_config_secret(k)}
    return parse_settings(raw, secret_keys)

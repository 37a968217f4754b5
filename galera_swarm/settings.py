"""Stack configuration as one schema: each key's type, default, range and meaning, once.

`StackSettings` is the schema of the `galera-swarm:*` keys (pydantic v2 models; camelCase on
the wire, unknown keys refused at every level). `parse_settings` validates a mapping of keys to
values (plus the set of keys stored as secrets) and needs no Pulumi engine; `load_settings`
feeds it from the stack through the public `pulumi.Config` API. Every problem is collected and
raised together as `ConfigError`, one line per problem in the form
`galera-swarm:<key>: what is wrong; the fix`, before anything is created.

Rules that the images or Docker enforce at run time are checked here first, at preview; each
says where it comes from, and the image keeps its own check as a second line of defence.

`python -m galera_swarm.settings --markdown-table` prints README's configuration table.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import difflib
import ipaddress
import math
import re
import socket
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Callable, Collection, Literal, Mapping, Optional, Sequence, Union, get_args

import pulumi
from croniter import croniter
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr,
                      SecretStr, ValidationError, ValidationInfo, field_validator, model_validator)
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from components import etcd_discovery, swarm_cluster
from components.remote import host_port  # noqa: F401  (the one rule, re-exported for callers of settings)
from galera_swarm import placement

NAMESPACE = "galera-swarm"
PASSWORD_KEYS = ("rootPassword", "appPassword", "etcdRootPassword", "etcdPassword")
# Keys read only as plain text: a password is never parsed as JSON ("123" stays a string).
_TEXT_KEYS = (*PASSWORD_KEYS, "sstPassword", "endpointMode", "publishMode")
# Close enough to be a typo of a known key (difflib's ratio); "galeraReplicas" (0.6 to
# "galera") is a flattened `galera.replicas`, not a misspelt `galera`.
_SUGGEST_CUTOFF = 0.7
_INT64_MAX = 2**63 - 1
# Go's int on every platform (restic's --keep-* flags are ints).
_GO_INT_MAX = 2**31 - 1


class ConfigError(ValueError):
    """Raised with every configuration problem found, one per line (`problems`)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems)
        )


# ------------------------------------------------------------------ problems in our form
_PROBLEM = "galera_swarm"


def problem(message: str, *more: tuple[Optional[str], str], key: Optional[str] = None) -> PydanticCustomError:
    """A validation failure in our words. `key` (full dotted key) overrides where pydantic
    found it (for rules between fields); `more` adds further (key, message) problems."""
    return PydanticCustomError(_PROBLEM, "{message}",
                               {"message": message, "problems": [(key, message), *more]})


_Found = list[tuple[Optional[str], str]]  # (full key, message) pairs of rules between sections


def _raise_all(found: _Found) -> None:
    """Raise every problem found by a rule between sections at once (None: the field's own key)."""
    if found:
        raise problem(found[0][1], *found[1:], key=found[0][0])


def _path(loc: Sequence[Union[str, int]]) -> str:
    """('hosts', 2, 'address') -> 'hosts[2].address'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _model_of(annotation: Any) -> Optional[type[BaseModel]]:
    """The model inside Optional[...], list[...], tuple[...] or Annotated[...], if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        model = _model_of(arg)
        if model is not None:
            return model
    return None


def _by_alias(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {f.alias or name: f for name, f in model.model_fields.items()}


def _walk(loc: Sequence[Union[str, int]]) -> tuple[Optional[type[BaseModel]], Optional[FieldInfo]]:
    """The model that holds the last key of `loc`, and that key's field (None if unknown)."""
    model: Optional[type[BaseModel]] = StackSettings
    field: Optional[FieldInfo] = None
    keys = [p for p in loc if isinstance(p, str)]
    for i, key in enumerate(keys):
        if model is None:
            return None, None
        field = _by_alias(model).get(key)
        if i == len(keys) - 1:
            return model, field
        if field is None:
            return None, None
        model = _model_of(field.annotation)
    return model, field


def _reword(error: Mapping[str, Any]) -> list[str]:
    """One pydantic error as our problem lines."""
    loc, kind, ctx = error["loc"], error["type"], error.get("ctx") or {}
    path = _path(loc)
    if kind == _PROBLEM:
        return [f"{NAMESPACE}:{key or path}: {message}" for key, message in ctx["problems"]]
    if kind == "missing":
        _, field = _walk(loc)
        extra = field.json_schema_extra if field is not None and isinstance(field.json_schema_extra, dict) else {}
        return [f"{NAMESPACE}:{path}: {extra.get('missing', 'missing; set it')}"]
    if kind == "extra_forbidden":
        model, _ = _walk(loc)
        known = sorted(_by_alias(model)) if model is not None else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=_SUGGEST_CUTOFF)
        fix = f"did you mean {close[0]!r}?" if close else f"known keys are: {', '.join(known)}"
        return [f"{NAMESPACE}:{path}: unknown key; {fix}"]
    got = type(error.get("input")).__name__
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return [f"{NAMESPACE}:{path}: must be an object, got {got}"]
    if kind in ("list_type", "tuple_type"):
        return [f"{NAMESPACE}:{path}: must be a list, got {got}"]
    # Anything else in pydantic's words, without the value (it may be a secret).
    return [f"{NAMESPACE}:{path}: {error['msg']}"]


# ------------------------------------------------------------------ value types
@dataclass(frozen=True)
class Wire:
    """How a value type is written in the stack file, for README's table."""
    kind: str


def _non_empty_string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise problem(f"must be a non-empty string, got {value!r}")
    return value


Text = Annotated[str, BeforeValidator(_non_empty_string), Wire("string")]


def _matching(pattern: str, rule: str, max_length: Optional[int] = None) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value) or (max_length is not None and len(value) > max_length):
            raise problem(f"{value!r} {rule}")
        return value
    return AfterValidator(check)


def _flag(value: Any) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise problem(f"must be true or false, got {value!r}")
    return value


Flag = Annotated[bool, BeforeValidator(_flag), Wire("bool")]


def WholeNumber(low: int, high: int) -> Any:
    """An int from `low` to `high`; digit strings count (a stack file may quote them), bools
    and fractions do not."""
    def check(value: Any) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise problem(f"must be a whole number from {low} to {high}, got {value!r}")
        return value
    return Annotated[int, BeforeValidator(check), Wire(f"int {low}–{high}")]


def Choice(*allowed: str) -> Any:
    def check(value: Any) -> str:
        if value not in allowed:
            raise problem(f"unknown value {value!r}; use one of: {', '.join(allowed)}")
        return value
    return Annotated[Literal[allowed], BeforeValidator(check), Wire("\\|".join(f"`{a}`" for a in allowed))]


# TCP port numbers (published ports, SSH).
Port = WholeNumber(1, 65535)
Replicas = WholeNumber(1, 99)

# A swarm node name, which is also how hosts are told apart in the program (RFC 1123 label).
HostName = Annotated[Text, _matching(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
                                     "is not a valid host name (letters, digits, '-')")]

# Swarm's name rule for services and networks (swarmkit manager/controlapi validateAnnotations:
# `^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`, 63 characters at most); swarm refuses others at create.
SwarmName = Annotated[Text, _matching(
    r"[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*",
    "is not a name swarm accepts for a service or network: letters and digits, '-' and '_' "
    "between them, at most 63 characters", max_length=63), Wire("swarm name")]

# images/galera/galera-entrypoint.sh refuses other CLUSTER_NAMEs (also the etcd key prefix).
CLUSTER_NAME_PATTERN = r"[A-Za-z0-9_.-]+"
ClusterName = Annotated[Text, _matching(
    CLUSTER_NAME_PATTERN, "may hold only letters, digits, '.', '_' and '-' (the Galera image's "
    "rule for CLUSTER_NAME, also its etcd key prefix)")]

# images/galera/galera-entrypoint.sh and galera-passwords.sh refuse other MYSQL_DATABASEs;
# MariaDB allows 64 characters in a database name.
DATABASE_PATTERN = r"[A-Za-z0-9_$-]+"
DatabaseName = Annotated[Text, _matching(
    DATABASE_PATTERN, "may hold only letters, digits, '_', '$' and '-' (the Galera image's "
    "rule for MYSQL_DATABASE), at most 64 characters", max_length=64)]


def _application_user(value: str) -> str:
    # MariaDB user names are at most 80 characters (mysql.global_priv.User is char(80)).
    # agent/credentials (galera-agent) gives MYSQL_USER@'%' the application password, so
    # `root` would turn root@'%' into the application account.
    if value == "root":
        raise problem("'root' is the administrator; give the application its own user, e.g. wordpress")
    if not value.isprintable() or len(value) > 80:
        raise problem(f"{value!r} is not a MariaDB user name (printable characters, at most 80)")
    return value


DatabaseUser = Annotated[Text, AfterValidator(_application_user)]

# A Docker image reference (distribution/reference's grammar): [host[:port]/]path[:tag][@digest].
_DOMAIN = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
# Docker's tag rule (distribution/reference `[\w][\w.-]{0,127}`, ASCII), as images/build.sh
# writes it for --tag.
TAG_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_REPOSITORY = f"(?:{_DOMAIN}/)?{_PATH}"

ImagePrefix = Annotated[Text, _matching(
    _REPOSITORY, "is not a Docker repository prefix like registry.example.com:5000/galera-swarm "
    "(lowercase path components)")]
ImageTag = Annotated[Text, _matching(
    TAG_PATTERN, "is not a valid Docker tag: letters, digits, '_', '.' and '-', not first '.' or "
    "'-', at most 128 characters"), Wire("Docker tag")]
ImageReference = Annotated[Text, _matching(
    f"{_REPOSITORY}(?::{TAG_PATTERN})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{{32,}})?",
    "is not a Docker image reference like registry.example.com/galera-swarm/galera:1.0"), Wire("image")]


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _address(value: str, info: ValidationInfo) -> str:
    """An IP literal (v4 or v6) or a DNS name: what SSH reaches. With a `resolve` callable in
    the validation context (load_settings passes one), a DNS name is resolved here, once, to the
    IP literal swarm needs (`docker swarm init/join --advertise-addr` refuse names)."""
    if _is_ip(value):
        return value
    # A dotted all-numeric string that is not an IP (10.0.0.300) is a typo, not a DNS name.
    if re.fullmatch(r"[\d.]+", value) or not _DNS_NAME.fullmatch(value):
        raise problem(f"{value!r} is not an IP address or DNS name")
    context = info.context or {}
    resolve = context.get("resolve")
    if resolve is not None:
        try:
            context.setdefault("resolved", {})[value] = resolve(value)
        except OSError as err:
            raise problem(f"{value!r} does not resolve ({err.strerror or err}); use the host's IP "
                          "address, or fix its DNS record") from None
    return value


def resolve_address(name: str) -> str:
    """The first IP address a DNS name resolves to (IPv4 first, as swarm's default pool is v4).
    Raises OSError (socket.gaierror) when it does not resolve."""
    infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    infos.sort(key=lambda i: i[0] != socket.AF_INET)
    return str(infos[0][4][0])


_DNS_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
Address = Annotated[Text, AfterValidator(_address), Wire("IP or DNS name")]


def parse_key_line(line: str) -> Optional[tuple[str, str]]:
    """(type, base64 blob) of an SSH public key line `TYPE BASE64 [comment]` (authorized_keys
    and known_hosts write keys so) whose blob is valid base64 and names the same type inside
    (RFC 4253 6.6: the blob starts with the type as an SSH string); None otherwise."""
    parts = line.split()
    if len(parts) < 2:
        return None
    key_type, blob = parts[0], parts[1]
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None
    length = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    if raw[4:4 + length].decode("ascii", "replace") != key_type:
        return None
    return key_type, blob


def _public_key(value: str) -> str:
    if parse_key_line(value) is None:
        raise problem(f"{value!r} is not an SSH public key line like 'ssh-ed25519 AAAAC3Nz...' (what "
                      "`ssh-keyscan -t ed25519 HOST` prints after the host name, or the host's "
                      "/etc/ssh/ssh_host_ed25519_key.pub)")
    return value


PublicKey = Annotated[Text, AfterValidator(_public_key), Wire("public key")]


def _subnet(value: str) -> str:
    try:
        ipaddress.ip_network(value)
    except ValueError:
        raise problem(f"{value!r} is not a CIDR subnet like 10.20.0.0/24") from None
    return value


Subnet = Annotated[Text, AfterValidator(_subnet), Wire("CIDR")]


def _labels(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in value.items()):
        raise problem("must map label names to plain values")
    return {k: str(v) for k, v in value.items()}


Labels = Annotated[Mapping[str, str], BeforeValidator(_labels), Wire("map")]


def _cpus(value: Any) -> float:
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        cpus = math.nan
    if isinstance(value, bool) or not cpus > 0:
        raise problem(f"{value!r} is not a CPU count; use a positive number like 0.5 or 2")
    if math.isinf(cpus):
        raise problem(f"{value!r} is not a finite CPU count; use a number like 0.5 or 2")
    # Docker refuses NanoCPUs below 0.01 CPU (moby daemon: "Range of CPUs is from 0.01 to ...").
    if cpus < 0.01:
        raise problem(f"{value!r} is below Docker's smallest CPU limit, 0.01")
    return cpus


Cpus = Annotated[float, BeforeValidator(_cpus), Wire("number ≥ 0.01")]

_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmg]?)b?$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _memory(value: Any) -> int:
    """Bytes, from an int or a size like 512m / 2g (binary units, as docker's --memory)."""
    size: Optional[int] = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value if value > 0 else None
    elif isinstance(value, str):
        m = _MEMORY.match(value.strip())
        if m and float(m.group(1)) > 0:
            size = int(float(m.group(1)) * _MEMORY_UNITS[m.group(2).lower()])
    if size is None:
        raise problem(f"{value!r} is not a memory size; use bytes or a size like 512m or 2g")
    if size > _INT64_MAX:  # the swarm API's MemoryBytes is an int64
        raise problem(f"{value!r} is larger than Docker can limit (2^63 - 1 bytes)")
    return size


Memory = Annotated[int, BeforeValidator(_memory), Wire("size")]


# Swarm's constraint form (swarmkit manager/constraint: a key, `==` or `!=`, a value); swarm
# refuses a service with another at create.
_CONSTRAINT_FORM = re.compile(r"\s*[A-Za-z0-9_.-]+\s*(==|!=)\s*[^=!\s][^=!]*")


def _constraints(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise problem("must be a list of swarm placement constraints, e.g. ['node.labels.db == true']")
    for constraint in value:
        if not _CONSTRAINT_FORM.fullmatch(constraint):
            raise problem(f"{constraint!r} is not a swarm placement constraint; write KEY == VALUE or "
                          "KEY != VALUE, e.g. 'node.labels.db == true'")
    return tuple(value)


Constraints = Annotated[tuple[str, ...], BeforeValidator(_constraints), Wire("list")]


def _secret_hint(key: str) -> str:
    # A key inside a section is set with --path (without it, `backup.password` is a key of its own).
    path = "--path " if "." in key else ""
    return f"`pulumi config set --secret {path}{NAMESPACE}:{key} <password>`"


# ------------------------------------------------------------------ backups
# restic's repository forms (restic's docs, "Preparing a new repository") that the backup
# scheduler in galera-agent is given. The host of an sftp repository may be an IPv6 literal in
# brackets; a port only in the URL form. No password in the URL: it would be in every Galera
# task's environment.
_SFTP_HOST = r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)"
_SFTP_SCP_FORM = re.compile(rf"sftp:(?P<user>[^@:/\s]+)@{_SFTP_HOST}:(?P<path>\S+)")
_SFTP_URL_FORM = re.compile(rf"sftp://(?P<user>[^@:/\s]+)@{_SFTP_HOST}(?::(?P<port>\d{{1,5}}))?/(?P<path>\S+)")
_REST_FORM = re.compile(r"rest:https?://(?:(?P<credentials>[^@/\s]+)@)?[^@/\s]+(?:/\S*)?")
_S3_FORM = re.compile(r"s3:(?:https?://)?[A-Za-z0-9.-]+(?::\d{1,5})?/\S+")
_LOCAL_FORM = re.compile(r"/\S*")
_REPOSITORY_FORMS = ("`sftp:USER@HOST:/PATH`, `sftp://USER@HOST[:PORT]//PATH`, `s3:HOST/BUCKET[/PREFIX]`, "
                     "`s3:https://HOST[:PORT]/BUCKET`, `rest:https://HOST[:PORT]/[PATH]` or an absolute "
                     "local path (tests only)")


@dataclass(frozen=True)
class SftpTarget:
    """Where an sftp repository lives: `host` (brackets removed from an IPv6 literal) and
    `port` (22 unless the URL form names another)."""
    user: str
    host: str
    port: int


def sftp_target(repository: str) -> Optional[SftpTarget]:
    """The login of an sftp repository URL (either restic form), None for another backend."""
    match = _SFTP_SCP_FORM.fullmatch(repository) or _SFTP_URL_FORM.fullmatch(repository)
    if match is None:
        return None
    port = int(match.groupdict().get("port") or 22)
    return SftpTarget(match["user"], match["host"].strip("[]"), port)


def _repository(value: str) -> str:
    if re.match(r"(?:sftp|rest:https?)://[^@/\s]*:[^@/\s]*@", value):
        # Not quoted: the value holds a password.
        raise problem("holds a password in the URL, which would be in every Galera task's environment; log "
                      "in without one in the URL (sftp: backup.sshKeyPath)")
    if value.startswith("sftp:"):
        url = _SFTP_URL_FORM.fullmatch(value)
        if url is not None and url["port"] is not None and not 1 <= int(url["port"]) <= 65535:
            raise problem(f"{value!r} names port {url['port']}; use a port from 1 to 65535")
        if sftp_target(value) is None:
            raise problem(f"{value!r} is not an sftp repository; write `sftp:USER@HOST:/PATH` or "
                          "`sftp://USER@HOST[:PORT]//PATH` (restic's forms; no password in the URL, the "
                          "login is backup.sshKeyPath)")
        return value
    if value.startswith("rest:"):
        rest = _REST_FORM.fullmatch(value)
        if rest is None:
            raise problem(f"{value!r} is not a restic REST repository; write `rest:https://HOST[:PORT]/[PATH]`")
        if rest["credentials"] is not None:
            raise problem("holds a login in the URL, which would be in every Galera task's environment; use "
                          "a REST server without one in the URL")
        return value
    if value.startswith("s3:"):
        if not _S3_FORM.fullmatch(value):
            raise problem(f"{value!r} is not a restic S3 repository; write `s3:HOST/BUCKET[/PREFIX]` or "
                          "`s3:https://HOST[:PORT]/BUCKET`")
        return value
    if not _LOCAL_FORM.fullmatch(value):
        raise problem(f"{value!r} is not a restic repository this stack supports; use {_REPOSITORY_FORMS}")
    return value


Repository = Annotated[Text, AfterValidator(_repository), Wire("restic repository")]

# The descriptors galera-agent's scheduler takes (robfig/cron v3 ParseStandard's, without
# `@every`, which is no cron schedule).
SCHEDULE_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
# One field of robfig/cron v3's standard parser (parser.go getRange): `*`, a number or a name
# (months and days of week), a range `A-B`, each with an optional `/STEP`, in a comma list.
_CRON_VALUE = r"(?:\d+|[A-Za-z]{3})"
_CRON_FIELD = re.compile(rf"(?:\*|{_CRON_VALUE}(?:-{_CRON_VALUE})?)(?:/\d+)?(?:,(?:\*|{_CRON_VALUE}(?:-{_CRON_VALUE})?)(?:/\d+)?)*")
_CRON_NAMES = {3: ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
               4: ("sun", "mon", "tue", "wed", "thu", "fri", "sat")}
_SCHEDULE_FIX = ("write 5 fields, minute hour day-of-month month day-of-week (UTC), e.g. '0 3 * * *', or one "
                 f"of {', '.join(SCHEDULE_DESCRIPTORS)}")


def _cron_number(token: str, field: int) -> int:
    names = _CRON_NAMES.get(field)
    if names is not None and token.lower() in names:
        return names.index(token.lower()) + (1 if field == 3 else 0)
    return int(token) if token.isdigit() else -1


def _schedule(value: str) -> str:
    """A cron schedule that galera-agent's scheduler (robfig/cron v3 `ParseStandard`, in UTC)
    and standard cron read alike: one of SCHEDULE_DESCRIPTORS, or 5 fields of numbers, month and
    day names, `*`, `,`, `-` and `/STEP`. Refused, as ParseStandard or the agent refuses them: a
    seconds or year field, `@every`, `L`, `W`, `#`, `H` and `?` (Quartz and Jenkins extensions),
    day of week 7 (robfig's days of week are 0-6), ranges that run backwards. croniter checks
    each field's range (minute 0-59, hour 0-23, day 1-31, month 1-12)."""
    if value.startswith("@"):
        if value not in SCHEDULE_DESCRIPTORS:
            raise problem(f"{value!r} is not a descriptor the backup scheduler takes; {_SCHEDULE_FIX}")
        return value
    fields = value.split()
    if len(fields) != len(_CRON_FIELDS):
        raise problem(f"{value!r} has {len(fields)} fields (a seconds or year field, or a time zone, is not "
                      f"taken); {_SCHEDULE_FIX}")
    for index, (name, field) in enumerate(zip(_CRON_FIELDS, fields)):
        if not _CRON_FIELD.fullmatch(field):
            raise problem(f"{value!r}: the {name} field {field!r} is not standard cron (no 'L', 'W', '#', 'H' "
                          f"or '?'); use numbers, names, '*', ',', '-' and '/'; {_SCHEDULE_FIX}")
        for part in field.split(","):
            span = part.split("/")[0]
            if "-" in span:
                low, high = (_cron_number(t, index) for t in span.split("-"))
                if low > high >= 0:
                    raise problem(f"{value!r}: the range {span!r} runs backwards; write it from low to high, "
                                  "split in two where it wraps (e.g. '22-23,0-2')")
            if index == 4 and any(_cron_number(t, index) == 7 for t in span.split("-")):
                raise problem(f"{value!r}: day of week 7 is not taken; write Sunday as 0 (days of week are 0-6)")
    if not croniter.is_valid(value):
        raise problem(f"{value!r} is out of cron's ranges (minute 0-59, hour 0-23, day-of-month 1-31, month "
                      "1-12 or jan-dec, day-of-week 0-6 or sun-sat, step 1 or more)")
    return value


Schedule = Annotated[Text, AfterValidator(_schedule), Wire("cron schedule")]


# ------------------------------------------------------------------ the schema
class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel,
                              validate_by_alias=True, validate_by_name=False)


class Host(_Schema):
    """One Docker host. Constructed in code by keyword: Host(name=..., address=...)."""

    name: HostName = Field(description="its swarm node name; a rename keeps its node and resources "
                           "(found by its address)", json_schema_extra={
        "missing": "missing; give every host a name (its swarm node name)"})
    address: Address = Field(
        description="what SSH reaches; swarm advertises it, or the IP a DNS name resolves to "
        "when the stack is loaded (once per run); IPv6 works; a changed address is refused (remove, "
        "then add the host)",
        json_schema_extra={"missing": "missing; give the IP address or DNS name SSH reaches"})
    role: Choice("manager", "worker") = Field(
        "manager", description="the first manager initialises the swarm; the manager count must be odd")
    availability: Choice("active", "pause", "drain") = Field("active", description="swarm node availability")
    labels: Labels = Field(default_factory=dict, description="node labels, for placement constraints")
    host_key: Optional[PublicKey] = Field(
        None, description="its SSH host key (`TYPE BASE64`), instead of its entry in ssh.knownHostsPath; "
        "the first manager must be in that file too (the docker provider reads it)")
    _advertise_address: Optional[str] = PrivateAttr(None)

    @model_validator(mode="after")
    def _keep_resolved(self, info: ValidationInfo) -> "Host":
        self._advertise_address = (info.context or {}).get("resolved", {}).get(self.address)
        return self

    @property
    def is_manager(self) -> bool:
        return placement.is_manager(self)

    @property
    def advertise_address(self) -> str:
        """The IP literal swarm advertises and listens on: `address` itself when it is one,
        else what it resolved to when the stack was loaded (load_settings); `address` when it
        was not resolved (parse_settings without a resolver)."""
        return self.address if _is_ip(self.address) else self._advertise_address or self.address


class SshSettings(_Schema):
    user: Text = Field("root", description="SSH user; must be allowed to run `docker`")
    private_key_path: Optional[Text] = Field(
        None, description="key for the swarm commands and the docker provider (its text goes into "
        "the commands' encrypted state); not with `agent`", json_schema_extra={"default_doc": "(required without `agent`)"})
    agent: Flag = Field(False, description="log in with the keys of the SSH agent at `SSH_AUTH_SOCK` instead "
                        "of privateKeyPath: no private key in the state")
    port: Port = Field(22, description="SSH port of every host")
    known_hosts_path: Text = Field(
        "~/.ssh/known_hosts", description="OpenSSH known_hosts file with every host's key (`ssh-keyscan -H`, "
        "after verifying the fingerprint); both plugins refuse a host whose key differs")
    # Lab hosts are re-created with new host keys; real hosts should be in known_hosts.
    ignore_host_key: Flag = Field(False, description="skip host key checks (only for the lab, which "
                                  "re-creates its hosts with new keys)")

    @model_validator(mode="after")
    def _one_login(self) -> "SshSettings":
        if self.agent and self.private_key_path is not None:
            raise problem("with ssh.agent the key stays in the agent; remove ssh.privateKeyPath (or set "
                          "agent: false to log in with the key file)", key="ssh.privateKeyPath")
        if not self.agent and self.private_key_path is None:
            raise problem("missing; set the path of the SSH private key that logs in to every host (the "
                          "docker provider and the swarm commands both use it)", key="ssh.privateKeyPath")
        return self


class NetworkSettings(_Schema):
    name: SwarmName = Field("mynet", description="the overlay network every service is attached to")
    subnet: Optional[Subnet] = Field(None, description="its subnet (none: swarm picks)")


class ImageSettings(_Schema):
    prefix: ImagePrefix = Field("galera-swarm", description="registry prefix of the four images")
    tag: ImageTag = Field("dev", description="their tag (a Docker tag, as `images/build.sh --tag`)")

    def reference(self, image: str) -> str:
        """The default reference of one of the project's images: prefix/image:tag."""
        return f"{self.prefix}/{image}:{self.tag}"


def _image_field(image: str) -> Any:
    return Field(None, description=f"image reference (default: images.prefix/{image}:images.tag)",
                 json_schema_extra={"default_doc": f"prefix/{image}:tag"})


class EtcdSettings(_Schema):
    image: Optional[ImageReference] = _image_field("etcd")
    replicas: WholeNumber(1, 9) = Field(
        1, description="members `etcd` or `etcd-1..N`, all reachable as `etcd:2379`; member K runs on "
        "the K-th active manager (round robin), beside its data; 1, 3 or 5")
    publish: Flag = Field(False, description="publish 2379/2380 outside the swarm (the seed recipe did; opt-in)")

    @field_validator("replicas")
    @classmethod
    def _quorum(cls, replicas: int) -> int:
        if replicas not in (1, 3, 5):
            raise problem(f"{replicas} etcd members; use 1, or 3 / 5 for a quorum that survives failures")
        return replicas


class GaleraSettings(_Schema):
    image: Optional[ImageReference] = _image_field("galera")
    service_name: SwarmName = Field("mysql-galera", description="the Galera service")
    replicas: Replicas = Field(3, description="Galera nodes, one per host; 2 is refused (no quorum after "
                               "one failure), other even counts warn")
    cluster_name: ClusterName = Field("galera", description="`CLUSTER_NAME`, and the etcd key prefix")
    database: DatabaseName = Field("wordpress", description="the application's database")
    user: DatabaseUser = Field("wordpress", description="the application's user (not root)")
    cpus: Optional[Cpus] = Field(None, description="CPU limit per node")
    memory_bytes: Optional[Memory] = Field(None, alias="memory", description="memory limit per node, e.g. `2g`")
    publish_port: Optional[Port] = Field(None, description="publish MySQL directly (normally use the load balancer)")
    constraints: Constraints = Field((), description="swarm placement constraints, e.g. `node.labels.db == true`")

    @field_validator("replicas")
    @classmethod
    def _quorum(cls, replicas: int) -> int:
        if replicas == 2:
            raise problem("2 nodes cannot keep quorum when one fails (the survivor stops serving); "
                          "use 1 for a test setup or 3 or more")
        return replicas


def _per_host_replicas(service: str) -> Any:
    return Field(None, description=f"{service} tasks; unset: one per active host (with host-mode ports every "
                 "host answers, as in the seed recipe); a number: that many, at most one per host in host mode",
                 json_schema_extra={"default_doc": "one per active host"})


class TlsSettings(_Schema):
    """TLS between the Galera nodes (README: TLS inside the cluster)."""
    enabled: Flag = Field(True, description="Galera replication, state transfers and MariaDB's client port over TLS "
                          "with the stack's own CA; a node without its certificate is not admitted. Turning it on "
                          "for a running cluster is not a rolling change (README: TLS inside the cluster)")


class LoadBalancerSettings(_Schema):
    image: Optional[ImageReference] = _image_field("haproxy")
    enabled: Flag = Field(True, description="run HAProxy `galera-lb` in front of Galera; required with `dnsrr`")
    service_name: SwarmName = Field("galera-lb", description="the load balancer service")
    replicas: Optional[Replicas] = _per_host_replicas("load balancer")
    port: Port = Field(3306, description="the WRITER's published port (with `publish`): every connection to one "
                       "Synced node, the same from every replica; WordPress uses it")
    read_port: Port = Field(3307, description="the READER's published port (with `publish`): connections spread "
                            "over every Synced node")
    publish: Flag = Field(False, description="publish the load balancer outside the swarm")


class WordPressSettings(_Schema):
    image: Optional[ImageReference] = _image_field("wordpress")
    enabled: Flag = Field(True, description="run WordPress")
    service_name: SwarmName = Field("wordpress", description="the WordPress service")
    replicas: Optional[Replicas] = _per_host_replicas("WordPress")
    port: Port = Field(80, description="its published port")


def _section(**kwargs: Any) -> Any:
    # validate_default: the rules between sections run when a section is left out too.
    return Field(default_factory=dict, validate_default=True, **kwargs)


KeepCount = WholeNumber(0, _GO_INT_MAX)


class BackupKeep(_Schema):
    """restic forget's keep policy (`--keep-last/-daily/-weekly/-monthly N`), applied after each
    backup with `--prune`."""
    last: KeepCount = Field(7, description="the newest N snapshots (`restic forget --keep-last`)")
    daily: KeepCount = Field(7, description="the newest snapshot of each of the last N days (`--keep-daily`)")
    weekly: KeepCount = Field(4, description="the newest snapshot of each of the last N weeks (`--keep-weekly`)")
    monthly: KeepCount = Field(6, description="the newest snapshot of each of the last N months (`--keep-monthly`)")

    @model_validator(mode="after")
    def _keeps_something(self) -> "BackupKeep":
        if not any((self.last, self.daily, self.weekly, self.monthly)):
            raise problem("every count is 0, so the prune after each backup would keep no snapshot; set at "
                          "least one of last, daily, weekly, monthly above 0", key="backup.keep")
        return self


def _backup_password_rule(value: str) -> None:
    # restic reads --password-file with strings.TrimSpace: white space around the password
    # would be cut (and a blank password refused by restic).
    if value != value.strip():
        raise problem("starts or ends with white space, which restic cuts from its password file; use a "
                      f"password without: {_secret_hint('backup.password')}")


class BackupSettings(_Schema):
    """Scheduled physical backups (galera-agent in each Galera task runs them; see
    components/galera_backup.py). Absent: no backups."""
    repository: Repository = Field(
        description="the restic repository: `sftp:USER@HOST:/PATH`, `sftp://USER@HOST[:PORT]//PATH`, `s3:...`, "
        "`rest:https://...` or an absolute local path (tests only)", json_schema_extra={
            "missing": "missing; set the restic repository, e.g. `sftp:backup@backup.example.org:/srv/backup/galera`",
            "default_doc": "(required with `backup`)"})
    schedule: Schedule = Field(
        "@daily", description="when one node takes a backup, in UTC: 5 cron fields (minute hour day-of-month month "
        "day-of-week) or @yearly, @monthly, @weekly, @daily, @hourly (robfig/cron's standard form)")
    keep: BackupKeep = _section(description="restic forget's keep policy")
    # Not @weekly: that is Sunday 00:00, the time of the default @daily backup, and a drill
    # meeting a running backup is skipped.
    drill_schedule: Schedule = Field(
        "0 12 * * 0", description="when one node runs a restore drill of the newest snapshot (a throwaway server, "
        "CHECK TABLE on every table; `make restore-drill` runs one now), in UTC, in the form of `schedule`")
    pitr_interval: WholeNumber(0, 86400) = Field(
        60, description="seconds between two archives of the binary logs by one node (point-in-time recovery: the "
        "recovery point objective); 0: no binary logs, no point-in-time recovery")
    ssh_key_path: Optional[Text] = Field(
        None, description="private key (OpenSSH, no passphrase) that logs in to an sftp repository; a swarm secret "
        "in the tasks", json_schema_extra={"default_doc": "(required for `sftp:`)"})
    known_hosts_path: Optional[Text] = Field(
        None, description="known_hosts lines of the sftp repository's host (`ssh-keyscan -H HOST`, after verifying "
        "the fingerprint); the only keys the backups accept", json_schema_extra={"default_doc": "(required for `sftp:`)"})
    password: SecretStr = Field(
        description="restic's repository password; set with `pulumi config set --secret --path`; plain values are "
        "refused; printable, no white space at either end (restic trims its password file)",
        json_schema_extra={"missing": f"missing; set it with {_secret_hint('backup.password')}",
                           "kind": "**secret**", "default_doc": "(required with `backup`)"})

    @field_validator("password", mode="before")
    @classmethod
    def _encrypted(cls, value: Any, info: ValidationInfo) -> Any:
        # A secure value inside an object makes the whole key secret (PULUMI_CONFIG_SECRET_KEYS
        # lists top-level keys only): the nearest the program can check.
        value = _encrypted_printable_text(value, "backup.password", f"{NAMESPACE}:backup", info)
        _backup_password_rule(value)
        return value

    @model_validator(mode="after")
    def _sftp_login(self) -> "BackupSettings":
        found: _Found = []
        needed = (("sshKeyPath", self.ssh_key_path, "the SSH private key that logs in to it (OpenSSH, no passphrase)"),
                  ("knownHostsPath", self.known_hosts_path, "a known_hosts file with its host's key (`ssh-keyscan -H "
                   "HOST`, after verifying the fingerprint on the host)"))
        for key, path, what in needed:
            if self.is_sftp and path is None:
                found.append((f"backup.{key}", f"missing; an sftp repository needs the path of {what}"))
            elif not self.is_sftp and path is not None:
                found.append((f"backup.{key}", "is only for sftp repositories; remove it (this repository is not `sftp:`)"))
        _raise_all(found)
        return self

    @property
    def is_sftp(self) -> bool:
        return self.sftp is not None

    @property
    def sftp(self) -> Optional[SftpTarget]:
        """The sftp login of the repository; None for another backend."""
        return sftp_target(self.repository)


# galera-agent's RESTORE_SNAPSHOT rule (agent/backup/settings.go): `latest`, or a restic
# snapshot id, whole or as `galera-agent backup list` shortens it.
SnapshotChoice = Annotated[Text, _matching(
    r"latest|[0-9a-f]{8,64}", "is neither `latest` nor a snapshot id (8 to 64 hex digits, as `make backups` shows)"),
    Wire("`latest` or snapshot id")]


def _rfc3339(value: str) -> str:
    # galera-agent parses RESTORE_POINT_IN_TIME with Go's time.RFC3339Nano: a date, a time and
    # its offset (Z or ±hh:mm) are all required.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})", value):
        raise problem(f"{value!r} is not an RFC 3339 time with its offset, e.g. 2026-12-02T06:15:00Z")
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError as e:
        raise problem(f"{value!r} is not a time that exists ({e})") from None
    return value


PointInTime = Annotated[Text, AfterValidator(_rfc3339), Wire("RFC 3339 time")]


class RestoreSettings(_Schema):
    """Where a NEW cluster starts from (README: Restore). Only a cluster with no data starts
    from it: no node's volume holds data and etcd records no cluster; a running cluster keeps
    its data (the nodes say so in their log)."""
    snapshot: SnapshotChoice = Field(
        description="the backup a new cluster starts from: `latest` (the newest in backup.repository) or a "
        "snapshot id from `make backups`", json_schema_extra={
            "missing": "missing; set `latest` or a snapshot id from `make backups`",
            "default_doc": "(required with `restore`)"})
    point_in_time: Optional[PointInTime] = Field(
        None, description="replay the archived binary logs onto the backup up to this time (RFC 3339, e.g. "
        "`2026-12-02T06:15:00Z`); with `latest`, the newest backup taken before it. Whole seconds: a transaction "
        "in the second of this time is left out")


@dataclass(frozen=True)
class Passwords:
    """The passwords, as secret Outputs only: MariaDB's root and application user's, etcd's
    root user's and etcd's galera user's (the Galera nodes')."""
    root: pulumi.Output[str]
    app: pulumi.Output[str]
    etcd_root: pulumi.Output[str]
    etcd: pulumi.Output[str]
    # restic's repository password (backup.password); None without backups.
    backup: Optional[pulumi.Output[str]] = None


def _password_field(key: str, what: str = "any printable characters") -> Any:
    return Field(description=f"set with `pulumi config set --secret`; plain values are refused; {what}",
                 json_schema_extra={"missing": f"missing; set it with {_secret_hint(key)}", "kind": "**secret**"})


# etcdctl 3.4 (the etcd image creates its users with it) reads a new user's password from stdin
# up to the first white space (`user add --interactive=false`, fmt.Scanf "%s").
_ETCD_PASSWORD_RULE = "printable characters without spaces (etcdctl 3.4 cuts a password at white space)"


class StackSettings(_Schema):
    """Every `galera-swarm:*` key. Sections are validated in this order, and a rule between
    sections sits on the later one (it sees the earlier ones once they are valid)."""

    hosts: tuple[Host, ...] = Field(
        description="`{name, address, role, availability, labels, hostKey}` per Docker host",
        json_schema_extra={"missing": "no hosts configured; list at least one Docker host, e.g. "
                           "`- {name: docker1, address: 192.0.2.11}`", "kind": "list"})
    ssh: SshSettings = _section(description="how the program reaches the hosts")
    network: NetworkSettings = _section(description="the overlay network")
    endpoint_mode: Choice("vip", "dnsrr") = Field(
        "vip", description="for every service; `dnsrr` where the kernel has no IPVS")
    publish_mode: Choice("ingress", "host") = Field(
        "ingress", validate_default=True, description="for every published port; `dnsrr` needs `host`")
    images: ImageSettings = _section(description="where the project's images come from")
    etcd: EtcdSettings = _section(description="etcd for discovery")
    galera: GaleraSettings = _section(description="the Galera cluster")
    tls: TlsSettings = _section(description="TLS inside the cluster")
    load_balancer: LoadBalancerSettings = _section(description="HAProxy in front of Galera")
    wordpress: WordPressSettings = _section(description="WordPress on top")
    backup: Optional[BackupSettings] = Field(None, description="scheduled backups (absent: none)")
    restore: Optional[RestoreSettings] = Field(
        None, description="the backup a new cluster starts from (absent: a new cluster starts empty)")
    root_password: SecretStr = _password_field("rootPassword")
    app_password: SecretStr = _password_field("appPassword")
    etcd_root_password: SecretStr = _password_field(
        "etcdRootPassword", f"etcd's `root` user (the etcd image enables auth with it); {_ETCD_PASSWORD_RULE}; "
        "kept from its first start (README: etcd requires authentication)")
    etcd_password: SecretStr = _password_field(
        "etcdPassword", f"etcd's `galera` user, which the Galera nodes log in as (read and write under "
        f"`/galera/` only); {_ETCD_PASSWORD_RULE}; kept from its first start (README: etcd requires authentication)")
    sst_password: Optional[Any] = Field(
        None, description="no longer used: state transfers log in through unix_socket, without a "
        "password; a stack that still has it gets a warning", json_schema_extra={"kind": ""})

    @field_validator("hosts", mode="before")
    @classmethod
    def _some_hosts(cls, value: Any) -> Any:
        if value == [] or value == ():
            raise problem(_missing_text("hosts"))
        return value

    @field_validator("hosts")
    @classmethod
    def _distinct_hosts_odd_managers(cls, hosts: tuple[Host, ...]) -> tuple[Host, ...]:
        found: _Found = []
        for attr in ("name", "address"):
            seen: set[str] = set()
            for h in hosts:
                value = getattr(h, attr)
                if value in seen:
                    found.append((None, f"duplicate {attr} {value!r}; every host needs its own {attr}"))
                seen.add(value)
        resolved: dict[str, str] = {}
        for h in hosts:
            other = resolved.setdefault(h.advertise_address, h.address)
            if other != h.address:
                # Two entries for one machine: one would remove the other's node as "gone".
                found.append((None, f"{h.address!r} resolves to {h.advertise_address}, the address of "
                              f"{other!r}; list every host once"))
        managers = sum(h.is_manager for h in hosts)
        if managers == 0:
            found.append((None, "no manager; set `role: manager` on at least one host "
                          "(the first manager initialises the swarm)"))
        elif managers % 2 == 0:
            found.append((None, f"{managers} managers is an even count, which tolerates no more failures "
                          f"than {managers - 1}; use an odd number of managers (1, 3, 5) for Raft quorum"))
        _raise_all(found)
        return hosts

    @field_validator("publish_mode")
    @classmethod
    def _modes_fit(cls, publish_mode: str, info: ValidationInfo) -> str:
        # Swarm refuses ingress publishing without a virtual IP.
        if info.data.get("endpoint_mode") == "dnsrr" and publish_mode == "ingress":
            raise problem("ingress publishing needs a virtual IP; with endpointMode dnsrr set publishMode to host")
        return publish_mode

    @field_validator("etcd", "galera", "load_balancer", "wordpress")
    @classmethod
    def _default_image(cls, section: Any, info: ValidationInfo) -> Any:
        images = info.data.get("images")
        if section.image is None and images is not None:
            return section.model_copy(update={"image": images.reference(_IMAGE_OF[info.field_name])})
        return section

    @field_validator("galera")
    @classmethod
    def _room_for_galera(cls, galera: GaleraSettings, info: ValidationInfo) -> GaleraSettings:
        hosts = info.data.get("hosts")
        if not hosts:
            return galera
        eligible = placement.galera_hosts(hosts, galera.constraints)
        if galera.replicas > len(eligible):
            where = " matching galera.constraints" if galera.constraints else ""
            raise problem(f"{galera.replicas} replicas with at most one per node need {galera.replicas} "
                          f"active hosts{where}, but only {len(eligible)} are configured; lower "
                          f"galera.replicas or add hosts", key="galera.replicas")
        # The task hostname is `<service>-<node>` (galera_service.py), and the image takes it
        # as NODE_NAME; a Linux host name holds 64 characters at most.
        longest = f"{galera.service_name}-{max(hosts, key=lambda h: len(h.name)).name}"
        if len(longest) > 64:
            raise problem(f"the task host name {longest!r} would be {len(longest)} characters, over "
                          "Linux's 64; shorten galera.serviceName or the host names", key="galera.serviceName")
        return galera

    @field_validator("load_balancer")
    @classmethod
    def _load_balancer_fits(cls, lb: LoadBalancerSettings, info: ValidationInfo) -> LoadBalancerSettings:
        if info.data.get("endpoint_mode") == "dnsrr" and not lb.enabled:
            raise problem("endpointMode dnsrr has no virtual IP to spread connections; keep the load "
                          "balancer enabled (true) or use endpointMode vip", key="loadBalancer.enabled")
        return _one_per_active_host(lb, info)

    @field_validator("wordpress")
    @classmethod
    def _wordpress_fits(cls, wp: WordPressSettings, info: ValidationInfo) -> WordPressSettings:
        # WordPress is the last service section, so the rules over all services sit here.
        wp = _one_per_active_host(wp, info)
        lb = info.data.get("load_balancer")
        _raise_all([
            *(_host_ports_fit(info, "loadBalancer", lb.replicas, lb.port) if lb and lb.enabled and lb.publish else []),
            *(_host_ports_fit(info, "wordpress", wp.replicas, wp.port) if wp.enabled else []),
            *_distinct_service_names(info.data, wp), *_distinct_published_ports(info.data, wp)])
        return wp

    @model_validator(mode="after")
    def _restore_from_the_repository(self) -> Any:
        # After the fields (so an invalid `backup` is not reported as a missing one).
        if self.restore is not None and self.backup is None:
            raise problem("needs `backup`, whose repository and password the backup is read with; set "
                          "galera-swarm:backup (README: Backups)", key="restore")
        return self

    @field_validator("root_password", "app_password", "etcd_root_password", "etcd_password", mode="before")
    @classmethod
    def _encrypted_printable(cls, value: Any, info: ValidationInfo) -> Any:
        key = to_camel(info.field_name)
        value = _encrypted_printable_text(value, key, f"{NAMESPACE}:{key}", info)
        if info.field_name in ("etcd_root_password", "etcd_password") and any(c.isspace() for c in value):
            raise problem(f"holds white space, which etcdctl 3.4 cuts a password at; use a password "
                          f"without spaces: {_secret_hint(key)}")
        return value

    # ---- what components use
    @property
    def leader(self) -> Host:
        return placement.leader_of(self.hosts)

    @cached_property
    def passwords(self) -> Passwords:
        return Passwords(*(pulumi.Output.secret(p.get_secret_value()) for p in (
            self.root_password, self.app_password, self.etcd_root_password, self.etcd_password)),
            backup=pulumi.Output.secret(self.backup.password.get_secret_value()) if self.backup else None)

    @property
    def warnings(self) -> tuple[str, ...]:
        found = []
        if self.galera.replicas % 2 == 0:
            found.append(f"{NAMESPACE}:galera.replicas is {self.galera.replicas}, an even count: a network "
                         "split into two halves leaves no Primary component; prefer an odd count")
        if self.sst_password is not None:
            found.append(f"{NAMESPACE}:sstPassword is no longer used (state transfers log in through "
                         f"unix_socket, without a password); remove it with "
                         f"`pulumi config rm {NAMESPACE}:sstPassword`")
        return tuple(found)


_IMAGE_OF = {"etcd": "etcd", "galera": "galera", "load_balancer": "haproxy", "wordpress": "wordpress"}


def _encrypted_printable_text(value: Any, key: str, stored_as: str, info: ValidationInfo) -> str:
    """A password's text, once it is there, stored encrypted (`stored_as`, the full config key,
    is among the context's secret_keys) and printable. `key` names it in the fix."""
    secret_keys = (info.context or {}).get("secret_keys", ())
    if value is None or value == "":
        raise problem(f"missing; set it with {_secret_hint(key)}")
    if stored_as not in secret_keys:
        raise problem(f"is stored in plain text; store it encrypted with {_secret_hint(key)}")
    if not isinstance(value, str):
        raise problem("must be a string")
    if not value.isprintable():
        # The image reads a password file's first line and the rotation steps read one
        # password per line; MariaDB takes any printable character (see images/README.md).
        raise problem("holds a line break or another non-printable character; use printable "
                      f"characters only: {_secret_hint(key)}")
    return value


def _missing_text(key: str) -> str:
    extra = _by_alias(StackSettings)[key].json_schema_extra
    assert isinstance(extra, dict)
    return str(extra["missing"])


def _one_per_active_host(section: Any, info: ValidationInfo) -> Any:
    """`section` with `replicas` one per active host when it is unset (placement's rule)."""
    hosts = info.data.get("hosts")
    if section.replicas is not None or not hosts:
        return section
    return section.model_copy(update={"replicas": placement.one_per_active_host(hosts)})


def _host_ports_fit(info: ValidationInfo, section: str, replicas: Optional[int], port: int) -> _Found:
    """Host-mode ports bind once per host: every replica needs an active host of its own."""
    hosts = info.data.get("hosts")
    if not hosts or replicas is None or info.data.get("publish_mode") != "host":
        return []
    active = len(placement.active_hosts(hosts))
    if replicas > active:
        return [(f"{section}.replicas", f"{replicas} replicas publishing port {port} in host mode "
                 f"need as many active hosts; only {active} are configured")]
    return []


def _distinct_service_names(data: Mapping[str, Any], wp: WordPressSettings) -> _Found:
    """Swarm service names are unique, and every etcd member answers to the alias `etcd` too."""
    taken: dict[str, str] = {}
    etcd, galera, lb = data.get("etcd"), data.get("galera"), data.get("load_balancer")
    if etcd is not None:
        for name in {etcd_discovery.ALIAS, *etcd_discovery.member_names(etcd.replicas)}:
            taken[name] = "an etcd member"
    found: _Found = []
    for key, section in (("galera.serviceName", galera), ("loadBalancer.serviceName", lb),
                         ("wordpress.serviceName", wp)):
        if section is None or not getattr(section, "enabled", True):
            continue
        if section.service_name in taken:
            found.append((key, f"{section.service_name!r} is also the name of {taken[section.service_name]}; "
                          "every service needs its own name"))
        taken.setdefault(section.service_name, key)
    return found


def _distinct_published_ports(data: Mapping[str, Any], wp: WordPressSettings) -> _Found:
    """Each published port is bound on every host (ingress) or on the task's host (host mode),
    so two services cannot publish the same one, nor take one that swarm or SSH uses there."""
    ssh = data.get("ssh")
    taken: dict[int, str] = {swarm_cluster.SWARM_PORT: "swarm's cluster management port",
                             7946: "swarm's node communication port (docker swarm's own)"}
    if ssh is not None:
        taken.setdefault(ssh.port, "the SSH port of the hosts (ssh.port)")
    etcd, galera, lb = data.get("etcd"), data.get("galera"), data.get("load_balancer")
    published: list[tuple[str, int]] = []
    if etcd is not None and etcd.publish:
        published += [("etcd.publish", etcd_discovery.CLIENT_PORT), ("etcd.publish", etcd_discovery.PEER_PORT)]
    if galera is not None and galera.publish_port is not None:
        published.append(("galera.publishPort", galera.publish_port))
    if lb is not None and lb.enabled and lb.publish:
        published += [("loadBalancer.port", lb.port), ("loadBalancer.readPort", lb.read_port)]
    if wp.enabled:
        published.append(("wordpress.port", wp.port))
    found: _Found = []
    for key, port in published:
        if port in taken:
            found.append((key, f"port {port} is taken by {taken[port]}; publish another port"))
        taken.setdefault(port, key)
    return found


# ------------------------------------------------------------------ reading
def parse_settings(raw: Mapping[str, Any], secret_keys: Collection[str] = (),
                   resolve: Optional[Callable[[str], str]] = None) -> StackSettings:
    """Validate raw stack config (key -> value, keys without namespace, values as the stack
    file holds them) into StackSettings.

    `secret_keys` holds the full keys (`galera-swarm:rootPassword`) stored encrypted.
    `resolve` (DNS name -> IP literal, raising OSError) is asked once per DNS name among the
    hosts' addresses; without it names are only checked for form.
    Raises ConfigError listing every problem, in the order of the schema.
    """
    values = {k: v for k, v in raw.items() if v is not None}  # an empty YAML key: left out
    context = {"secret_keys": frozenset(secret_keys), "resolve": resolve}
    try:
        return StackSettings.model_validate(values, context=context)
    except ValidationError as err:
        raise ConfigError([line for e in err.errors(include_url=False) for line in _reword(e)]) from None


def load_settings(config: Optional[pulumi.Config] = None,
                  resolve: Callable[[str], str] = resolve_address) -> StackSettings:
    """Read the stack's `galera-swarm:*` config through the public Pulumi config API and
    validate it; DNS names among the hosts' addresses are resolved once, with `resolve`.
    Raises ConfigError.

    The keys present come from `pulumi.runtime.get_config_env()` (the engine hands every key to
    the program in PULUMI_CONFIG), so a mistyped key is reported rather than silently ignored;
    the schema's keys are read as well."""
    config = config or pulumi.Config(NAMESPACE)
    prefix = f"{NAMESPACE}:"
    keys = {k[len(prefix):] for k in pulumi.runtime.get_config_env() if k.startswith(prefix)}
    keys |= set(_by_alias(StackSettings))
    raw: dict[str, Any] = {}
    for key in sorted(keys):
        if key in _TEXT_KEYS:
            raw[key] = config.get(key)
            continue
        try:
            raw[key] = config.get_object(key)
        except pulumi.ConfigTypeError:  # a plain word, not JSON: the schema says what it should be
            raw[key] = config.get(key)
    secret_keys = {config.full_key(k) for k in keys if pulumi.runtime.is_config_secret(config.full_key(k))}
    return parse_settings(raw, secret_keys, resolve)


# ------------------------------------------------------------------ README's table
def _wire_kind(annotation: Any) -> Optional[str]:
    """The last (most specific) Wire marker of a nested Annotated type."""
    kind = None
    for arg in get_args(annotation):
        kind = arg.kind if isinstance(arg, Wire) else _wire_kind(arg) or kind
    return kind


def _default_doc(field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "default_doc" in extra:
        return str(extra["default_doc"])
    if field.is_required():
        return "(required)"
    if field.default_factory is not None:
        return "`{}`"  # labels (sections are expanded, not listed)
    if field.default == ():
        return "`[]`"
    if field.default is None:
        return "(none)"
    if isinstance(field.default, bool):
        return f"`{str(field.default).lower()}`"
    return f"`{field.default}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        sub = _model_of(field.annotation)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if sub is not None and "kind" not in extra:
            rows += _rows(sub, f"{key}.")
            continue
        wires = [m.kind for m in field.metadata if isinstance(m, Wire)]
        kind = extra.get("kind", _wire_kind(field.annotation) or (wires[-1] if wires else ""))
        rows.append(f"| `{key}` | {kind} | {_default_doc(field)} | {field.description or ''} |")
        if sub is not None:
            rows += _rows(sub, f"{key}[].")
    return rows


def markdown_table() -> str:
    """README's configuration table: one row per key of the schema, in its order."""
    return "\n".join(["| key | type | default | meaning |", "|---|---|---|---|", *_rows(StackSettings, "")]) + "\n"


def main(argv: Sequence[str]) -> int:
    if list(argv) == ["--markdown-table"]:
        sys.stdout.write(markdown_table())
        return 0
    sys.stderr.write("usage: python -m galera_swarm.settings --markdown-table\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

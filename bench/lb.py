"""Direct versus balanced paths to the Galera nodes, measured with sysbench (`make bench-lb`).

The decisions of bench/lb.sh, which only glues docker, ssh and pulumi together: the run
settings, the paths and their targets (which node is "one remote node"), the SQL that makes
and drops the benchmark schema, the credentials files handed to the client container, and
the report (parsing sysbench 1.0.20's output, TPS and p95 per workload and path, the ratios
of issue 19 item 2).

Every subcommand reads its inputs from files or stdin and prints what the script uses; a
problem is a `BenchError`, printed as one `ERROR:` line naming the setting and the fix:

    python -m bench.lb options [--quick] [--local-lb] [--time S] [--threads N] [--tables N] [--table-size N]
    python -m bench.lb stack --client-host H < `pulumi stack output --json`
    python -m bench.lb plan --tasks F --resolved F --network N --galera-service S
                            --load-balancer-service S --client-node ID --writer HOST:PORT
                            --reader HOST:PORT [--lb-tasks F]
    python -m bench.lb sql setup|cleanup --user U
    python -m bench.lb app-user < `pulumi config --json`
    python -m bench.lb sysbench-conf --user U [--tls] < password  (the `--config-file` for sysbench)
    python -m bench.lb tls-files                               (the names of sysbench's TLS files)
    python -m bench.lb tls-file NAME < `pulumi stack export --show-secrets`  (one of them)
    python -m bench.lb client-cnf --user U < password         (a `[client]` option file for mariadb)
    python -m bench.lb report DIR < plan
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence, TextIO

# The Debian package the client image installs (bookworm, the base image's release): the
# parser below is tested on this version's output text (tests/unit/sysbench_output/).
SYSBENCH_DEBIAN_VERSION = "1.0.20+ds-5"
SYSBENCH_VERSION = "1.0.20"

# The schema the benchmark creates (as root), lends to the application user and drops.
SCHEMA = "sbtest"
MYSQL_PORT = 3306

WORKLOADS = ("oltp_point_select", "oltp_read_only", "oltp_read_write")
# Direct to every Galera task (sysbench spreads its connections over a comma list of hosts),
# direct to one node, and through galera-lb's reader and writer ports.
ALL_NODES, ONE_NODE, READER, WRITER = "all-nodes", "one-node", "reader", "writer"
PATHS = (ALL_NODES, ONE_NODE, READER, WRITER)
# With --local-lb: the same two ports on the galera-lb task of the client's own host, by its
# address, instead of the service name (swarm's DNS spreads connections over every host's
# task): how much of the balanced path's cost is the hop to another host.
READER_LOCAL, WRITER_LOCAL = "reader-local", "writer-local"
# Issue 19 item 2's targets: balanced TPS over direct TPS, each pair in the same run.
RATIO_PAIRS: Mapping[str, tuple[str, str]] = {
    "oltp_point_select": (READER, ALL_NODES),
    "oltp_read_only": (READER, ALL_NODES),
    "oltp_read_write": (WRITER, ONE_NODE),
}

ENV_PREFIX = "BENCH_LB_"


class BenchError(ValueError):
    """A problem with the settings, the stack or a sysbench run, worded with the fix."""


# ------------------------------------------------------------------ settings
@dataclass(frozen=True)
class Settings:
    """One run's sysbench settings: seconds per run, client threads, tables and rows each."""

    time: int = 20
    threads: int = 8
    tables: int = 4
    table_size: int = 20000
    image_tag: str = "dev"


# `--quick`: a smoke run of the whole flow, a few seconds per path (figures not comparable).
QUICK = Settings(time=3, threads=4, tables=2, table_size=1000)
LIMITS = {"time": (1, 3600), "threads": (1, 1024), "tables": (1, 64), "table_size": (1, 10_000_000)}


def settings_from(args: Mapping[str, str | None], env: Mapping[str, str], quick: bool) -> Settings:
    """The run settings: each field from its flag (`--table-size`), else its environment
    variable (`BENCH_LB_TABLE_SIZE`), else the --quick or the full default (`Settings`).
    Raises BenchError naming the flag and variable for a value that is not an integer in
    LIMITS, or an image tag (`BENCH_LB_IMAGE_TAG`, default dev) that is not a Docker tag
    (galera_swarm.settings.TAG_PATTERN, images/build.sh's rule)."""
    from galera_swarm.settings import TAG_PATTERN

    base = QUICK if quick else Settings()
    values: dict = {"image_tag": env.get(ENV_PREFIX + "IMAGE_TAG") or base.image_tag}
    if not re.fullmatch(TAG_PATTERN, values["image_tag"]):
        raise BenchError(f"{ENV_PREFIX}IMAGE_TAG: {values['image_tag']!r} is not a Docker tag (letters, digits, "
                         "'_', '.', '-', not first '.' or '-', at most 128); give e.g. dev")
    for name, (low, high) in LIMITS.items():
        flag, var = "--" + name.replace("_", "-"), ENV_PREFIX + name.upper()
        raw = args.get(name)
        if raw is None:
            raw = env.get(var)
        if raw is None or raw == "":
            values[name] = getattr(base, name)
            continue
        try:
            value = int(raw)
        except ValueError:
            raise BenchError(f"{flag} / {var}: {raw!r} is not a whole number; give e.g. "
                             f"{flag} {getattr(Settings(), name)}") from None
        if not low <= value <= high:
            raise BenchError(f"{flag} / {var}: {value} is out of range; give {low} to {high}")
        values[name] = value
    return Settings(**values)


# ------------------------------------------------------------------ the stack
@dataclass(frozen=True)
class StackView:
    """What the benchmark needs from `pulumi stack output --json`: the overlay network, the
    Galera and load balancer services, galera-lb's writer and reader endpoints (`host:port` inside the swarm)
    and the swarm node id of the client's host; `tls`: the cluster runs with TLS (its accounts
    take sessions over the network only with it)."""

    network: str
    galera_service: str
    load_balancer_service: str
    writer: str
    reader: str
    client_node: str
    tls: bool = False

    @property
    def galera_dns(self) -> str:
        """The name swarm's DNS resolves to every Galera task (components.service_spec's rule)."""
        from components.service_spec import tasks_dns

        return tasks_dns(self.galera_service)


def stack_view(outputs: Mapping, client_host: str) -> StackView:
    """StackView from the stack's outputs (README, "outputs": network, galera_service,
    load_balancer_service, load_balancer_endpoints {writer, reader}, nodes {host: node id},
    tls_ca_certificate when the stack runs with TLS). Raises BenchError when
    the stack is not up or client_host is not one of its hosts."""
    missing = [k for k in ("network", "galera_service", "load_balancer_service", "load_balancer_endpoints", "nodes")
               if k not in outputs]
    if missing:
        raise BenchError(f"the stack has no output {', '.join(missing)}: is the dev stack up? run `make up` first")
    nodes = outputs["nodes"]
    if client_host not in nodes:
        raise BenchError(f"BENCH_LB_CLIENT_HOST: {client_host!r} is not a host of the stack; "
                         f"use one of {', '.join(sorted(nodes))}")
    endpoints = outputs["load_balancer_endpoints"]
    return StackView(network=outputs["network"], galera_service=outputs["galera_service"],
                     load_balancer_service=outputs["load_balancer_service"], writer=endpoints["writer"],
                     reader=endpoints["reader"], client_node=nodes[client_host],
                     tls=bool(outputs.get("tls_ca_certificate")))


def app_user(config: Mapping) -> str:
    """The application user from `pulumi config --json`: galera-swarm:galera's `user`, or its
    default, both from the one schema (galera_swarm.settings.GaleraSettings)."""
    from galera_swarm.settings import NAMESPACE, GaleraSettings

    entry = config.get(f"{NAMESPACE}:galera") or {}
    section = entry.get("objectValue")
    if section is None and entry.get("value"):
        section = json.loads(entry["value"])
    return GaleraSettings.model_validate(section or {}).user


# ------------------------------------------------------------------ targets
@dataclass(frozen=True)
class Task:
    """A running Galera task: its address on the benchmark's network and its swarm node id."""

    address: str
    node: str


def running_tasks(inspected: Sequence[Mapping], network: str, service: str = "Galera") -> list[Task]:
    """The running tasks among `docker inspect` task objects (Status.State "running"), with
    their address on `network` (NetworksAttachments[].Addresses, "10.0.1.5/24"), sorted by
    address. Raises BenchError, naming `service`, when none runs."""
    tasks = []
    for task in inspected:
        if task.get("Status", {}).get("State") != "running":
            continue
        for attachment in task.get("NetworksAttachments") or []:
            if attachment.get("Network", {}).get("Spec", {}).get("Name") != network:
                continue
            for address in attachment.get("Addresses") or []:
                tasks.append(Task(address.split("/", 1)[0], task.get("NodeID", "")))
    if not tasks:
        raise BenchError(f"no running {service} task has an address on {network}: is the stack up and settled? "
                         "(`lab/lab ssh docker1 docker service ls`)")
    return sorted(tasks, key=lambda t: ipaddress.ip_address(t.address))


def resolved_addresses(getent_text: str) -> list[str]:
    """The distinct addresses in `getent ahostsv4 NAME` output ("ADDR STREAM NAME" lines)."""
    found = {line.split()[0] for line in getent_text.splitlines() if line.strip()}
    return sorted(found, key=ipaddress.ip_address)


def remote_node(tasks: Sequence[Task], client_node: str) -> Task:
    """The "one node" path's target: the lowest address among the tasks on another host than
    the client's (a remote node, as an application on another host sees it), or the lowest
    of all when every task runs on the client's host."""
    remote = [t for t in tasks if t.node != client_node]
    return min(remote or tasks, key=lambda t: ipaddress.ip_address(t.address))


@dataclass(frozen=True)
class Run:
    """One sysbench run: a workload over one path to `host` (a comma list for all-nodes) and `port`."""

    workload: str
    path: str
    host: str
    port: int

    @property
    def key(self) -> str:
        """The name of its output file in the results directory."""
        return f"{self.workload}.{self.path}"


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """("galera-lb", 3306) from "galera-lb:3306"."""
    host, _, port = endpoint.rpartition(":")
    return host, int(port)


def local_task(tasks: Sequence[Task], client_node: str, service: str) -> Task:
    """The task of `service` (galera-lb) on the client's node. Raises BenchError when there is none."""
    local = [t for t in tasks if t.node == client_node]
    if not local:
        raise BenchError(f"--local-lb: no {service} task runs on the client's host; "
                         "set BENCH_LB_CLIENT_HOST to a host that runs one, or leave --local-lb out")
    return local[0]


def plan(tasks: Sequence[Task], resolved: Sequence[str], view: StackView,
         local_lb: Task | None = None) -> list[Run]:
    """Every workload over every path, in WORKLOADS then PATHS order (then READER_LOCAL and
    WRITER_LOCAL to the address of `local_lb`, the client host's galera-lb task, when given),
    so each comparison is in the same run and from the same client. Raises BenchError when
    swarm's DNS and the running tasks disagree (a task starting or leaving)."""
    addresses = [t.address for t in tasks]
    if sorted(resolved, key=ipaddress.ip_address) != addresses:
        raise BenchError(f"{view.galera_dns} resolves to {', '.join(resolved) or 'nothing'} but the "
                         f"running tasks are {', '.join(addresses)}: the stack is not settled; wait and run again")
    targets = {ALL_NODES: (",".join(addresses), MYSQL_PORT),
               ONE_NODE: (remote_node(tasks, view.client_node).address, MYSQL_PORT),
               READER: split_endpoint(view.reader), WRITER: split_endpoint(view.writer)}
    paths = PATHS
    if local_lb is not None:
        targets[READER_LOCAL] = (local_lb.address, targets[READER][1])
        targets[WRITER_LOCAL] = (local_lb.address, targets[WRITER][1])
        paths += (READER_LOCAL, WRITER_LOCAL)
    return [Run(w, p, *targets[p]) for w in WORKLOADS for p in paths]


# ------------------------------------------------------------------ SQL and credentials
def sql_string(value: str) -> str:
    """A MariaDB string literal ('...' with quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def schema_sql(step: str, user: str) -> str:
    """`setup`: create SCHEMA (fails if it exists: then it is not ours to drop) and grant it to
    user@'%'; `cleanup`: drop it and revoke the grant."""
    account = f"{sql_string(user)}@'%'"
    if step == "setup":
        return f"CREATE DATABASE `{SCHEMA}`; GRANT ALL PRIVILEGES ON `{SCHEMA}`.* TO {account};"
    if step == "cleanup":
        return f"DROP DATABASE IF EXISTS `{SCHEMA}`; REVOKE ALL PRIVILEGES ON `{SCHEMA}`.* FROM {account};"
    raise BenchError(f"unknown SQL step {step!r}; use setup or cleanup")


def sysbench_conf(user: str, password: str, key: str = "appPassword", tls: bool = False) -> str:
    """The file for `sysbench --config-file`: mysql-user and mysql-password lines, and with
    `tls` mysql-ssl=on: sysbench 1.0.20 then connects over TLS with the files client-key.pem,
    client-cert.pem and cacert.pem of its working directory (names fixed in its drv_mysql.c;
    TLS_FILES, from tls_file). sysbench drops whitespace in a value there (seen: a password
    with a space is refused), so such a password raises BenchError naming the stack key."""
    if re.search(r"\s", password) or re.search(r"\s", user):
        raise BenchError(f"galera-swarm:{key}: sysbench's --config-file cannot carry whitespace, and the "
                         "password must not go on a command line; rotate to one without "
                         f"(`pulumi config set --secret galera-swarm:{key} ...` and `make up`)")
    return f"mysql-user={user}\nmysql-password={password}\n" + ("mysql-ssl=on\n" if tls else "")


# The files sysbench 1.0.20 reads with mysql-ssl=on, and what tls_file puts in each: the
# stack's CA and the Galera nodes' certificate and key, which is a TLS client's as well (the
# nodes ask a client for a certificate of their CA, and refuse another CA's).
TLS_FILES = {"cacert.pem": "ca", "client-cert.pem": "cert", "client-key.pem": "key"}


def tls_file(deployment: Mapping, name: str) -> str:
    """The PEM for sysbench's TLS file `name` (a key of TLS_FILES) from `pulumi stack export
    --show-secrets` (parsed): the CA's certificate, or the Galera nodes' certificate or private
    key. Raises BenchError when the state holds none (a stack without TLS) or `name` is no
    such file."""
    from components.cluster_certificates import CA_SUFFIX, NODE_SUFFIX, recorded_pair

    if name not in TLS_FILES:
        raise BenchError(f"unknown TLS file {name!r}; use one of {', '.join(TLS_FILES)}")
    which = TLS_FILES[name]
    try:
        pair = recorded_pair(deployment, CA_SUFFIX if which == "ca" else NODE_SUFFIX)
    except LookupError as missing:
        raise BenchError(f"{missing}; the stack runs with TLS but its state has no certificate: run `make up`") from None
    return pair.private_key if which == "key" else pair.certificate


def client_cnf(user: str, password: str) -> str:
    """A MariaDB option file (`--defaults-extra-file`) with a [client] user and password,
    double-quoted with backslash escapes (the option file syntax)."""
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"[client]\nuser={quoted(user)}\npassword={quoted(password)}\n"


def read_secret(stream: TextIO) -> str:
    """A secret as `pulumi config get` prints it: the text without its final newline."""
    text = stream.read()
    return text[:-1] if text.endswith("\n") else text


# ------------------------------------------------------------------ sysbench output
@dataclass(frozen=True)
class Result:
    """What one sysbench run reported: transactions per second, the 95th percentile latency
    in ms, ignored errors per second (sysbench's default --mysql-ignore-errors 1213,1020,1205:
    deadlocks, Galera's certification failures among them, and lock wait timeouts; the
    transaction is retried)."""

    tps: float
    p95_ms: float
    errors_per_s: float


_TPS = re.compile(r"^\s*transactions:\s+\d+\s+\((?P<v>[\d.]+) per sec\.\)", re.M)
_P95 = re.compile(r"^\s*95th percentile:\s+(?P<v>[\d.]+)", re.M)
_ERRORS = re.compile(r"^\s*ignored errors:\s+\d+\s+\((?P<v>[\d.]+) per sec\.\)", re.M)
_VERSION = re.compile(r"^sysbench (?P<v>\S+)", re.M)


def parse_run(text: str) -> Result:
    """The Result in sysbench 1.0.20's `run` output (its "SQL statistics" and "Latency (ms)"
    sections, with --percentile=95). Raises BenchError with sysbench's FATAL lines when the
    run failed, or when the text is from another sysbench version or has no statistics."""
    fatal = [line for line in text.splitlines() if line.startswith("FATAL:")]
    if fatal:
        raise BenchError("sysbench failed: " + " / ".join(fatal[:3]))
    version = _VERSION.search(text)
    if version and version["v"] != SYSBENCH_VERSION:
        raise BenchError(f"sysbench {version['v']} printed this; the parser knows {SYSBENCH_VERSION}'s "
                         f"output (the client image pins {SYSBENCH_DEBIAN_VERSION})")
    found = {name: pattern.search(text) for name, pattern in
             (("transactions", _TPS), ("95th percentile", _P95), ("ignored errors", _ERRORS))}
    missing = [name for name, match in found.items() if match is None]
    if missing:
        raise BenchError(f"no {', '.join(missing)} in the sysbench output (was it run with --percentile=95?)")
    return Result(float(found["transactions"]["v"]), float(found["95th percentile"]["v"]),
                  float(found["ignored errors"]["v"]))


def ratio(results: Mapping[str, Result], workload: str) -> tuple[float, float] | None:
    """(TPS ratio, p95 ratio) of RATIO_PAIRS[workload], balanced over direct, or None when
    either run is missing. Raises BenchError when the direct run made no transactions."""
    balanced, direct = RATIO_PAIRS[workload]
    b, d = results.get(f"{workload}.{balanced}"), results.get(f"{workload}.{direct}")
    if b is None or d is None:
        return None
    if d.tps == 0 or d.p95_ms == 0:
        raise BenchError(f"{workload} {direct} made no transactions: nothing to compare with")
    return b.tps / d.tps, b.p95_ms / d.p95_ms


def report(runs: Iterable[Run], results: Mapping[str, Result]) -> str:
    """The table (workload, path, TPS, p95 ms, errors/s) and, per workload of RATIO_PAIRS, the
    line `ratio <workload> <x.xx>` (TPS, balanced over direct) and `p95-ratio <workload> <x.xx>`."""
    lines = [f"{'workload':<18} {'path':<12} {'target':<36} {'TPS':>9} {'p95 ms':>8} {'errors/s':>9}"]
    for run in runs:
        r = results[run.key]
        lines.append(f"{run.workload:<18} {run.path:<12} {f'{run.host}:{run.port}':<36} "
                     f"{r.tps:>9.1f} {r.p95_ms:>8.2f} {r.errors_per_s:>9.2f}")
    for workload, (balanced, direct) in RATIO_PAIRS.items():
        found = ratio(results, workload)
        if found is None:
            continue
        lines.append(f"ratio {workload} {found[0]:.2f}")
        lines.append(f"p95-ratio {workload} {found[1]:.2f}")
    lines.append("ratio = TPS " + ", ".join(f"{w} {b}/{d}" for w, (b, d) in RATIO_PAIRS.items())
                 + "; p95-ratio = their p95 latencies, same pairs")
    return "\n".join(lines)


def read_plan(stream: TextIO) -> list[Run]:
    """Runs from `plan`'s lines (workload path host port)."""
    runs = []
    for line in stream.read().splitlines():
        if line.strip():
            workload, path, host, port = line.split()
            runs.append(Run(workload, path, host, int(port)))
    return runs


def results_in(directory: Path, runs: Iterable[Run]) -> dict[str, Result]:
    """The Result of each run from DIRECTORY/<workload>.<path>.txt. Raises BenchError naming
    the file when one is missing or failed."""
    results = {}
    for run in runs:
        path = directory / f"{run.key}.txt"
        if not path.is_file():
            raise BenchError(f"no output for {run.workload} over {run.path} ({path})")
        try:
            results[run.key] = parse_run(path.read_text())
        except BenchError as problem:
            raise BenchError(f"{run.workload} over {run.path}: {problem}") from None
    return results


# ------------------------------------------------------------------ command line
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.lb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    options = sub.add_parser("options", help="'time threads tables table_size image_tag sysbench_debian_version "
                             "local_lb(0|1) schema'")
    options.add_argument("--quick", action="store_true")
    options.add_argument("--local-lb", action="store_true", help="also the client host's own galera-lb task")
    for name in LIMITS:
        options.add_argument("--" + name.replace("_", "-"), dest=name)
    stack = sub.add_parser("stack", help="'network galera_service galera_dns load_balancer_service writer reader "
                           "client_node' from the outputs")
    stack.add_argument("--client-host", required=True)
    planned = sub.add_parser("plan", help="the runs, one 'workload path host port' line each")
    planned.add_argument("--tasks", type=Path, required=True, help="`docker inspect` of the Galera tasks")
    planned.add_argument("--resolved", type=Path, required=True, help="`getent ahostsv4 tasks.<service>`")
    for name in ("network", "galera-service", "load-balancer-service", "client-node", "writer", "reader"):
        planned.add_argument("--" + name, required=True)
    planned.add_argument("--lb-tasks", type=Path, help="`docker inspect` of the galera-lb tasks (--local-lb)")
    sql = sub.add_parser("sql", help="the SQL of one schema step")
    sql.add_argument("step", choices=("setup", "cleanup"))
    sql.add_argument("--user", required=True)
    sub.add_parser("app-user", help="the application user from `pulumi config --json` on stdin")
    for name in ("sysbench-conf", "client-cnf"):
        conf = sub.add_parser(name, help="a credentials file, the password on stdin")
        conf.add_argument("--user", required=True)
        conf.add_argument("--key", default="appPassword", help="the stack key of the password (for errors)")
        if name == "sysbench-conf":
            conf.add_argument("--tls", action="store_true", help="connect over TLS (TLS_FILES in the working directory)")
    sub.add_parser("tls-files", help="the names of the TLS files sysbench reads with mysql-ssl=on")
    tls_parser = sub.add_parser("tls-file", help="one of them, the export on stdin")
    tls_parser.add_argument("name", choices=tuple(TLS_FILES))
    rep = sub.add_parser("report", help="the table and ratios, the plan on stdin")
    rep.add_argument("directory", type=Path)
    return parser


def _json(text: str, source: str):
    try:
        return json.loads(text)
    except ValueError:
        raise BenchError(f"{source} printed no JSON: is the stack up? run `make up` first") from None


def main(argv: Sequence[str] | None = None, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Run one subcommand (see the module docstring); 0, or 1 with an ERROR line on stderr."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "options":
            s = settings_from(vars(args), os.environ, args.quick)
            print(s.time, s.threads, s.tables, s.table_size, s.image_tag, SYSBENCH_DEBIAN_VERSION, int(args.local_lb),
                  SCHEMA, file=stdout)
        elif args.command == "stack":
            v = stack_view(_json(stdin.read(), "`pulumi stack output --json`"), args.client_host)
            print(v.network, v.galera_service, v.galera_dns, v.load_balancer_service, v.writer, v.reader,
                  v.client_node, int(v.tls), file=stdout)
        elif args.command == "plan":
            tasks = running_tasks(json.loads(args.tasks.read_text()), args.network)
            view = StackView(args.network, args.galera_service, args.load_balancer_service, args.writer,
                             args.reader, args.client_node)
            local_lb = None
            if args.lb_tasks:
                lb_tasks = running_tasks(json.loads(args.lb_tasks.read_text()), args.network,
                                         view.load_balancer_service)
                local_lb = local_task(lb_tasks, view.client_node, view.load_balancer_service)
            runs = plan(tasks, resolved_addresses(args.resolved.read_text()), view, local_lb)
            for run in runs:
                print(run.workload, run.path, run.host, run.port, file=stdout)
        elif args.command == "sql":
            print(schema_sql(args.step, args.user), file=stdout)
        elif args.command == "app-user":
            print(app_user(_json(stdin.read(), "`pulumi config --json`")), file=stdout)
        elif args.command == "sysbench-conf":
            stdout.write(sysbench_conf(args.user, read_secret(stdin), args.key, args.tls))
        elif args.command == "tls-file":
            stdout.write(tls_file(_json(stdin.read(), "`pulumi stack export --show-secrets`"), args.name))
        elif args.command == "tls-files":
            print(*TLS_FILES, file=stdout)
        elif args.command == "client-cnf":
            stdout.write(client_cnf(args.user, read_secret(stdin)))
        elif args.command == "report":
            runs = read_plan(stdin)
            print(report(runs, results_in(args.directory, runs)), file=stdout)
    except BenchError as problem:
        print(f"ERROR: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

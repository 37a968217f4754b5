"""bench/lb.py, the decisions of `make bench-lb`: settings, targets, SQL, credentials files,
sysbench output parsing and the report.

tests/unit/sysbench_output/ holds real output of Debian's sysbench 1.0.20+ds-5 (the client
image, bench/sysbench-client) against MariaDB 10.11 (3 s runs, 4 threads, 4 x 2000 rows;
`oltp_read_write-deadlocks` on 1 table of 5 rows with 16 threads, so InnoDB deadlocks;
`unknown-host` with `--mysql-host=benchlb-db,nosuchhost`); `lab-*` from `make bench-lb` on the
dev stack in the lab (20 s, 8 threads, 4 x 20000 rows: read-write over all three Galera nodes,
with certification failures; point selects through the reader; swarm's DNS for the nodes)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bench import lb
from galera_swarm import tls
from tests.unit.conftest import certificate_export

OUTPUT = Path(__file__).resolve().with_name("sysbench_output")


def output(name: str) -> str:
    return (OUTPUT / f"{name}.txt").read_text()


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize("name, tps, p95_ms, errors_per_s", [
    ("oltp_point_select", 34955.60, 0.24, 0.0),
    ("oltp_read_only", 1181.75, 5.57, 0.0),
    ("oltp_read_write", 576.91, 12.30, 0.0),
    ("oltp_read_write-deadlocks", 642.07, 48.34, 146.77),
    ("lab-oltp_read_write-all-nodes", 288.47, 71.83, 7.83),
    ("lab-oltp_point_select-reader", 9318.29, 1.82, 0.0),
])
def test_parse_run_reads_tps_p95_and_errors_per_second(name, tps, p95_ms, errors_per_s):
    assert lb.parse_run(output(name)) == lb.Result(tps, p95_ms, errors_per_s)


def test_parse_run_reports_sysbench_fatal_lines():
    with pytest.raises(lb.BenchError, match=r"sysbench failed: FATAL: unable to connect to MySQL server on "
                                            r"host 'nosuchhost', port 3306"):
        lb.parse_run(output("unknown-host"))


def test_parse_run_refuses_another_sysbench_version():
    text = output("oltp_point_select").replace("sysbench 1.0.20 ", "sysbench 1.1.0 ")
    with pytest.raises(lb.BenchError, match=r"sysbench 1.1.0 printed this; the parser knows 1.0.20's output"):
        lb.parse_run(text)


def test_parse_run_names_the_missing_percentile():
    text = "\n".join(line for line in output("oltp_read_only").splitlines() if "percentile" not in line)
    with pytest.raises(lb.BenchError, match=r"no 95th percentile in the sysbench output"):
        lb.parse_run(text)


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize("flags, env, quick, expected", [
    ({}, {}, False, lb.Settings(20, 8, 4, 20000, "dev")),
    ({}, {}, True, lb.Settings(3, 4, 2, 1000, "dev")),
    ({"time": "60"}, {"BENCH_LB_TIME": "5"}, False, lb.Settings(60, 8, 4, 20000, "dev")),
    ({}, {"BENCH_LB_THREADS": "16", "BENCH_LB_TABLE_SIZE": "500"}, False, lb.Settings(20, 16, 4, 500, "dev")),
    ({"time": "7"}, {"BENCH_LB_IMAGE_TAG": "benchlb"}, True, lb.Settings(7, 4, 2, 1000, "benchlb")),
])
def test_settings_flag_then_environment_then_default(flags, env, quick, expected):
    assert lb.settings_from(flags, env, quick) == expected


@pytest.mark.parametrize("flags, env, message", [
    ({"threads": "eight"}, {}, r"--threads / BENCH_LB_THREADS: 'eight' is not a whole number; give e.g. --threads 8"),
    ({}, {"BENCH_LB_TIME": "0"}, r"--time / BENCH_LB_TIME: 0 is out of range; give 1 to 3600"),
    ({"table_size": "-3"}, {}, r"--table-size / BENCH_LB_TABLE_SIZE: -3 is out of range"),
    ({}, {"BENCH_LB_IMAGE_TAG": "-bad"}, r"BENCH_LB_IMAGE_TAG: '-bad' is not a Docker tag"),
])
def test_settings_errors_name_the_flag_and_variable(flags, env, message):
    with pytest.raises(lb.BenchError, match=message):
        lb.settings_from(flags, env, quick=False)


# ------------------------------------------------------------------ the stack and its tasks
OUTPUTS = {
    "network": "mynet", "galera_service": "mysql-galera", "load_balancer_service": "galera-lb",
    "load_balancer_endpoints": {"writer": "galera-lb:3306", "reader": "galera-lb:3307"},
    "nodes": {"docker1": "n1", "docker2": "n2", "docker3": "n3"},
}


def test_stack_view_takes_the_outputs_and_the_client_node():
    view = lb.stack_view(OUTPUTS, "docker2")
    assert view == lb.StackView("mynet", "mysql-galera", "galera-lb", "galera-lb:3306", "galera-lb:3307", "n2")
    assert view.galera_dns == "tasks.mysql-galera"


def test_stack_view_knows_a_stack_with_tls_by_its_ca_output():
    assert not lb.stack_view(OUTPUTS, "docker1").tls
    assert lb.stack_view({**OUTPUTS, "tls_ca_certificate": "-----BEGIN CERTIFICATE-----..."}, "docker1").tls


def test_stack_view_refuses_a_client_host_outside_the_stack():
    with pytest.raises(lb.BenchError, match=r"BENCH_LB_CLIENT_HOST: 'docker9' is not a host of the stack; "
                                            r"use one of docker1, docker2, docker3"):
        lb.stack_view(OUTPUTS, "docker9")


def test_stack_view_without_outputs_says_make_up():
    with pytest.raises(lb.BenchError, match=r"no output network, galera_service, load_balancer_service, "
                                            r"load_balancer_endpoints, nodes: "
                                            r"is the dev stack up\? run `make up` first"):
        lb.stack_view({}, "docker1")


@pytest.mark.parametrize("config, user", [
    ({}, "wordpress"),
    ({"galera-swarm:galera": {"value": '{"user":"wpuser"}', "objectValue": {"user": "wpuser"}, "secret": False}},
     "wpuser"),
    ({"galera-swarm:galera": {"value": '{"replicas":3}', "secret": False}}, "wordpress"),
])
def test_app_user_from_the_config_or_the_schema_default(config, user):
    assert lb.app_user(config) == user


def inspected(address: str, node: str, state: str = "running", network: str = "mynet") -> dict:
    return {"NodeID": node, "Status": {"State": state},
            "NetworksAttachments": [{"Network": {"Spec": {"Name": "ingress"}}, "Addresses": ["10.0.0.9/24"]},
                                    {"Network": {"Spec": {"Name": network}}, "Addresses": [f"{address}/24"]}]}


def test_running_tasks_take_the_address_on_the_network_sorted_numerically():
    tasks = lb.running_tasks([inspected("10.0.1.10", "n1"), inspected("10.0.1.9", "n2"),
                              inspected("10.0.1.4", "n3", state="shutdown")], "mynet")
    assert tasks == [lb.Task("10.0.1.9", "n2"), lb.Task("10.0.1.10", "n1")]


def test_running_tasks_none_on_the_network_is_an_error():
    with pytest.raises(lb.BenchError, match=r"no running Galera task has an address on mynet: is the stack up"):
        lb.running_tasks([inspected("10.0.1.9", "n1", network="other")], "mynet")


def test_resolved_addresses_from_getent_ahostsv4():
    assert lb.resolved_addresses(output("lab-getent-tasks.mysql-galera")) == ["10.0.1.12", "10.0.1.13", "10.0.1.14"]
    text = "10.0.1.12       STREAM tasks.mysql-galera\n10.0.1.12       DGRAM  \n10.0.1.9        STREAM \n"
    assert lb.resolved_addresses(text) == ["10.0.1.9", "10.0.1.12"]


@pytest.mark.parametrize("tasks, client_node, expected", [
    # the client's host holds the lowest address: the lowest of the others
    ([("10.0.1.5", "n1"), ("10.0.1.7", "n2"), ("10.0.1.6", "n3")], "n1", "10.0.1.6"),
    ([("10.0.1.5", "n1"), ("10.0.1.7", "n2"), ("10.0.1.6", "n3")], "n2", "10.0.1.5"),
    ([("10.0.1.10", "n2"), ("10.0.1.9", "n1")], "n1", "10.0.1.10"),
    # every task on the client's host: the lowest of them
    ([("10.0.1.8", "n1"), ("10.0.1.5", "n1")], "n1", "10.0.1.5"),
])
def test_remote_node_prefers_another_host_then_the_lowest_address(tasks, client_node, expected):
    assert lb.remote_node([lb.Task(a, n) for a, n in tasks], client_node).address == expected


VIEW = lb.StackView("mynet", "mysql-galera", "galera-lb", "galera-lb:3306", "galera-lb:3307", "n1")
TASKS = [lb.Task("10.0.1.5", "n1"), lb.Task("10.0.1.6", "n2"), lb.Task("10.0.1.7", "n3")]


def test_plan_runs_every_workload_over_every_path_with_its_target():
    runs = lb.plan(TASKS, ["10.0.1.7", "10.0.1.5", "10.0.1.6"], VIEW)
    assert [(r.workload, r.path, r.host, r.port) for r in runs[:4]] == [
        ("oltp_point_select", "all-nodes", "10.0.1.5,10.0.1.6,10.0.1.7", 3306),
        ("oltp_point_select", "one-node", "10.0.1.6", 3306),
        ("oltp_point_select", "reader", "galera-lb", 3307),
        ("oltp_point_select", "writer", "galera-lb", 3306),
    ]
    assert [r.workload for r in runs[::4]] == ["oltp_point_select", "oltp_read_only", "oltp_read_write"]
    assert len(runs) == 12


def test_plan_with_local_lb_adds_the_client_hosts_load_balancer_by_address():
    lb_tasks = lb.running_tasks([inspected("10.0.1.21", "n2"), inspected("10.0.1.20", "n1")], "mynet", "galera-lb")
    runs = lb.plan(TASKS, ["10.0.1.5", "10.0.1.6", "10.0.1.7"], VIEW, lb.local_task(lb_tasks, "n1", "galera-lb"))
    assert [(r.path, r.host, r.port) for r in runs[:6]] == [
        ("all-nodes", "10.0.1.5,10.0.1.6,10.0.1.7", 3306), ("one-node", "10.0.1.6", 3306),
        ("reader", "galera-lb", 3307), ("writer", "galera-lb", 3306),
        ("reader-local", "10.0.1.20", 3307), ("writer-local", "10.0.1.20", 3306)]
    assert len(runs) == 18


def test_local_task_missing_on_the_client_host_says_what_to_do():
    with pytest.raises(lb.BenchError, match=r"--local-lb: no galera-lb task runs on the client's host; set "
                                            r"BENCH_LB_CLIENT_HOST"):
        lb.local_task([lb.Task("10.0.1.21", "n2")], "n1", "galera-lb")


def test_main_options_prints_the_settings_for_the_script(monkeypatch):
    for name in ("TIME", "TABLES", "TABLE_SIZE", "IMAGE_TAG"):
        monkeypatch.delenv(f"BENCH_LB_{name}", raising=False)
    monkeypatch.setenv("BENCH_LB_THREADS", "2")
    out = io.StringIO()
    assert lb.main(["options", "--quick", "--local-lb", "--time", "9"], stdout=out) == 0
    assert out.getvalue().split() == ["9", "2", "2", "1000", "dev", "1.0.20+ds-5", "1", "sbtest"]


def test_main_plan_reads_inspected_tasks_and_getent_output(tmp_path):
    tasks = [inspected("10.0.1.7", "n3"), inspected("10.0.1.5", "n1"), inspected("10.0.1.6", "n2")]
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    (tmp_path / "lb.json").write_text(json.dumps([inspected("10.0.1.20", "n1")]))
    (tmp_path / "resolved.txt").write_text("".join(f"{a}  STREAM tasks.mysql-galera\n{a}  DGRAM\n"
                                                   for a in ("10.0.1.6", "10.0.1.5", "10.0.1.7")))
    out = io.StringIO()
    argv = ["plan", "--tasks", str(tmp_path / "tasks.json"), "--resolved", str(tmp_path / "resolved.txt"),
            "--network", "mynet", "--galera-service", "mysql-galera", "--load-balancer-service", "galera-lb",
            "--client-node", "n1", "--writer", "galera-lb:3306", "--reader", "galera-lb:3307",
            "--lb-tasks", str(tmp_path / "lb.json")]
    assert lb.main(argv, stdout=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["oltp_point_select all-nodes 10.0.1.5,10.0.1.6,10.0.1.7 3306",
                         "oltp_point_select one-node 10.0.1.6 3306"]
    assert lines[5] == "oltp_point_select writer-local 10.0.1.20 3306"
    assert [r.key for r in lb.read_plan(io.StringIO(out.getvalue()))][-1] == "oltp_read_write.writer-local"


def test_plan_refuses_dns_that_disagrees_with_the_tasks():
    with pytest.raises(lb.BenchError, match=r"tasks.mysql-galera resolves to 10.0.1.5, 10.0.1.6 but the running "
                                            r"tasks are 10.0.1.5, 10.0.1.6, 10.0.1.7: the stack is not settled"):
        lb.plan(TASKS, ["10.0.1.5", "10.0.1.6"], VIEW)


# ------------------------------------------------------------------ SQL and credentials
def test_schema_sql_creates_grants_and_drops_for_the_user():
    assert lb.schema_sql("setup", "o'brien") == (
        "CREATE DATABASE `sbtest`; GRANT ALL PRIVILEGES ON `sbtest`.* TO 'o\\'brien'@'%';")
    assert lb.schema_sql("cleanup", "wordpress") == (
        "DROP DATABASE IF EXISTS `sbtest`; REVOKE ALL PRIVILEGES ON `sbtest`.* FROM 'wordpress'@'%';")


def test_sysbench_conf_carries_user_and_password():
    assert lb.sysbench_conf("wordpress", "a=b#c;'\"\\") == "mysql-user=wordpress\nmysql-password=a=b#c;'\"\\\n"


def test_sysbench_conf_with_tls_turns_sysbench_ssl_on():
    assert lb.sysbench_conf("wordpress", "pw", tls=True) == "mysql-user=wordpress\nmysql-password=pw\nmysql-ssl=on\n"


def test_tls_files_come_from_the_certificate_commands_in_the_state():
    ca = tls.issue_ca("bench CA")
    node = tls.issue_certificate(ca, "mysql-galera", tls.node_names("mysql-galera"))
    exported = json.dumps(certificate_export(ca.to_json(), node.to_json()))
    names = io.StringIO()
    assert lb.main(["tls-files"], stdout=names) == 0
    got = {}
    for name in names.getvalue().split():
        out = io.StringIO()
        assert lb.main(["tls-file", name], stdin=io.StringIO(exported), stdout=out) == 0
        got[name] = out.getvalue()
    assert got == {"cacert.pem": ca.certificate, "client-cert.pem": node.certificate,
                   "client-key.pem": node.private_key}


def test_tls_file_of_a_stack_without_tls_says_so(capsys):
    assert lb.main(["tls-file", "cacert.pem"], stdin=io.StringIO('{"deployment": {"resources": []}}'),
                   stdout=io.StringIO()) == 1
    assert "does the stack run with tls.enabled?" in capsys.readouterr().err


def test_sysbench_conf_refuses_whitespace_naming_the_key():
    with pytest.raises(lb.BenchError, match=r"galera-swarm:appPassword: sysbench's --config-file cannot carry "
                                            r"whitespace"):
        lb.sysbench_conf("wordpress", "two words")


def test_client_cnf_quotes_the_password_for_the_option_file():
    assert lb.client_cnf("root", 'p w"x\\y') == '[client]\nuser="root"\npassword="p w\\"x\\\\y"\n'


def test_read_secret_drops_only_the_final_newline():
    assert lb.read_secret(io.StringIO("pw with end \n")) == "pw with end "


# ------------------------------------------------------------------ report
def results_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    for key, name in files.items():
        (tmp_path / f"{key}.txt").write_text(output(name))
    return tmp_path


def test_report_prints_the_table_and_the_ratio_lines(tmp_path):
    runs = lb.plan(TASKS, ["10.0.1.5", "10.0.1.6", "10.0.1.7"], VIEW)
    names = {"oltp_point_select": "oltp_point_select", "oltp_read_only": "oltp_read_only",
             "oltp_read_write": "oltp_read_write"}
    files = {r.key: names[r.workload] for r in runs}
    files["oltp_point_select.reader"] = "oltp_read_only"  # a slower reader: 1181.75 / 34955.60
    files["oltp_read_write.writer"] = "oltp_read_write-deadlocks"
    text = lb.report(runs, lb.results_in(results_dir(tmp_path, files), runs))
    lines = text.splitlines()
    assert lines[0].split() == ["workload", "path", "target", "TPS", "p95", "ms", "errors/s"]
    assert lines[1].split() == ["oltp_point_select", "all-nodes", "10.0.1.5,10.0.1.6,10.0.1.7:3306",
                                "34955.6", "0.24", "0.00"]
    assert lines[12].split() == ["oltp_read_write", "writer", "galera-lb:3306", "642.1", "48.34", "146.77"]
    assert "ratio oltp_point_select 0.03" in lines
    assert "p95-ratio oltp_point_select 23.21" in lines
    assert "ratio oltp_read_only 1.00" in lines
    assert "ratio oltp_read_write 1.11" in lines
    assert "p95-ratio oltp_read_write 3.93" in lines


def test_results_in_names_the_run_whose_output_failed(tmp_path):
    runs = [lb.Run("oltp_point_select", "all-nodes", "a,b", 3306)]
    (tmp_path / "oltp_point_select.all-nodes.txt").write_text(output("unknown-host"))
    with pytest.raises(lb.BenchError, match=r"oltp_point_select over all-nodes: sysbench failed: FATAL"):
        lb.results_in(tmp_path, runs)


def test_main_report_reads_the_plan_and_prints_ratios(tmp_path):
    plan_text = "oltp_read_write one-node 10.0.1.6 3306\noltp_read_write writer galera-lb 3306\n"
    results_dir(tmp_path, {"oltp_read_write.one-node": "oltp_read_write",
                           "oltp_read_write.writer": "oltp_read_write"})
    out = io.StringIO()
    assert lb.main(["report", str(tmp_path)], stdin=io.StringIO(plan_text), stdout=out) == 0
    assert "ratio oltp_read_write 1.00" in out.getvalue().splitlines()
    assert "ratio oltp_point_select" not in out.getvalue()


def test_main_stack_without_json_says_make_up(capsys):
    assert lb.main(["stack", "--client-host", "docker1"], stdin=io.StringIO(""), stdout=io.StringIO()) == 1
    assert capsys.readouterr().err == ("ERROR: `pulumi stack output --json` printed no JSON: is the stack up? "
                                       "run `make up` first\n")


def test_main_prints_one_error_line_and_fails(capsys):
    assert lb.main(["sysbench-conf", "--user", "wordpress"], stdin=io.StringIO("a b\n"), stdout=io.StringIO()) == 1
    assert capsys.readouterr().err.startswith("ERROR: galera-swarm:appPassword: sysbench's --config-file")

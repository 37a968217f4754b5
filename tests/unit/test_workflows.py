"""The pull-request preview workflow keeps production's secrets away from unread code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
# `${{ secrets.X }}` (or any expression) inside a shell line is parsed by the shell.
EXPRESSION = re.compile(r"\$\{\{")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_no_workflow_interpolates_an_expression_into_a_shell_line():
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                assert not EXPRESSION.search(step.get("run", "")), (path.name, step)


def test_preview_runs_only_for_the_repositorys_own_branches_after_approval():
    job = load("preview.yml")["jobs"]["preview"]
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert job["environment"] == "production-preview"
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False
    # The passphrase reaches only the step that runs the preview, never the job.
    assert "PULUMI_CONFIG_PASSPHRASE" not in job.get("env", {})


def test_preview_removes_the_ssh_key_whatever_failed():
    steps = load("preview.yml")["jobs"]["preview"]["steps"]
    writes = [s for s in steps if "~/.ssh/galera-swarm)" in s.get("run", "")]
    assert len(writes) == 1
    last = steps[-1]
    assert last["if"] == "always()"
    assert last["run"] == "rm -f ~/.ssh/galera-swarm"

#!/usr/bin/env python3
"""A stand-in for the `docker` CLI, enough for the swarm's removal scripts: answers from a JSON
swarm (FAKE_SWARM, rewritten on changes) and appends every call to FAKE_SWARM_LOG.

The swarm: {"local": {"NodeID", "LocalNodeState", "ControlAvailable"}, "nodes": {id: {"addr",
"state", "role", "manager_status", "labels", "tasks": [CurrentState...], "refuse_demote",
"running_polls"}}, "fail": [call prefix...]}.
A drain stops the node's tasks after `running_polls` (default 0) more `node ps` calls, and never
on a node that is `down` (swarm keeps their last state); a demote makes a manager a worker unless
it is told to refuse; a call that starts with a prefix in `fail` fails as the daemon would.
"""

import json
import os
import sys

path, log = os.environ["FAKE_SWARM"], os.environ["FAKE_SWARM_LOG"]
swarm = json.load(open(path))
args = sys.argv[1:]
with open(log, "a") as f:
    f.write(" ".join(args) + "\n")
nodes = swarm["nodes"]
call = " ".join(args)
if any(call.startswith(prefix) for prefix in swarm.get("fail", [])):
    sys.exit(f"Error response from daemon: fake failure of docker {call}")


def save():
    json.dump(swarm, open(path, "w"))


def field(node_id, fmt):
    node = nodes[node_id]
    return {"{{.Status.Addr}}": node["addr"], "{{.Status.State}}": node["state"],
            "{{.Spec.Role}}": node["role"], "{{.Description.Hostname}}": node.get("hostname", node_id),
            '{{index .Spec.Labels "galera-swarm.host"}}': node.get("labels", {}).get("galera-swarm.host", "")}[fmt]


if args[:2] == ["info", "--format"]:
    key = args[2].removeprefix("{{.Swarm.").removesuffix("}}")
    value = swarm["local"][key]
    print(str(value).lower() if isinstance(value, bool) else value)
elif args[:2] == ["node", "ls"]:
    ids = [i for i, n in nodes.items() if "role=manager" not in args or n["role"] == "manager"]
    if "--format" in args:
        for i in ids:
            fmt = args[args.index("--format") + 1]
            print(fmt.replace("{{.ID}}", i).replace("{{.ManagerStatus}}", nodes[i].get("manager_status", ""))
                  .replace("{{.Status}}", nodes[i]["state"].capitalize()))
    else:
        print("\n".join(ids))
elif args[:2] == ["node", "inspect"]:
    node_id = args[-1]
    if node_id not in nodes:
        sys.exit(f"Error: No such node: {node_id}")
    if "--format" in args:
        print(field(node_id, args[args.index("--format") + 1]))
elif args[:2] == ["node", "update"]:
    node = nodes[args[-1]]
    if "--availability" in args and args[args.index("--availability") + 1] == "drain" \
            and node["state"] != "down":
        node["polls_left"] = node.get("running_polls", 0)
    save()
elif args[:2] == ["node", "ps"]:
    node = nodes[args[-1]]
    if node.get("polls_left") == 0:
        node["tasks"] = ["Shutdown 1 second ago" for _ in node.get("tasks", [])]
        del node["polls_left"]
    elif "polls_left" in node:
        node["polls_left"] -= 1
    save()
    print("\n".join(node.get("tasks", [])))
elif args[:2] == ["node", "demote"]:
    node = nodes[args[-1]]
    if node.get("refuse_demote"):
        sys.exit("Error response from daemon: rpc error: can't remove member: would lose quorum")
    node["role"], node["manager_status"] = "worker", ""
    save()
elif args[:2] == ["node", "rm"]:
    del nodes[args[-1]]
    save()
elif args[:2] == ["swarm", "leave"]:
    swarm["local"].update(LocalNodeState="inactive", NodeID="", ControlAvailable=False)
    save()
else:
    sys.exit(f"fake docker: unexpected {args}")

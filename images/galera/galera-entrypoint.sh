#!/usr/bin/env bash
# Entrypoint of the galera image: MariaDB 10.11 + Galera 4 with etcd (v3) discovery.
#
# Every start goes through the same steps: read settings, wait for etcd, register this node
# under /galera/$CLUSTER_NAME/ with a lease kept alive, find out the state of the local data,
# decide (join a running cluster / bootstrap a new one / elect the most advanced node after a
# full stop), start mysqld and keep the registration up to date until mysqld stops.
#
# etcd layout under /galera/$CLUSTER_NAME/ (leased = disappears when the node stops renewing):
#   nodes/<name>     leased   "<address> <state> [<uuid> <seqno>]"
#                             state: starting|waiting|joining|bootstrapping|synced|donor|
#                             joined|non-primary|down; the position of the local data once
#                             known (kept in the same key so it can never outlive the node's run)
#   bootstrap        leased   "<name>"              the one node allowed to bootstrap
#   uuid             kept     "<cluster state uuid>" written once a cluster is Primary
#   members/<name>   kept     "<address>"           every node that has been Synced once
#
# etcd is where nodes coordinate, not the only evidence: a read that fails is retried (never
# taken for "nothing there"), a node whose data belongs to a cluster never starts a new one, and
# before any bootstrap the Galera port of every peer that etcd, PEERS_DNS or the data dir knows
# of is probed.
#
# The file only runs _main when executed, so tests can source it and call one function.
set -euo pipefail

readonly DATADIR=/var/lib/mysql
readonly GALERA_CNF=/etc/mysql/mariadb.conf.d/99-galera.cnf
readonly LEASE_FILE="$DATADIR/.galera-etcd-lease"
readonly ZERO_UUID=00000000-0000-0000-0000-000000000000
readonly MYSQLD=/usr/sbin/mariadbd
readonly DRAIN_FLAG=/run/galera-draining # galera-health answers 503 while it exists
readonly STATE_FILE=/run/galera-node-state # this node's state, read by galera-health
readonly PEERS_FILE="$DATADIR/.galera-peers" # the other members' addresses when last Synced

# ---------------------------------------------------------------- logging
readonly LOG_TAG=galera-entrypoint
# shellcheck source=../lib/entrypoint-lib.sh
source /usr/local/lib/galera-swarm/entrypoint-lib.sh
# shellcheck source=credentials-lib.sh
source /usr/local/lib/galera-swarm/credentials-lib.sh

# ---------------------------------------------------------------- settings
# require_setting VAR why: stop with an error naming VAR and how to set it.
require_setting() {
  local var=$1 why=$2
  [[ -n "${!var:-}" ]] || error "$var is not set ($why); set $var or ${var}_FILE (a file, e.g. a docker secret under /run/secrets)"
}

require_integer() {
  local var=$1
  [[ "${!var}" =~ ^[0-9]+$ ]] || error "$var=${!var} is not a whole number of seconds"
}

setup_env() {
  : "${CLUSTER_NAME:=galera}"
  : "${NODE_NAME:=$(hostname)}"
  : "${ETCD_WAIT_TIMEOUT:=60}"
  : "${RECOVERY_WAIT_TIMEOUT:=300}"
  : "${DISCONNECTED_TIMEOUT:=60}"
  : "${REGISTRATION_TTL:=10}"
  : "${SHUTDOWN_DRAIN_SECONDS:=3}"
  : "${EXTRA_MY_CNF:=}"
  : "${PEERS_DNS:=}"
  # Passwords stay shell variables: never exported to mariadbd and the SST scripts.
  file_env MYSQL_ROOT_PASSWORD
  file_env SST_PASSWORD
  file_env MYSQL_PASSWORD
  : "${MYSQL_DATABASE:=}"
  : "${MYSQL_USER:=}"
  require_setting DISCOVERY_SERVICE "etcd client address host:port[,host:port...], e.g. etcd:2379"
  require_setting MYSQL_ROOT_PASSWORD "password of the MariaDB root user"
  if [[ -n "$SST_PASSWORD" ]]; then
    note "SST_PASSWORD is set but no longer used: state transfers log in as 'mysql'@'localhost' through unix_socket, without a password"
  fi
  if [[ -n "$MYSQL_USER" ]]; then
    require_setting MYSQL_PASSWORD "password of MYSQL_USER=$MYSQL_USER"
  fi
  [[ "$CLUSTER_NAME" =~ ^[A-Za-z0-9_.-]+$ ]] || error "CLUSTER_NAME=$CLUSTER_NAME may hold only letters, digits, '.', '_' and '-'"
  [[ "$NODE_NAME" =~ ^[A-Za-z0-9_.-]+$ ]] || error "NODE_NAME=$NODE_NAME may hold only letters, digits, '.', '_' and '-'"
  [[ -z "$MYSQL_DATABASE" || "$MYSQL_DATABASE" =~ ^[A-Za-z0-9_$-]+$ ]] ||
    error "MYSQL_DATABASE=$MYSQL_DATABASE may hold only letters, digits, '_', '\$' and '-'"
  require_integer ETCD_WAIT_TIMEOUT
  require_integer RECOVERY_WAIT_TIMEOUT
  require_integer DISCONNECTED_TIMEOUT
  require_integer REGISTRATION_TTL
  require_integer SHUTDOWN_DRAIN_SECONDS
  PREFIX="/galera/$CLUSTER_NAME"
  ETCD_ENDPOINTS=$(etcd_endpoints "$DISCOVERY_SERVICE")
  export ETCDCTL_API=3
}

# etcd_endpoints "h1:p1,h2:p2" -> "http://h1:p1,http://h2:p2" (a given scheme is kept).
etcd_endpoints() {
  local list=$1 item items=() out=()
  IFS=, read -r -a items <<<"$list"
  for item in "${items[@]}"; do
    [[ "$item" == *://* ]] || item="http://$item"
    out+=("$item")
  done
  local IFS=,
  printf '%s\n' "${out[*]}"
}

# ---------------------------------------------------------------- etcd
etcdctl_() {
  etcdctl --endpoints="$ETCD_ENDPOINTS" --dial-timeout=2s --command-timeout=5s "$@"
}

# wait_for_etcd: until etcd answers or ETCD_WAIT_TIMEOUT seconds are over (then exit 1).
wait_for_etcd() {
  local deadline=$((SECONDS + ETCD_WAIT_TIMEOUT))
  note "waiting up to ${ETCD_WAIT_TIMEOUT}s for etcd at $ETCD_ENDPOINTS (DISCOVERY_SERVICE)"
  until etcdctl_ endpoint health >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      error "etcd unreachable at DISCOVERY_SERVICE=$DISCOVERY_SERVICE after ${ETCD_WAIT_TIMEOUT}s; check the address and that etcd runs (ETCD_WAIT_TIMEOUT sets the wait)"
    fi
    sleep 1
  done
  note "etcd is reachable at $ETCD_ENDPOINTS"
}

# default_node_address: source address of the route to the (first) etcd host, so that in a
# swarm the overlay address is picked even when the container sits on several networks.
default_node_address() {
  local host ip
  host=${ETCD_ENDPOINTS%%,*}
  host=${host#*://}
  host=${host%:*}
  if [[ "$host" =~ ^[0-9.]+$ ]]; then
    ip=$host
  else
    ip=$(getent ahostsv4 "$host" | awk 'NR==1 {print $1}')
  fi
  [[ -n "$ip" ]] || return 1
  ip -4 -o route get "$ip" | sed -n 's/.* src \([0-9.]*\).*/\1/p'
}

setup_node_address() {
  if [[ -z "${NODE_ADDRESS:-}" ]]; then
    NODE_ADDRESS=$(default_node_address) || true
    [[ -n "$NODE_ADDRESS" ]] || error "cannot derive NODE_ADDRESS from the route to $DISCOVERY_SERVICE; set NODE_ADDRESS"
  fi
  note "node $NODE_NAME, address $NODE_ADDRESS, cluster $CLUSTER_NAME, etcd prefix $PREFIX"
}

# register_node: a fresh lease kept alive in the background; an earlier lease of this node
# (left by a crash, id kept in the data dir) is revoked first so its stale keys go at once.
register_node() {
  local old_lease
  if [[ -s "$LEASE_FILE" ]]; then
    old_lease=$(<"$LEASE_FILE")
    if etcdctl_ lease revoke "$old_lease" >/dev/null 2>&1; then
      note "revoked the lease $old_lease of this node's previous run (its stale keys are gone)"
    fi
  fi
  etcdctl_ del "$PREFIX/nodes/$NODE_NAME" >/dev/null
  grant_lease || error "etcd did not grant a lease (DISCOVERY_SERVICE=$DISCOVERY_SERVICE)"
  publish_state starting
}

grant_lease() {
  local lease
  lease=$(etcdctl_ lease grant "$REGISTRATION_TTL" 2>/dev/null | awk '/granted/ {print $2}') || true
  [[ -n "$lease" ]] || return 1
  LEASE_ID=$lease
  printf '%s\n' "$LEASE_ID" >"$LEASE_FILE"
  etcdctl_ lease keep-alive "$LEASE_ID" >/dev/null 2>&1 &
  KEEPALIVE_PID=$!
  note "registered in etcd with lease $LEASE_ID (TTL ${REGISTRATION_TTL}s, kept alive)"
}

# keep_lease: re-grant and re-register when the keep-alive stopped (etcd was away too long,
# or lost its data). Never fatal: mysqld keeps serving while etcd is away.
keep_lease() {
  if ! kill -0 "$KEEPALIVE_PID" 2>/dev/null; then
    warn "lease keep-alive stopped; registering again with a new lease"
    if ! grant_lease; then
      warn "etcd at $ETCD_ENDPOINTS does not grant a lease yet; retrying"
      return 0
    fi
    publish_state "$NODE_STATE"
    RECORDED_SYNCED=0 # record membership and uuid again: etcd may have lost them
  fi
  [[ -s "$LEASE_FILE" ]] || printf '%s\n' "$LEASE_ID" >"$LEASE_FILE"
}

publish_state() {
  NODE_STATE=$1
  printf '%s\n' "$NODE_STATE" >"$STATE_FILE.tmp" && mv -f "$STATE_FILE.tmp" "$STATE_FILE"
  if etcdctl_ put --lease="$LEASE_ID" "$PREFIX/nodes/$NODE_NAME" \
    "$NODE_ADDRESS $NODE_STATE${MY_UUID:+ $MY_UUID $MY_SEQNO}" >/dev/null 2>&1; then
    PUBLISH_FAILING=0
  elif [[ "${PUBLISH_FAILING:-0}" == 0 ]]; then
    warn "could not publish state $NODE_STATE to etcd; retrying quietly until it works"
    PUBLISH_FAILING=1
  fi
}

# read_etcd: everything under $PREFIX/ in one read (one consistent revision) into ETCD_SNAPSHOT,
# "<key below the prefix> <value>" lines. False when etcd does not answer or fails: an error
# to retry, never "nothing there".
read_etcd() {
  local out key value
  out=$(etcdctl_ get --prefix "$PREFIX/" 2>/dev/null) || return 1
  ETCD_SNAPSHOT=$(printf '%s\n' "$out" | while IFS= read -r key && IFS= read -r value; do
    if [[ -n "$key" ]]; then printf '%s %s\n' "${key#"$PREFIX/"}" "$value"; fi
  done)
}

# etcd_list SUBDIR: "<name> <value>" lines for every key under SUBDIR/ in ETCD_SNAPSHOT.
etcd_list() {
  local dir="$1/" key value
  while read -r key value; do
    if [[ "$key" == "$dir"* ]]; then printf '%s %s\n' "${key#"$dir"}" "$value"; fi
  done <<<"${ETCD_SNAPSHOT:-}"
}

# etcd_value KEY: the value of KEY in ETCD_SNAPSHOT (empty when absent).
etcd_value() {
  local key value
  while read -r key value; do
    if [[ "$key" == "$1" ]]; then
      printf '%s\n' "$value"
      return 0
    fi
  done <<<"${ETCD_SNAPSHOT:-}"
}

# ---------------------------------------------------------------- peers
galera_port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/4567" 2>/dev/null
}

# synced_peers: addresses of other nodes that say they are Synced and answer on 4567.
# The port check skips registrations of crashed nodes whose lease has not yet expired.
synced_peers() {
  local name address state
  while read -r name address state _; do
    [[ "$name" != "$NODE_NAME" && "$state" == synced ]] || continue
    if galera_port_open "$address"; then printf '%s\n' "$address"; fi
  done < <(etcd_list nodes)
}

# peer_addresses: other nodes' addresses that do not come from etcd: PEERS_DNS (in a swarm
# tasks.<service>: every task of the service) and the members this node last saw Synced.
peer_addresses() {
  {
    if [[ -n "$PEERS_DNS" ]]; then getent ahostsv4 "$PEERS_DNS" | awk '{print $1}' || true; fi
    if [[ -s "$PEERS_FILE" ]]; then cat "$PEERS_FILE"; fi
  } | awk -v me="$NODE_ADDRESS" 'NF && $1 != me && !seen[$1]++ {print $1}'
}

# galera_running_elsewhere: true when another registered node, known member, PEERS_DNS address
# or last known peer answers on the Galera port (a cluster is forming or running even if etcd
# does not show it: etcd may have lost its data).
galera_running_elsewhere() {
  local name address rest
  while read -r name address rest; do
    [[ "$name" != "$NODE_NAME" && -n "$address" ]] || continue
    if galera_port_open "$address"; then
      note "$name at $address answers on port 4567"
      return 0
    fi
  done < <(etcd_list nodes; etcd_list members)
  while read -r address; do
    if galera_port_open "$address"; then
      note "peer $address answers on port 4567 (from PEERS_DNS=${PEERS_DNS:-} or the members last seen Synced; not in etcd)"
      return 0
    fi
  done < <(peer_addresses)
  return 1
}

# remember_peers "ip:port,ip:port": the other members' addresses (wsrep_incoming_addresses),
# kept in the data dir as evidence of a running cluster should etcd forget it.
remember_peers() {
  local peers
  peers=$(tr ',' '\n' <<<"$1" | sed 's/:[0-9]*$//' | awk -v me="$NODE_ADDRESS" 'NF && $1 != me' | sort -u)
  if [[ -n "$peers" && "$peers" != "$(cat "$PEERS_FILE" 2>/dev/null)" ]]; then
    printf '%s\n' "$peers" >"$PEERS_FILE"
  fi
}

# ---------------------------------------------------------------- local state
# No wsrep_sst_auth: on the donor mariabackup runs as the OS user mysql and logs in as
# 'mysql'@'localhost' through unix_socket, so SST needs no password (nor its rotation).
write_config() {
  install -d -o mysql -g mysql /run/mysqld
  umask 077
  cat >"$GALERA_CNF" <<EOF
# Written by galera-entrypoint at each start.
[mysqld]
bind-address = 0.0.0.0
skip-name-resolve
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
innodb_flush_log_at_trx_commit = 1
wsrep_on = ON
wsrep_provider = /usr/lib/galera/libgalera_smm.so
wsrep_cluster_name = $CLUSTER_NAME
wsrep_node_name = $NODE_NAME
wsrep_node_address = $NODE_ADDRESS
wsrep_sst_method = mariabackup
wsrep_provider_options = "gcache.size=256M"
$EXTRA_MY_CNF
EOF
  chown mysql:mysql "$GALERA_CNF"
  chmod 0600 "$GALERA_CNF"
  umask 022
}

# grastate_field NAME: value of "NAME:" in grastate.dat (empty when absent).
grastate_field() {
  [[ -f "$DATADIR/grastate.dat" ]] || return 0
  sed -n "s/^$1:[[:space:]]*//p" "$DATADIR/grastate.dat" | head -n1
}

# wsrep_recover: the position InnoDB recovered, as "uuid:seqno" (mysqld --wsrep-recover).
wsrep_recover() {
  local log=/tmp/wsrep-recover.log position
  rm -f "$log"
  "$MYSQLD" --user=mysql --wsrep-recover --wsrep-cluster-address=gcomm:// \
    --log-error="$log" >/dev/null 2>&1 || true
  position=$(sed -n 's/.*WSREP: Recovered position: *\([0-9a-f-]*:-\{0,1\}[0-9]*\).*/\1/p' "$log" | tail -n1)
  if [[ -z "$position" ]]; then
    warn "mysqld --wsrep-recover found no position; its log:"
    sed 's/^/    /' "$log" >&2 || true
    return 1
  fi
  printf '%s\n' "$position"
}

# local_position: sets MY_UUID and MY_SEQNO from grastate.dat, or from InnoDB when the
# seqno is -1 (the node crashed or was killed while running). No data: zero uuid, -1.
local_position() {
  MY_UUID=$ZERO_UUID
  MY_SEQNO=-1
  RECOVERED_START_POSITION=""
  if [[ ! -d "$DATADIR/mysql" ]]; then
    note "position: none (empty data directory)"
    return 0
  fi
  local uuid seqno position
  uuid=$(grastate_field uuid)
  seqno=$(grastate_field seqno)
  if [[ -z "$uuid" || "$uuid" == "$ZERO_UUID" ]]; then
    note "position: none (data directory was never part of a cluster)"
    return 0
  fi
  if [[ "$seqno" == "-1" || -z "$seqno" ]]; then
    note "grastate.dat has seqno -1 (unclean stop); recovering the position with mysqld --wsrep-recover"
    if position=$(wsrep_recover); then
      uuid=${position%:*}
      seqno=${position##*:}
      RECOVERED_START_POSITION=$position
    fi
  fi
  MY_UUID=$uuid
  MY_SEQNO=${seqno:--1}
  note "position: $MY_UUID:$MY_SEQNO (safe_to_bootstrap=$(grastate_field safe_to_bootstrap))"
}

has_cluster_data() { [[ "$MY_UUID" != "$ZERO_UUID" ]]; }

set_safe_to_bootstrap() {
  if [[ -f "$DATADIR/grastate.dat" ]]; then
    sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "$DATADIR/grastate.dat"
    note "set safe_to_bootstrap: 1 in grastate.dat"
  fi
}

# init_datadir: a new data directory with the root, SST and application users, made with a
# temporary server without networking or replication (only the bootstrapping node does this).
init_datadir() {
  if has_cluster_data; then
    error "refusing to initialize $DATADIR: it holds data of cluster $MY_UUID (seqno $MY_SEQNO)"
  fi
  note "initializing a new data directory"
  find "$DATADIR" -mindepth 1 -delete
  chown mysql:mysql "$DATADIR"
  mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
    --auth-root-authentication-method=socket --wsrep-on=OFF --wsrep-provider=none >/dev/null
  local socket=/run/mysqld/init.sock pid
  "$MYSQLD" --user=mysql --wsrep-on=OFF --wsrep-provider=none --skip-networking \
    --socket="$socket" --log-error=/tmp/init-mysqld.log &
  pid=$!
  local tries=0
  until mariadb --protocol=socket --socket="$socket" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
    ((++tries <= 60)) || error "temporary server for initialization did not start: $(tail -n5 /tmp/init-mysqld.log)"
    sleep 1
  done
  { init_sql && credentials_sql discard; } | mariadb --protocol=socket --socket="$socket" -uroot
  kill -TERM "$pid"
  wait "$pid" || true
  note "data directory initialized (root, mysql@localhost for SST${MYSQL_USER:+, $MYSQL_USER}${MYSQL_DATABASE:+, database $MYSQL_DATABASE})"
}

# init_sql: what only a new data directory needs. mariadb-install-db makes 'mysql'@'localhost'
# (unix_socket) with every privilege: it keeps only those SST needs (credentials_sql).
init_sql() {
  cat <<'EOF'
CREATE USER 'root'@'%';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'mysql'@'localhost';
EOF
}

# apply_credentials: once Synced, make the passwords of the settings (the secret files) valid for
# the whole cluster, keeping the current ones too (credentials_sql retain): a rolling restart
# with new secrets is how passwords are rotated, and the clients still on the old passwords keep
# working until `galera-passwords discard-old` ends the rotation. Logs in through unix_socket.
apply_credentials() {
  local err
  if err=$(credentials_sql retain | mariadb --protocol=socket -uroot 2>&1); then
    note "passwords of the settings accepted for root@localhost, root@'%'${MYSQL_USER:+, $MYSQL_USER@'%'} (replicated to every node; older ones stay valid until galera-passwords discard-old)"
    return 0
  fi
  warn "could not apply the passwords yet (retrying): $err"
  return 1
}

# ---------------------------------------------------------------- decision
# try_take_bootstrap: race-free through an etcd transaction; true for exactly one node.
# With need_no_cluster=1 it also requires that no cluster uuid is recorded yet.
try_take_bootstrap() {
  local need_no_cluster=$1 compares result
  compares="create(\"$PREFIX/bootstrap\") = \"0\""
  if [[ "$need_no_cluster" == 1 ]]; then
    compares+=$'\n'"create(\"$PREFIX/uuid\") = \"0\""
  fi
  result=$(printf '%s\n\nput --lease=%s %s %s\n\n\n' "$compares" "$LEASE_ID" \
    "$PREFIX/bootstrap" "$NODE_NAME" | etcdctl_ txn 2>&1 | head -n1) || true
  [[ "$result" == SUCCESS ]]
}

# elect_recovery_winner: name of the node that should bootstrap after a full stop, from the
# published positions "<name> <uuid> <seqno>" on stdin: highest seqno among the nodes that
# hold the cluster's uuid; ties go to the lowest name so every node computes the same one.
elect_recovery_winner() {
  local cluster_uuid=$1
  awk -v want="$cluster_uuid" -v zero="$ZERO_UUID" '
    $2 != zero && (want == "" || $2 == want) { print $3, $1 }' |
    sort -k1,1nr -k2,2 | awk 'NR==1 {print $2}'
}

# decide: sets DECISION (join|bootstrap-new|bootstrap-recovered) and JOIN_ADDRESSES.
decide() {
  local cluster_uuid holder peers members positions missing winner reading deadline
  local last_wait="" timeout_warned=0
  publish_state waiting # with this node's position
  deadline=$((SECONDS + RECOVERY_WAIT_TIMEOUT))
  while :; do
    # One consistent read per round; a failed read decides nothing.
    if ! read_etcd; then
      wait_note "etcd read failed (etcd at $ETCD_ENDPOINTS does not answer); retrying, deciding nothing until it does"
      sleep 2
      continue
    fi
    if ! registered_in_snapshot; then
      # etcd lost this node's registration (wiped, or its lease expired while etcd was away).
      wait_note "this node's registration is missing in etcd; registering again"
      register_again || true
      sleep 1
      continue
    fi
    peers=$(synced_peers | paste -sd, -)
    if [[ -n "$peers" ]]; then
      JOIN_ADDRESSES=$peers
      DECISION="join"
      note "decision: join the running cluster through gcomm://$peers (Synced peers in etcd)"
      return 0
    fi
    holder=$(etcd_value bootstrap)
    if [[ -n "$holder" && "$holder" != "$NODE_NAME" ]]; then
      wait_note "node $holder is bootstrapping; waiting for it to be Synced, then joining"
      sleep 2
      continue
    fi
    cluster_uuid=$(etcd_value uuid)
    # Positions of the nodes now deciding: "<name> <uuid> <seqno>".
    positions=$(etcd_list nodes | awk '$3 == "waiting" && NF >= 5 {print $1, $4, $5}')
    if [[ -z "$cluster_uuid" ]] && ! has_cluster_data &&
      ! awk -v zero="$ZERO_UUID" 'NF && $2 != zero {found=1} END {exit !found}' <<<"$positions"; then
      # No cluster was ever recorded and nobody holds data: a new cluster; one node wins.
      # A node still reading its position (state "starting") may hold data: wait for it.
      reading=$(etcd_list nodes | awk '$3 == "starting" {print $1}' | paste -sd' ' -)
      if [[ -n "$reading" ]]; then
        wait_note "waiting for $reading to publish its position before forming a new cluster"
        sleep 1
        continue
      fi
      # etcd may have lost a running cluster: then this empty node must join it, not start one.
      if galera_running_elsewhere; then
        wait_note "etcd records no cluster but a Galera node answers; not starting a new cluster, waiting for it to show up in etcd"
        sleep 2
        continue
      fi
      if try_take_bootstrap 1; then
        DECISION=bootstrap-new
        note "decision: bootstrap a NEW cluster (won the etcd transaction on $PREFIX/bootstrap; no cluster uuid recorded, no node holds data, no Galera port answers)"
        return 0
      fi
      wait_note "another node won the bootstrap transaction; waiting for it"
      sleep 1
      continue
    fi
    # A cluster existed and none of its nodes runs: elect the most advanced node.
    if [[ -z "$cluster_uuid" && $SECONDS -lt $deadline ]]; then
      # etcd lost the record (or the first bootstrap died early): who the members are is
      # unknown, so give every node the full wait to publish its position.
      wait_note "nodes hold data but etcd records no cluster; waiting ${RECOVERY_WAIT_TIMEOUT}s (RECOVERY_WAIT_TIMEOUT) for all positions before electing"
      sleep 2
      continue
    fi
    members=$(etcd_list members | awk '{print $1}')
    missing=$(comm -23 <(sort -u <<<"$members" | sed '/^$/d') <(awk '{print $1}' <<<"$positions" | sort -u))
    if [[ -n "$missing" && $SECONDS -lt $deadline ]]; then
      wait_note "full-cluster recovery: waiting up to ${RECOVERY_WAIT_TIMEOUT}s (RECOVERY_WAIT_TIMEOUT) for the positions of $(paste -sd' ' <<<"$missing"); known: [$(paste -sd';' <<<"$positions")]"
      sleep 2
      continue
    fi
    if [[ -n "$missing" && "$timeout_warned" == 0 ]]; then
      warn "RECOVERY_WAIT_TIMEOUT=${RECOVERY_WAIT_TIMEOUT}s passed without the positions of $(paste -sd' ' <<<"$missing"); electing among the nodes present (a missing node that is more advanced would lose its newer transactions)"
      timeout_warned=1
    fi
    winner=$(elect_recovery_winner "$cluster_uuid" <<<"$positions")
    if [[ -z "$winner" ]]; then
      wait_note "no published position holds data of cluster ${cluster_uuid:-?}; waiting for a node that has it"
      sleep 2
      continue
    fi
    if [[ "$winner" != "$NODE_NAME" ]]; then
      wait_note "full-cluster recovery: $winner is the most advanced ($(awk -v w="$winner" '$1==w {print $2":"$3}' <<<"$positions")); waiting for it to bootstrap, then joining"
      sleep 2
      continue
    fi
    if galera_running_elsewhere; then
      wait_note "a Galera node is up elsewhere; not bootstrapping, waiting for it to be Synced"
      sleep 2
      continue
    fi
    if try_take_bootstrap 0; then
      DECISION=bootstrap-recovered
      note "decision: bootstrap the RECOVERED cluster: this node has the highest seqno $MY_SEQNO of cluster $MY_UUID among positions [$(paste -sd';' <<<"$positions")]; no Galera port of a peer answers"
      return 0
    fi
    sleep 1
  done
}

# registered_in_snapshot: this node's own registration (with its position) is in ETCD_SNAPSHOT.
registered_in_snapshot() {
  [[ "$(etcd_value "nodes/$NODE_NAME")" == "$NODE_ADDRESS $NODE_STATE"* ]]
}

# register_again: a new lease (the old one may be gone with etcd's data) and the registration.
register_again() {
  if [[ -n "${KEEPALIVE_PID:-}" ]]; then kill "$KEEPALIVE_PID" 2>/dev/null || true; fi
  grant_lease || return 1
  publish_state "$NODE_STATE"
}

# wait_note: log a waiting reason once, not every poll.
wait_note() {
  if [[ "$1" != "${last_wait:-}" ]]; then
    note "$1"
    last_wait=$1
  fi
}

# ---------------------------------------------------------------- run
start_health_server() {
  socat -T 5 TCP-LISTEN:9200,reuseaddr,fork,backlog=32 \
    EXEC:"/usr/local/bin/galera-health --http" 2>/dev/null &
  HEALTH_PID=$!
}

start_mysqld() {
  local args=(--user=mysql)
  case "$DECISION" in
    bootstrap-new)
      init_datadir
      args+=(--wsrep-new-cluster --wsrep-cluster-address=gcomm://)
      publish_state bootstrapping
      ;;
    bootstrap-recovered)
      set_safe_to_bootstrap
      args+=(--wsrep-new-cluster --wsrep-cluster-address=gcomm://)
      publish_state bootstrapping
      ;;
    join)
      args+=(--wsrep-cluster-address="gcomm://$JOIN_ADDRESSES")
      publish_state joining
      ;;
  esac
  if [[ -n "$RECOVERED_START_POSITION" && "$DECISION" != bootstrap-new ]]; then
    args+=(--wsrep-start-position="$RECOVERED_START_POSITION")
  fi
  chown mysql:mysql "$DATADIR"
  args+=("${MYSQLD_EXTRA_ARGS[@]}")
  note "starting mariadbd ${args[*]}"
  "$MYSQLD" "${args[@]}" &
  MYSQLD_PID=$!
}

# wsrep_status: "<local_state> <cluster_status> <uuid> <incoming addresses>" from the running
# server (socket, as root).
wsrep_status() {
  mariadb --protocol=socket -uroot -N -B -e \
    "SELECT MAX(IF(VARIABLE_NAME='WSREP_LOCAL_STATE', VARIABLE_VALUE, NULL)),
            MAX(IF(VARIABLE_NAME='WSREP_CLUSTER_STATUS', VARIABLE_VALUE, NULL)),
            MAX(IF(VARIABLE_NAME='WSREP_CLUSTER_STATE_UUID', VARIABLE_VALUE, NULL)),
            MAX(IF(VARIABLE_NAME='WSREP_INCOMING_ADDRESSES', VARIABLE_VALUE, NULL))
       FROM information_schema.GLOBAL_STATUS
      WHERE VARIABLE_NAME IN ('WSREP_LOCAL_STATE','WSREP_CLUSTER_STATUS','WSREP_CLUSTER_STATE_UUID',
                              'WSREP_INCOMING_ADDRESSES')" 2>/dev/null
}

state_name() {
  case "$1:$2" in
    4:Primary) echo synced ;;
    2:Primary) echo donor ;;
    3:Primary) echo joined ;;
    1:*) echo joining ;;
    *:non-Primary | *:Disconnected) echo non-primary ;;
    *) echo down ;;
  esac
}

# on_synced: once Synced, the node is a member, the cluster uuid is known, no position needed.
# False when etcd fails: the caller retries at its next round.
on_synced() {
  local uuid=$1 recorded
  record_member || return 1
  read_etcd || return 1
  recorded=$(etcd_value uuid)
  if [[ -z "$recorded" ]]; then
    record_uuid "$uuid" || return 1
  elif [[ "$recorded" != "$uuid" ]]; then
    warn "this node's cluster uuid $uuid differs from $recorded recorded in etcd ($PREFIX/uuid)"
  fi
  note "node is a full member of the Primary component of cluster $uuid (decision was: $DECISION)"
}

record_member() {
  etcdctl_ put "$PREFIX/members/$NODE_NAME" "$NODE_ADDRESS" >/dev/null 2>&1
}

# record_uuid UUID: only if no uuid is recorded (a transaction: never overwrites another's).
record_uuid() {
  local result
  result=$(printf 'create("%s") = "0"\n\nput %s %s\n\n\n' "$PREFIX/uuid" "$PREFIX/uuid" "$1" |
    etcdctl_ txn 2>/dev/null | head -n1) || return 1
  if [[ "$result" == SUCCESS ]]; then note "recorded cluster uuid $1 in etcd"; fi
  [[ "$result" == SUCCESS || "$result" == FAILURE ]]
}

# monitor: publish the node state every 2 s while mysqld runs; return mysqld's exit status.
# restart_if_disconnected CLUSTER_STATUS: stop mariadbd once the Galera provider has been closed
# (wsrep_cluster_status Disconnected, not a partition's non-Primary) for DISCONNECTED_TIMEOUT
# seconds. Galera closes it after e.g. "Receiving IST failed, node restart required" and never
# reconnects by itself; the task then exits and the swarm starts it again, to join afresh.
restart_if_disconnected() {
  if [[ "$1" != Disconnected ]]; then
    DISCONNECTED_SINCE=
    return 0
  fi
  : "${DISCONNECTED_SINCE:=$SECONDS}"
  if ((SECONDS - DISCONNECTED_SINCE >= DISCONNECTED_TIMEOUT)); then
    warn "the Galera provider has been disconnected for ${DISCONNECTED_TIMEOUT}s (DISCONNECTED_TIMEOUT) and does not reconnect by itself: stopping mariadbd so that the node starts again and joins afresh"
    kill -TERM "$MYSQLD_PID" 2>/dev/null || true
    STOPPED_DISCONNECTED=1
    DISCONNECTED_SINCE=
  fi
}

monitor() {
  local status local_state cluster_status uuid incoming state
  RECORDED_SYNCED=0
  CREDENTIALS_APPLIED=0
  DISCONNECTED_SINCE=
  STOPPED_DISCONNECTED=0
  while kill -0 "$MYSQLD_PID" 2>/dev/null; do
    status=$(wsrep_status || true)
    read -r local_state cluster_status uuid incoming <<<"${status:-x x x x}" || true
    state=$(state_name "$local_state" "$cluster_status")
    restart_if_disconnected "$cluster_status"
    # No answer yet while joining (SST) or bootstrapping: keep saying so.
    if [[ "$state" == down && "$NODE_STATE" =~ ^(joining|bootstrapping)$ ]]; then
      state=$NODE_STATE
    fi
    if [[ "$state" != "$NODE_STATE" ]]; then
      note "state: $state (wsrep_local_state=$local_state, wsrep_cluster_status=$cluster_status)"
    fi
    keep_lease
    publish_state "$state"
    # Donor (2) also means a full member of the Primary component (e.g. right after a FTWRL).
    if [[ "$state" =~ ^(synced|donor)$ && "$RECORDED_SYNCED" == 0 ]]; then
      if on_synced "$uuid"; then RECORDED_SYNCED=1; fi
    fi
    # Synced (not a donor in the middle of a backup): the passwords of the settings, once a run.
    if [[ "$state" == synced && "$CREDENTIALS_APPLIED" == 0 ]]; then
      if apply_credentials; then CREDENTIALS_APPLIED=1; fi
    fi
    if [[ "$state" == synced ]]; then remember_peers "${incoming:-}"; fi
    if ! kill -0 "$HEALTH_PID" 2>/dev/null; then start_health_server; fi
    sleep 2 &
    wait $! || true
  done
  local rc=0
  wait "$MYSQLD_PID" || rc=$?
  # Stopped for being disconnected: a failure, whatever status mariadbd exits with.
  if [[ "$STOPPED_DISCONNECTED" == 1 && "$rc" == 0 ]]; then rc=1; fi
  return "$rc"
}

# shutdown: SIGTERM/SIGINT: first the health endpoint says 503 for SHUTDOWN_DRAIN_SECONDS so
# load balancers stop sending connections, then mysqld stops cleanly and the registration goes.
shutdown() {
  if [[ -n "${MYSQLD_PID:-}" ]] && kill -0 "$MYSQLD_PID" 2>/dev/null; then
    touch "$DRAIN_FLAG"
    publish_state down
    note "signal received; draining for ${SHUTDOWN_DRAIN_SECONDS}s (health answers 503), then stopping mariadbd"
    sleep "$SHUTDOWN_DRAIN_SECONDS"
  else
    note "signal received; stopping"
  fi
  if [[ -n "${MYSQLD_PID:-}" ]]; then
    kill -TERM "$MYSQLD_PID" 2>/dev/null || true
    wait "$MYSQLD_PID" 2>/dev/null || true
  fi
  cleanup
  note "stopped"
  exit 0
}

# cleanup: give up the registration at once (also after an error) so no one waits for it.
cleanup() {
  if [[ -n "${LEASE_ID:-}" ]]; then
    etcdctl_ lease revoke "$LEASE_ID" >/dev/null 2>&1 || true
    rm -f "$LEASE_FILE"
    LEASE_ID=""
  fi
  local pid
  for pid in "${KEEPALIVE_PID:-}" "${HEALTH_PID:-}"; do
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
  done
}

_main() {
  if [[ "${1:-}" != "" && "${1:0:1}" != "-" ]]; then
    exec "$@" # e.g. `docker run IMAGE bash`
  fi
  MYSQLD_EXTRA_ARGS=("$@") # `docker run IMAGE --some-mysqld-option`
  setup_env
  rm -f "$DRAIN_FLAG" "$STATE_FILE" # both may be left by a previous run of this container
  trap shutdown TERM INT
  trap cleanup EXIT
  wait_for_etcd
  setup_node_address
  write_config
  start_health_server
  register_node
  local_position
  decide
  start_mysqld
  local rc=0
  monitor || rc=$?
  note "mariadbd exited with status $rc"
  cleanup
  exit "$rc"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  _main "$@"
fi

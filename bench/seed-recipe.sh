#!/usr/bin/env bash
# The seed recipe by hand, with the plain docker CLI over SSH on the lab's hosts: what an
# operator types without this project. `up` goes from bare hosts to 3/3 Galera nodes Synced
# and WordPress answering; `down` leaves bare hosts again. Same images, same settings as the
# dev stack (dnsrr + host-mode ports, because the lab kernel has no IPVS).
#
# Usage: bench/seed-recipe.sh up|down      (after lab/lab up)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT LAB="$ROOT/lab/lab"
readonly HOSTS=(docker1 docker2 docker3)
readonly LEADER_ADDR=172.30.213.11
readonly IMAGES=172.30.213.5:5000/galera-swarm
readonly TAG=dev

note() { printf '%s [seed-recipe] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

on() { local host=$1; shift; "$LAB" ssh "$host" "$*"; }

form_swarm() {
  on docker1 docker swarm init --advertise-addr "$LEADER_ADDR" >/dev/null
  local token host
  token=$(on docker1 docker swarm join-token -q manager)
  for host in docker2 docker3; do
    on "$host" docker swarm join --token "$token" "$LEADER_ADDR:2377" >/dev/null &
  done
  wait
}

create_secrets() {
  local name
  for name in mysql-root-password mysql-app-password etcd-root-password etcd-galera-password; do
    openssl rand -hex 16 | "$LAB" ssh docker1 "docker secret create $name -" >/dev/null
  done
}

create_services() {
  on docker1 docker network create -d overlay --attachable mynet >/dev/null
  create_secrets
  on docker1 docker service create -d --name etcd --network mynet --endpoint-mode dnsrr \
    --hostname etcd -e ETCD_NAME=etcd \
    -e ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379 -e ETCD_ADVERTISE_CLIENT_URLS=http://etcd:2379 \
    -e ETCD_LISTEN_PEER_URLS=http://0.0.0.0:2380 -e ETCD_INITIAL_ADVERTISE_PEER_URLS=http://etcd:2380 \
    -e ETCD_INITIAL_CLUSTER=etcd=http://etcd:2380 \
    --secret etcd-root-password --secret etcd-galera-password \
    -e ETCD_ROOT_PASSWORD_FILE=/run/secrets/etcd-root-password \
    -e ETCD_GALERA_PASSWORD_FILE=/run/secrets/etcd-galera-password "$IMAGES/etcd:$TAG" >/dev/null
  on docker1 docker service create -d --name mysql-galera --replicas 3 --replicas-max-per-node 1 \
    --network mynet --endpoint-mode dnsrr --hostname "'{{.Service.Name}}-{{.Node.Hostname}}'" \
    --mount "'type=volume,source={{.Service.Name}}-data,target=/var/lib/mysql'" \
    --secret mysql-root-password --secret mysql-app-password --secret etcd-galera-password \
    -e CLUSTER_NAME=galera -e DISCOVERY_SERVICE=etcd:2379 \
    -e ETCD_PASSWORD_FILE=/run/secrets/etcd-galera-password \
    -e MYSQL_ROOT_PASSWORD_FILE=/run/secrets/mysql-root-password \
    -e PEERS_DNS=tasks.mysql-galera \
    -e MYSQL_DATABASE=wordpress -e MYSQL_USER=wordpress \
    -e MYSQL_PASSWORD_FILE=/run/secrets/mysql-app-password "$IMAGES/galera:$TAG" >/dev/null
  on docker1 docker service create -d --name galera-lb --replicas 2 --network mynet \
    --endpoint-mode dnsrr "$IMAGES/haproxy:$TAG" >/dev/null
  on docker1 docker service create -d --name wordpress --replicas 2 --replicas-max-per-node 1 \
    --network mynet --endpoint-mode dnsrr --publish mode=host,target=80,published=80 \
    --secret mysql-app-password -e WORDPRESS_DB_HOST=galera-lb -e WORDPRESS_DB_NAME=wordpress \
    -e WORDPRESS_DB_USER=wordpress -e WORDPRESS_DB_PASSWORD_FILE=/run/secrets/mysql-app-password \
    "$IMAGES/wordpress:$TAG" >/dev/null
}

node_synced() {
  on "$1" "docker exec \$(docker ps -q --filter label=com.docker.swarm.service.name=mysql-galera) \
    galera-health --check" >/dev/null 2>&1
}

wordpress_answers() {
  local host
  for host in "${HOSTS[@]}"; do
    curl -fs -o /dev/null "http://172.30.213.1$((${host#docker}))/wp-admin/install.php" && return 0
  done
  return 1
}

wait_until_ready() {
  local host
  for host in "${HOSTS[@]}"; do
    until node_synced "$host"; do sleep 1; done
  done
  until wordpress_answers; do sleep 1; done
}

cmd_up() {
  local started=$SECONDS
  form_swarm
  create_services
  wait_until_ready
  note "bare hosts to 3/3 Synced + WordPress answering in $((SECONDS - started)) s"
}

cmd_down() {
  local host
  for host in docker2 docker3 docker1; do
    on "$host" docker swarm leave --force >/dev/null 2>&1 || true
  done
  for host in "${HOSTS[@]}"; do
    # Data volumes, and the anonymous ones the images declare.
    on "$host" 'docker volume prune -f >/dev/null'
  done
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
  esac
}

main "$@"

"""galera-swarm: bare Docker hosts over SSH in; a swarm running etcd, a Galera cluster, a
Galera-aware load balancer and WordPress out. This file is the only one that knows the stack:
it reads config, maps the settings onto each component's typed args, wires the components and
exports what an operator inspects by hand."""

from pathlib import Path

import pulumi

from components.cluster_certificates import ClusterCertificates, ClusterCertificatesArgs
from components.etcd_discovery import EtcdDiscovery, EtcdDiscoveryArgs, member_names
from components.galera_backup import GaleraBackup, GaleraBackupArgs, RetentionPolicy
from components.galera_service import GaleraService, GaleraServiceArgs, ResourceLimits
from components.load_balancer import GaleraLoadBalancer, GaleraLoadBalancerArgs
from components.overlay_network import OverlayNetwork, OverlayNetworkArgs
from components.password_rotation import PasswordRotation, PasswordRotationArgs
from components.service_spec import ServiceModes
from components.swarm_cluster import LeavingHost, SshLogin, SwarmCluster, SwarmClusterArgs, SwarmHost
from components.wordpress_app import WordPressApp, WordPressAppArgs
from galera_swarm.lifecycle import (ETCD_HOSTS_OUTPUT, HOSTS_OUTPUT, LEADER_OUTPUT, TLS_EXPIRY_OUTPUT, host_keys,
                                    kept_etcd_hosts, leaving_hosts, read_previous_deployment, tls_change)
from galera_swarm import known_hosts
from galera_swarm.placement import etcd_member_hosts
from galera_swarm.settings import ConfigError, load_settings

try:
    settings = load_settings()
    ssh = settings.ssh
    key_path = known_hosts.login_key_path(ssh)
    # The key every host must present, and a look at what each presents now: a host that
    # answers with another key stops preview and up here, before anything runs there.
    expected_keys = known_hosts.expected_host_keys(settings.hosts, ssh, settings.leader)
    warnings = [*settings.warnings, *known_hosts.check_offered(settings.hosts, expected_keys, ssh)]
    # Each host keeps the key it joined under (a rename or reorder deletes nothing); changes
    # that would remove a node still in use are refused here, before anything runs.
    previous = read_previous_deployment()
    keys = host_keys(settings.hosts, previous)
    leaving = leaving_hosts(keys, previous)
    # TLS switched on or off for a running cluster is no rolling change.
    tls_problem, tls_warning = tls_change(settings.tls.enabled, "enabled" in settings.tls.model_fields_set, previous)
    if tls_problem:
        raise ConfigError([tls_problem])
    warnings += [tls_warning] if tls_warning else []
    # The sftp repository's key and known_hosts lines (None: no backups, or not sftp).
    backup_login = known_hosts.backup_sftp_login(settings.backup) if settings.backup else None
except ConfigError as err:
    # RunError prints the message alone: the config problems, no Python traceback.
    raise pulumi.RunError(str(err)) from None
for warning in warnings:
    pulumi.log.warn(warning)

key_of = {h.name: key for key, h in zip(keys, settings.hosts)}

swarm = SwarmCluster("swarm", SwarmClusterArgs(
    hosts=[SwarmHost(key=key, name=h.name, address=h.address, advertise_address=h.advertise_address,
                     role=h.role, availability=h.availability, labels=dict(h.labels),
                     host_key=expected_keys.get(h.address))
           for key, h in zip(keys, settings.hosts)],
    ssh=SshLogin(user=ssh.user, port=ssh.port, private_key_path=str(key_path) if key_path else None,
                 ignore_host_key=ssh.ignore_host_key,
                 known_hosts_path=None if ssh.ignore_host_key else str(Path(ssh.known_hosts_path).expanduser().resolve())),
    # With the agent no private key goes anywhere: neither into a command's state nor to the provider.
    private_key=pulumi.Output.secret(key_path.read_text()) if key_path else None,
    # Drained before any service changes: a Galera scale-down then drops the nodes that were there.
    leaving=[LeavingHost(key=h.key, name=h.name, advertise_address=h.advertise_address) for h in leaving]))

# Every docker resource goes through the swarm leader; the components' children inherit it.
on_swarm = pulumi.ResourceOptions(providers=[swarm.provider])
modes = ServiceModes(endpoint_mode=settings.endpoint_mode, publish_mode=settings.publish_mode)

network = OverlayNetwork("network", OverlayNetworkArgs(
    network_name=settings.network.name, subnet=settings.network.subnet), on_swarm)

# Each member stays on the host it ran on (beside its data), whatever the hosts' order or names.
etcd_members = member_names(settings.etcd.replicas)
etcd_hosts = etcd_member_hosts(settings.hosts, settings.etcd.replicas,
                               kept_etcd_hosts(etcd_members, previous, settings.hosts, keys))
etcd_placement = {member: key_of[host] for member, host in zip(etcd_members, etcd_hosts)}
etcd = EtcdDiscovery("etcd", EtcdDiscoveryArgs(
    network_id=network.network_id, image=settings.etcd.image,
    leader_connection=swarm.leader_connection, replicas=settings.etcd.replicas,
    publish=settings.etcd.publish,
    member_node_ids=[swarm.node_ids.apply(lambda ids, host=host: ids[host])
                     for host in etcd_hosts],
    root_password=settings.passwords.etcd_root, galera_password=settings.passwords.etcd,
    modes=modes), on_swarm)

# galera-agent in each Galera task runs the schedule (one node per time, by a claim in etcd).
backup = None
backup_settings = settings.backup
if backup_settings is not None:
    keep = backup_settings.keep
    backup = GaleraBackup("backup", GaleraBackupArgs(
        repository=backup_settings.repository, schedule=backup_settings.schedule,
        keep=RetentionPolicy(last=keep.last, daily=keep.daily, weekly=keep.weekly, monthly=keep.monthly),
        drill_schedule=backup_settings.drill_schedule, pitr_interval=backup_settings.pitr_interval,
        password=settings.passwords.backup,
        ssh_private_key=pulumi.Output.secret(backup_login.private_key) if backup_login else None,
        known_hosts=backup_login.known_hosts if backup_login else None,
        restore_snapshot=settings.restore.snapshot if settings.restore else None,
        restore_point_in_time=settings.restore.point_in_time if settings.restore else None), on_swarm)
    pulumi.export("backup_repository", backup_settings.repository)

g = settings.galera
# The stack's CA and the Galera nodes' certificate (issued once, kept in state).
certificates = None
if settings.tls.enabled:
    certificates = ClusterCertificates("tls", ClusterCertificatesArgs(
        ca_name=f"galera-swarm {pulumi.get_project()}/{pulumi.get_stack()} CA", service_name=g.service_name,
        extra_names=[settings.load_balancer.service_name] if settings.load_balancer.enabled else []), on_swarm)
    pulumi.export("tls_ca_certificate", certificates.ca_certificate)
    pulumi.export(TLS_EXPIRY_OUTPUT, certificates.expiry)

# Part of every URN under it: a rename re-creates the cluster (PasswordRotation aliases one child).
GALERA_RESOURCE_NAME = "galera"
galera = GaleraService(GALERA_RESOURCE_NAME, GaleraServiceArgs(
    network_id=network.network_id, discovery_endpoint=etcd.endpoint, image=g.image,
    service_name=g.service_name, replicas=g.replicas, cluster_name=g.cluster_name,
    database=g.database, user=g.user, root_password=settings.passwords.root,
    app_password=settings.passwords.app, etcd_password=settings.passwords.etcd,
    etcd_password_secret_id=etcd.galera_password_secret_id,
    etcd_password_secret_name=etcd.galera_password_secret_name,
    limits=ResourceLimits(cpus=g.cpus, memory_bytes=g.memory_bytes),
    publish_port=g.publish_port, constraints=list(g.constraints),
    leader_connection=swarm.leader_connection, modes=modes,
    forget_hostnames=swarm.drained_hostnames if leaving else None,
    backup=backup.task_spec() if backup else None,
    tls=certificates.task_spec() if certificates else None), on_swarm)

# Names from config, not the services' outputs: the load balancer and WordPress find their
# backends by DNS and retry, so they need not wait for Galera (or the load balancer) to
# converge, and `up` starts all of them at once.
db_host: str = g.service_name
lb_settings = settings.load_balancer
if lb_settings.enabled:
    lb = GaleraLoadBalancer("lb", GaleraLoadBalancerArgs(
        network_id=network.network_id, galera_service_name=g.service_name,
        galera_replicas=g.replicas, host_count=len(settings.hosts), image=lb_settings.image,
        service_name=lb_settings.service_name, replicas=lb_settings.replicas,
        port=lb_settings.port, read_port=lb_settings.read_port, publish=lb_settings.publish, modes=modes,
        leader_connection=swarm.leader_connection, manager_address=swarm.manager_address), on_swarm)
    # WordPress writes through the writer port (the load balancer's 3306 inside the swarm).
    db_host = lb_settings.service_name
    pulumi.export("load_balancer_service", lb.service_name)
    pulumi.export("load_balancer_endpoints", {"writer": lb.endpoint, "reader": lb.read_endpoint})
    pulumi.export("load_balancer_addresses", {"writer": lb.addresses, "reader": lb.read_addresses})

# The old passwords stop working once Galera and every client rolled. WordPress needs the
# rotation's secret first, so it reports that it rolled through a deferred output.
wp_settings = settings.wordpress
rolled: list[pulumi.Input[str]] = [galera.service_id]
if wp_settings.enabled:
    wordpress_rolled, resolve_wordpress_rolled = pulumi.deferred_output()
    rolled.append(wordpress_rolled)
passwords = PasswordRotation("passwords", PasswordRotationArgs(
    network_id=network.network_id, leader_connection=swarm.leader_connection,
    galera_image=g.image, galera_service_name=g.service_name, database=g.database, user=g.user,
    root_password=settings.passwords.root, app_password=settings.passwords.app,
    app_password_secret_id=galera.app_password_secret_id,
    app_password_secret_name=galera.app_password_secret_name, rolled=rolled,
    galera_resource_name=GALERA_RESOURCE_NAME))

if wp_settings.enabled:
    app = WordPressApp("app", WordPressAppArgs(
        network_id=network.network_id, db_host=db_host, db_name=g.database, db_user=g.user,
        db_password_secret_id=passwords.app_password_secret_id,
        db_password_secret_name=passwords.app_password_secret_name,
        image=wp_settings.image, leader_connection=swarm.leader_connection,
        manager_address=swarm.manager_address, service_name=wp_settings.service_name,
        replicas=wp_settings.replicas, port=wp_settings.port, modes=modes,
        db_tls=certificates is not None), on_swarm)
    resolve_wordpress_rolled(app.service_id)
    pulumi.export("wordpress_service", app.service_name)
    pulumi.export("wordpress_urls", app.urls)

pulumi.export("manager_address", swarm.manager_address)
pulumi.export("nodes", swarm.node_ids)
pulumi.export(HOSTS_OUTPUT, swarm.hosts)
pulumi.export(LEADER_OUTPUT, swarm.leader_key)
pulumi.export(ETCD_HOSTS_OUTPUT, etcd_placement)
pulumi.export("manager_join_token", swarm.manager_join_token)
pulumi.export("worker_join_token", swarm.worker_join_token)
pulumi.export("network", network.network_name)
pulumi.export("etcd_endpoint", etcd.endpoint)
pulumi.export("etcd_vips", etcd.vips)
pulumi.export("galera_service", galera.service_name)
pulumi.export("galera_vips", galera.vips)
pulumi.export("database_host", db_host)

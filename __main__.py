"""galera-swarm: bare Docker hosts over SSH in; a swarm running etcd, a Galera cluster, a
Galera-aware load balancer and WordPress out. This file only reads config, wires the
components and exports what an operator inspects by hand."""

from pathlib import Path

import pulumi

from galera_swarm.placement import etcd_member_hosts
from galera_swarm.settings import ConfigError, load_settings
from components.etcd_discovery import EtcdDiscovery, EtcdDiscoveryArgs
from components.galera_service import GaleraService, GaleraServiceArgs
from components.load_balancer import GaleraLoadBalancer, GaleraLoadBalancerArgs
from components.overlay_network import OverlayNetwork, OverlayNetworkArgs
from components.password_rotation import PasswordRotation, PasswordRotationArgs
from components.swarm_cluster import SwarmCluster, SwarmClusterArgs
from components.wordpress_app import WordPressApp, WordPressAppArgs

try:
    settings = load_settings()
except ConfigError as err:
    # RunError prints the message alone: the config problems, no Python traceback.
    raise pulumi.RunError(str(err)) from None
for warning in settings.warnings:
    pulumi.log.warn(warning)

key_path = Path(settings.ssh.private_key_path).expanduser()
if not key_path.is_file():
    raise pulumi.RunError(
        f"galera-swarm:ssh.privateKeyPath: no file at {key_path}; point it at the SSH private key "
        "for the hosts (for the local lab, run `lab/lab up` first)")
ssh = settings.ssh.model_copy(update={"private_key_path": str(key_path.resolve())})

swarm = SwarmCluster("swarm", SwarmClusterArgs(
    hosts=settings.hosts, ssh=ssh, private_key=pulumi.Output.secret(key_path.read_text())))

network = OverlayNetwork("network", OverlayNetworkArgs(
    provider=swarm.provider, network_name=settings.network.name, subnet=settings.network.subnet))

modes = {"endpoint_mode": settings.endpoint_mode, "publish_mode": settings.publish_mode}

etcd = EtcdDiscovery("etcd", EtcdDiscoveryArgs(
    provider=swarm.provider, network_id=network.network_id, image=settings.etcd.image,
    leader_connection=swarm.leader_connection, replicas=settings.etcd.replicas,
    publish=settings.etcd.publish,
    member_node_ids=[swarm.node_ids.apply(lambda ids, host=host: ids[host])
                     for host in etcd_member_hosts(settings.hosts, settings.etcd.replicas)],
    **modes))

galera = GaleraService("galera", GaleraServiceArgs(
    provider=swarm.provider, network_id=network.network_id,
    discovery_endpoint=etcd.endpoint, settings=settings.galera, passwords=settings.passwords,
    leader_connection=swarm.leader_connection, **modes))

# Names from config, not the services' outputs: the load balancer and WordPress find their
# backends by DNS and retry, so they need not wait for Galera (or the load balancer) to
# converge, and `up` starts all of them at once.
db_host: str = settings.galera.service_name
lb_settings = settings.load_balancer
if lb_settings.enabled:
    lb = GaleraLoadBalancer("lb", GaleraLoadBalancerArgs(
        provider=swarm.provider, network_id=network.network_id,
        galera_service_name=settings.galera.service_name, image=lb_settings.image,
        max_nodes=max(settings.galera.replicas + 2, len(settings.hosts)),
        service_name=lb_settings.service_name, replicas=lb_settings.replicas,
        port=lb_settings.port, publish=lb_settings.publish, **modes))
    db_host = lb_settings.service_name
    pulumi.export("load_balancer_service", lb.service_name)

password_clients: list[pulumi.Resource] = [galera]
wp_settings = settings.wordpress
if wp_settings.enabled:
    app = WordPressApp("app", WordPressAppArgs(
        provider=swarm.provider, network_id=network.network_id, db_host=db_host,
        db_name=settings.galera.database, db_user=settings.galera.user,
        db_password_secret_id=galera.app_password_secret_id,
        db_password_secret_name=galera.app_password_secret_name,
        image=wp_settings.image, leader_connection=swarm.leader_connection,
        manager_address=swarm.manager_address, service_name=wp_settings.service_name,
        replicas=wp_settings.replicas, port=wp_settings.port, **modes))
    pulumi.export("wordpress_service", app.service_name)
    pulumi.export("wordpress_urls", app.urls)
    password_clients.append(app)

# After a password change, the old passwords stop working once every client rolled.
PasswordRotation("passwords", PasswordRotationArgs(
    settings=settings.galera, passwords=settings.passwords, network_id=network.network_id,
    leader_connection=swarm.leader_connection, clients=password_clients))

pulumi.export("manager_address", swarm.manager_address)
pulumi.export("nodes", swarm.node_ids)
pulumi.export("manager_join_token", swarm.manager_join_token)
pulumi.export("worker_join_token", swarm.worker_join_token)
pulumi.export("network", network.network_name)
pulumi.export("etcd_endpoint", etcd.endpoint)
pulumi.export("etcd_vips", etcd.vips)
pulumi.export("galera_service", galera.service_name)
pulumi.export("galera_vips", galera.vips)
pulumi.export("database_host", db_host)

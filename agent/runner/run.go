// Package runner is the thin layer of effects around package decision: it registers the node
// in etcd under a lease kept alive, finds the local position, gathers a decision.Snapshot each
// round (one etcd read, probes of the peers' Galera port), acts on the decision (an etcd
// transaction for a bootstrap), starts mariadbd, publishes its state while it runs and drains
// on SIGTERM.
package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/backup"
	"github.com/galera-swarm/galera-swarm/agent/config"
	"github.com/galera-swarm/galera-swarm/agent/decision"
	"github.com/galera-swarm/galera-swarm/agent/health"
	"github.com/galera-swarm/galera-swarm/agent/logx"
	"github.com/galera-swarm/galera-swarm/agent/wsrep"
)

// PeersFile holds the other members' addresses when this node was last Synced: evidence of a
// running cluster should etcd forget it.
const PeersFile = DataDir + "/.galera-peers"

// registry is what the decision loop needs of etcd (Discovery; a fake in tests).
type registry interface {
	Read(ctx context.Context) (Records, error)
	TakeBootstrap(noCluster bool) (bool, error)
	Publish(decision.NodeRecord) error
	Grant() (lease int64, err error)
}

// Runner runs one Galera node; New fills it from the settings.
type Runner struct {
	cfg       config.Settings
	log       *logx.Logger
	disc      *Discovery
	reg       registry
	address   string
	extraArgs []string // mariadbd options of `docker run IMAGE --option`

	own           decision.Position
	positionKnown bool
	recovered     string // --wsrep-start-position after a crash
	state         string
	decided       string // join | bootstrap-new | bootstrap-restored | bootstrap-recovered
	publishFails  bool

	sleep     func(time.Duration)
	probe     func([]string) map[string]bool
	peerAddrs func() []string
	stateFile string

	backup      backup.Settings // Enabled: this node runs the backup scheduler
	stopBackups context.CancelFunc
	jobsRunning int        // backup jobs this node runs now (under jobsMu)
	jobsMu      sync.Mutex // a claim and the count of jobs, against EndStaleJob

	mu           sync.Mutex
	srv          *server
	shuttingDown atomic.Bool
}

// New gives a runner for the settings, logging to log; extraArgs go to mariadbd.
func New(cfg config.Settings, log *logx.Logger, extraArgs []string) *Runner {
	r := &Runner{cfg: cfg, log: log, extraArgs: extraArgs, sleep: time.Sleep, probe: probeGalera, stateFile: StateFile}
	r.peerAddrs = r.peerAddresses
	return r
}

// Run is `galera-agent run`: every step of a node's life; it returns the exit status
// (mariadbd's, 1 after an error, 0 after a signal).
func (r *Runner) Run() int {
	if err := r.run(); err != nil {
		step := "main"
		if se, ok := err.(*logx.StepError); ok {
			step = se.Step
		}
		r.log.Error(step, "%v", err)
		r.cleanup()
		return 1
	}
	r.mu.Lock()
	rc := r.srv.rc
	r.mu.Unlock()
	r.log.Note("main", "mariadbd exited with status %d", rc)
	r.cleanup()
	return rc
}

func (r *Runner) run() error {
	if r.cfg.SSTPasswordSet {
		r.log.Note("setup_env", "SST_PASSWORD is set but no longer used: state transfers log in as 'mysql'@'localhost' through unix_socket, without a password")
	}
	_ = os.Remove(DrainFlag) // both may be left by a previous run of this container
	_ = os.Remove(r.stateFile)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-signals; r.shutdown() }()

	if err := r.waitForEtcd(); err != nil {
		return err
	}
	if err := r.setupNodeAddress(); err != nil {
		return err
	}
	if err := writeConfig(r.cfg, r.address, r.backup.PITR()); err != nil {
		return logx.Fail("write_config", "%v", err)
	}
	r.startHealthServer()
	if err := r.register(); err != nil {
		return err
	}
	r.own, r.recovered = r.localPosition()
	r.positionKnown = true
	d := r.decide(context.Background())
	if r.backup.Enabled() {
		ctx, cancel := context.WithCancel(context.Background())
		r.mu.Lock()
		r.stopBackups = cancel
		r.mu.Unlock()
		go r.scheduleBackups(ctx)
		if r.backup.PITR() {
			go r.scheduleArchives(ctx)
		}
	}
	if err := r.startMysqld(d); err != nil {
		return err
	}
	rc := r.monitor()
	r.mu.Lock()
	r.srv.rc = rc
	r.mu.Unlock()
	return nil
}

func (r *Runner) waitForEtcd() error {
	const step = "wait_for_etcd"
	endpoints := strings.Join(r.cfg.Endpoints, ",")
	r.log.Note(step, "waiting up to %ds for etcd at %s (DISCOVERY_SERVICE)", int(r.cfg.EtcdWait/time.Second), endpoints)
	cli, err := connect(r.cfg.Endpoints, r.cfg.Etcd, r.cfg.EtcdWait)
	if errors.Is(err, ErrLoginRefused) {
		return logx.Fail(step, "%v; put the password of etcd's user %s in ETCD_PASSWORD_FILE (etcd keeps the one it was set up with)",
			err, r.cfg.Etcd.Username)
	}
	if err != nil {
		return logx.Fail(step, "etcd unreachable at DISCOVERY_SERVICE=%s after %ds; check the address and that etcd runs (ETCD_WAIT_TIMEOUT sets the wait)",
			r.cfg.DiscoveryService, int(r.cfg.EtcdWait/time.Second))
	}
	r.disc = newDiscovery(cli, r.cfg.Prefix(), r.cfg.NodeName, r.cfg.RegistrationTTL, DataDir+"/.galera-etcd-lease")
	r.disc.redial = redialer(r.cfg.Endpoints, r.cfg.Etcd)
	r.reg = discoveryRegistry{r.disc}
	r.log.Note(step, "etcd is reachable at %s", endpoints)
	return nil
}

// discoveryRegistry adapts Discovery's lease id type to registry.
type discoveryRegistry struct{ *Discovery }

func (d discoveryRegistry) Grant() (int64, error) {
	id, err := d.Discovery.Grant()
	return int64(id), err
}

// setupNodeAddress: NODE_ADDRESS, or the source address of the route to the (first) etcd
// host, so that in a swarm the overlay address is picked even on several networks.
func (r *Runner) setupNodeAddress() error {
	r.address = r.cfg.NodeAddress
	if r.address == "" {
		r.address = routeSource(r.cfg.Endpoints[0])
		if r.address == "" {
			return logx.Fail("setup_node_address", "cannot derive NODE_ADDRESS from the route to %s; set NODE_ADDRESS", r.cfg.DiscoveryService)
		}
	}
	r.log.Note("setup_node_address", "node %s, address %s, cluster %s, etcd prefix %s", r.cfg.NodeName, r.address, r.cfg.ClusterName, r.cfg.Prefix())
	return nil
}

func routeSource(endpoint string) string {
	hostport := endpoint
	if _, rest, ok := strings.Cut(endpoint, "://"); ok {
		hostport = rest
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", host)
	if err != nil || len(ips) == 0 {
		return ""
	}
	conn, err := net.Dial("udp4", net.JoinHostPort(ips[0].String(), port)) // no packet sent: a route lookup
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String()
}

func (r *Runner) register() error {
	const step = "register_node"
	if old, err := os.ReadFile(r.disc.leaseFile); err == nil && r.disc.RevokePrevious() {
		r.log.Note(step, "revoked the lease %s of this node's previous run (its stale keys are gone)", strings.TrimSpace(string(old)))
	}
	if err := r.disc.DeleteOwn(); err != nil {
		return logx.Fail(step, "%v", err)
	}
	if err := r.grant(); err != nil {
		return logx.Fail(step, "etcd did not grant a lease (DISCOVERY_SERVICE=%s)", r.cfg.DiscoveryService)
	}
	r.publish(decision.StateStarting)
	return nil
}

func (r *Runner) grant() error {
	lease, err := r.reg.Grant()
	if err != nil {
		return err
	}
	r.log.Note("grant_lease", "registered in etcd with lease %x (TTL %ds, kept alive)", lease, int(r.cfg.RegistrationTTL/time.Second))
	return nil
}

// publish records the state in the state file (for the health check) and in etcd, with the
// position once known.
func (r *Runner) publish(state string) {
	r.state = state
	tmp := r.stateFile + ".tmp"
	if os.WriteFile(tmp, []byte(state+"\n"), 0o644) == nil {
		_ = os.Rename(tmp, r.stateFile)
	}
	rec := decision.NodeRecord{Address: r.address, State: state}
	if r.positionKnown {
		own := r.own
		rec.Position = &own
	}
	if err := r.reg.Publish(rec); err != nil {
		if !r.publishFails {
			r.log.Warn("publish_state", "could not publish state %s to etcd; retrying quietly until it works", state)
			r.publishFails = true
		}
		return
	}
	r.publishFails = false
}

// decide runs rounds of decision.Decide until one says join or a bootstrap transaction wins.
func (r *Runner) decide(ctx context.Context) decision.Decision {
	const step = "decide"
	r.publish(decision.StateWaiting)
	started := time.Now()
	said := map[string]bool{} // notes and warnings: once each
	lastWait := ""
	waitNote := func(msg string) {
		if msg != lastWait {
			r.log.Note(step, "%s", msg)
			lastWait = msg
		}
	}
	for {
		recs, err := r.reg.Read(ctx)
		if err != nil {
			waitNote(fmt.Sprintf("etcd read failed (etcd at %s does not answer); retrying, deciding nothing until it does", strings.Join(r.cfg.Endpoints, ",")))
			r.sleep(2 * time.Second)
			continue
		}
		s := decision.Snapshot{
			Prefix: r.cfg.Prefix(), Self: r.cfg.NodeName, SelfAddress: r.address, SelfState: r.state, Own: r.own,
			Nodes: recs.Nodes, Members: recs.Members, BootstrapHolder: recs.BootstrapHolder, ClusterUUID: recs.ClusterUUID,
			PeerAddresses: r.peerAddrs(), PeersDNS: r.cfg.PeersDNS,
			ExpectedSize: r.cfg.ClusterSize, Waited: time.Since(started), RecoveryWait: r.cfg.RecoveryWait,
		}
		s.Answering = r.probe(s.ProbeTargets())
		d := decision.Decide(s)
		for _, n := range d.Notes {
			if !said[n] {
				r.log.Note(step, "%s", n)
				said[n] = true
			}
		}
		if d.Warning != "" && !said[d.Warning] {
			r.log.Warn(step, "%s", d.Warning)
			said[d.Warning] = true
		}
		switch d.Action {
		case decision.Join:
			r.log.Note(step, "%s", d.Reason)
			return d
		case decision.BootstrapNew, decision.BootstrapRecovered:
			won, err := r.reg.TakeBootstrap(d.Action == decision.BootstrapNew)
			if err == nil && won {
				r.log.Note(step, "%s", d.Reason)
				return d
			}
			if d.LostReason != "" {
				waitNote(d.LostReason)
			}
		case decision.Register:
			waitNote(d.Reason)
			if r.grant() == nil {
				r.publish(r.state)
			}
		default:
			waitNote(d.Reason)
		}
		r.sleep(d.Retry)
	}
}

// probeGalera: which addresses answer on the Galera port (in parallel, 2 s each at most).
func probeGalera(addresses []string) map[string]bool {
	out := make(map[string]bool, len(addresses))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range addresses {
		wg.Go(func() {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(a, fmt.Sprint(decision.GaleraPort)), 2*time.Second)
			if err == nil {
				conn.Close()
			}
			mu.Lock()
			out[a] = err == nil
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// peerAddresses: other nodes' addresses that do not come from etcd: PEERS_DNS (in a swarm
// tasks.<service>: every task of the service) and the members this node last saw Synced.
func (r *Runner) peerAddresses() []string {
	var all []string
	if r.cfg.PeersDNS != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		ips, _ := net.DefaultResolver.LookupIP(ctx, "ip4", r.cfg.PeersDNS)
		cancel()
		for _, ip := range ips {
			all = append(all, ip.String())
		}
	}
	if data, err := os.ReadFile(PeersFile); err == nil {
		all = append(all, strings.Fields(string(data))...)
	}
	var out []string
	for _, a := range all {
		if a != r.address && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// PeersOf gives the other members' addresses from wsrep_incoming_addresses ("ip:port,..."),
// sorted, without self.
func PeersOf(incoming, self string) []string {
	var out []string
	for _, item := range strings.Split(incoming, ",") {
		host := strings.TrimSpace(item)
		if i := strings.LastIndex(host, ":"); i >= 0 && strings.Trim(host[i+1:], "0123456789") == "" {
			host = host[:i]
		}
		if host != "" && host != self && !slices.Contains(out, host) {
			out = append(out, host)
		}
	}
	slices.Sort(out)
	return out
}

func rememberPeers(incoming, self string) {
	peers := PeersOf(incoming, self)
	if len(peers) == 0 {
		return
	}
	text := strings.Join(peers, "\n") + "\n"
	if old, _ := os.ReadFile(PeersFile); string(old) != text {
		_ = os.WriteFile(PeersFile, []byte(text), 0o644)
	}
}

// HealthPaths are the files the health check reads.
var HealthPaths = health.Paths{DrainFlag: DrainFlag, StateFile: StateFile, RestoreDir: DataDir + "/" + backup.RestoreWorkDir}

// startHealthServer serves the node's health on port 9200 for HAProxy (200 when Synced, 503
// otherwise, the state in the body; AVAILABLE_WHEN_DONOR=1 counts a donor as healthy).
func (r *Runner) startHealthServer() {
	_, opts, _ := health.ParseArgs(nil, os.Getenv("AVAILABLE_WHEN_DONOR"))
	srv := &http.Server{Addr: ":9200", Handler: health.Handler(HealthPaths, opts),
		ReadHeaderTimeout: 2 * time.Second, WriteTimeout: 10 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	go func() {
		if err := srv.ListenAndServe(); err != nil {
			r.log.Warn("start_health_server", "the health endpoint on port 9200 stopped: %v", err)
		}
	}()
}

func (r *Runner) startMysqld(d decision.Decision) error {
	args := []string{"--user=mysql"}
	switch d.Action {
	case decision.BootstrapNew:
		r.decided = "bootstrap-new"
		prepare := r.initDatadir
		if r.backup.RestoreSnapshot != "" {
			r.decided, prepare = "bootstrap-restored", r.restoreDatadir
		}
		// The new lineage first: a node that stops after prepare() has data and recovers
		// next time, keeping the lineage it finds.
		if r.backup.Enabled() {
			if err := r.startLineage(); err != nil {
				return logx.Fail("lineage", "%v", err)
			}
		}
		if err := prepare(); err != nil {
			return err
		}
		args = append(args, "--wsrep-new-cluster", "--wsrep-cluster-address=gcomm://")
		r.publish(decision.StateBootstrapping)
	case decision.BootstrapRecovered:
		r.decided = "bootstrap-recovered"
		if ok, err := SetSafeToBootstrap(DataDir); err != nil {
			return logx.Fail("set_safe_to_bootstrap", "%v", err)
		} else if ok {
			r.log.Note("set_safe_to_bootstrap", "set safe_to_bootstrap: 1 in grastate.dat")
		}
		args = append(args, "--wsrep-new-cluster", "--wsrep-cluster-address=gcomm://")
		r.publish(decision.StateBootstrapping)
	default:
		r.decided = "join"
		args = append(args, "--wsrep-cluster-address=gcomm://"+strings.Join(d.JoinAddresses, ","))
		r.publish(decision.StateJoining)
	}
	if r.backup.RestoreSnapshot != "" && d.Action != decision.BootstrapNew {
		r.log.Note("restore", "RESTORE_SNAPSHOT=%s not used: %s (only a new cluster, with no data anywhere, starts from a backup; nothing is overwritten)",
			r.backup.RestoreSnapshot, notNew(r.own, d.Action))
	}
	if r.recovered != "" && d.Action != decision.BootstrapNew {
		args = append(args, "--wsrep-start-position="+r.recovered)
	}
	if err := chownMysql(DataDir); err != nil {
		return logx.Fail("start_mysqld", "%v", err)
	}
	args = append(args, r.extraArgs...)
	r.log.Note("start_mysqld", "starting mariadbd %s", strings.Join(args, " "))
	srv, err := startServer(args)
	if err != nil {
		return logx.Fail("start_mysqld", "%v", err)
	}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	return nil
}

// notNew says why a node does not start a new cluster, for the restore's note.
func notNew(own decision.Position, action decision.Action) string {
	switch {
	case own.HasData():
		return fmt.Sprintf("this node holds data of cluster %s (seqno %d)", own.UUID, own.Seqno)
	case action == decision.BootstrapRecovered:
		return "this node recovers the cluster from its data"
	}
	return "this node joins a cluster that exists"
}

// monitor publishes the node state every 2 s while mariadbd runs; gives mariadbd's exit
// status (1 when it was stopped for being disconnected).
func (r *Runner) monitor() int {
	const step = "monitor"
	recorded, applied, stoppedDisconnected := false, false, false
	var disconnectedSince time.Time
	for r.srv.running() {
		if r.shuttingDown.Load() {
			<-r.srv.done // shutdown publishes "down" and stops mariadbd; nothing to say meanwhile
			break
		}
		st, _ := wsrep.Read()
		state := wsrep.StateName(st.LocalState, st.ClusterStatus)
		// restart_if_disconnected: Galera closes the provider after e.g. "Receiving IST
		// failed, node restart required" and never reconnects by itself (a partition's
		// non-Primary does); the task then exits and the swarm starts it again.
		if st.ClusterStatus != "Disconnected" {
			disconnectedSince = time.Time{}
		} else if disconnectedSince.IsZero() {
			disconnectedSince = time.Now()
		}
		if !disconnectedSince.IsZero() && time.Since(disconnectedSince) >= r.cfg.Disconnected {
			r.log.Warn("restart_if_disconnected", "the Galera provider has been disconnected for %ds (DISCONNECTED_TIMEOUT) and does not reconnect by itself: stopping mariadbd so that the node starts again and joins afresh",
				int(r.cfg.Disconnected/time.Second))
			r.srv.terminate()
			stoppedDisconnected, disconnectedSince = true, time.Time{}
		}
		// No answer yet while joining (SST) or bootstrapping: keep saying so.
		if state == decision.StateDown && (r.state == decision.StateJoining || r.state == decision.StateBootstrapping) {
			state = r.state
		}
		if state != r.state {
			r.log.Note(step, "state: %s (wsrep_local_state=%s, wsrep_cluster_status=%s)", state, st.LocalState, st.ClusterStatus)
		}
		if r.keepLease(state) {
			recorded = false // record membership and uuid again: etcd may have lost them
		}
		r.publish(state)
		// Donor also means a full member of the Primary component (e.g. right after a FTWRL).
		if (state == decision.StateSynced || state == decision.StateDonor) && !recorded {
			recorded = r.onSynced(st.UUID)
		}
		// Synced (not a donor in the middle of a backup): the passwords, once a run.
		if state == decision.StateSynced && !applied {
			applied = r.applyCredentials()
		}
		if state == decision.StateSynced {
			rememberPeers(st.Incoming, r.address)
		}
		select {
		case <-r.srv.done:
		case <-time.After(2 * time.Second):
		}
	}
	if r.shuttingDown.Load() {
		select {} // shutdown ends the process
	}
	rc := r.srv.rc
	if stoppedDisconnected && rc == 0 {
		rc = 1 // a failure, whatever status mariadbd exits with
	}
	return rc
}

// keepLease re-grants and re-registers when the keep-alive stopped (etcd away too long, or
// lost its data); true when it did. Never fatal: mariadbd keeps serving while etcd is away.
func (r *Runner) keepLease(state string) bool {
	if !r.disc.KeepAliveEnded() {
		r.disc.EnsureLeaseFile()
		return false
	}
	r.log.Warn("keep_lease", "lease keep-alive stopped; registering again with a new lease")
	if err := r.grant(); err != nil {
		r.log.Warn("keep_lease", "etcd at %s does not grant a lease yet; retrying", strings.Join(r.cfg.Endpoints, ","))
		return false
	}
	r.publish(state)
	return true
}

// onSynced: once Synced, the node is a member and the cluster uuid is known. False when etcd
// fails: the caller retries at its next round.
func (r *Runner) onSynced(uuid string) bool {
	const step = "on_synced"
	if r.disc.RecordMember(r.address) != nil {
		return false
	}
	recs, err := r.disc.Read(context.Background())
	if err != nil {
		return false
	}
	switch {
	case recs.ClusterUUID == "":
		wrote, err := r.disc.RecordUUID(uuid)
		if err != nil {
			return false
		}
		if wrote {
			r.log.Note("record_uuid", "recorded cluster uuid %s in etcd", uuid)
		}
	case recs.ClusterUUID != uuid:
		r.log.Warn(step, "this node's cluster uuid %s differs from %s recorded in etcd (%s/uuid)", uuid, recs.ClusterUUID, r.cfg.Prefix())
	}
	r.log.Note(step, "node is a full member of the Primary component of cluster %s (decision was: %s)", uuid, r.decided)
	return true
}

// shutdown (SIGTERM/SIGINT): first the health endpoint says 503 for SHUTDOWN_DRAIN_SECONDS so
// load balancers stop sending connections, then mariadbd stops cleanly and the registration
// goes.
func (r *Runner) shutdown() {
	const step = "shutdown"
	r.shuttingDown.Store(true)
	r.mu.Lock()
	srv, stopBackups := r.srv, r.stopBackups
	r.mu.Unlock()
	if stopBackups != nil {
		stopBackups() // a backup in flight ends without a snapshot
	}
	if srv != nil && srv.running() {
		_ = os.WriteFile(DrainFlag, nil, 0o644)
		r.publish(decision.StateDown)
		r.log.Note(step, "signal received; draining for %ds (health answers 503), then stopping mariadbd", int(r.cfg.ShutdownDrain/time.Second))
		time.Sleep(r.cfg.ShutdownDrain)
	} else {
		r.log.Note(step, "signal received; stopping")
	}
	if srv != nil {
		srv.terminate()
		<-srv.done
	}
	r.cleanup()
	r.log.Note(step, "stopped")
	os.Exit(0)
}

// cleanup gives up the registration at once (also after an error) so no one waits for it.
func (r *Runner) cleanup() {
	if r.disc != nil {
		r.disc.Revoke()
	}
}

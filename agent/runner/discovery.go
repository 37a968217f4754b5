package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/galera-swarm/galera-swarm/agent/config"
	"github.com/galera-swarm/galera-swarm/agent/decision"
)

// etcd layout under /galera/<CLUSTER_NAME>/ (leased = disappears when the node stops renewing):
//
//	nodes/<name>     leased   "<address> <state> [<uuid> <seqno>]" (decision.NodeRecord)
//	bootstrap        leased   "<name>"              the one node allowed to bootstrap
//	uuid             kept     "<cluster state uuid>" written once a cluster is Primary
//	members/<name>   kept     "<address>"           every node that has been Synced once
const (
	keyNodes     = "nodes/"
	keyMembers   = "members/"
	keyBootstrap = "bootstrap"
	keyUUID      = "uuid"
	// Per request, as the shell entrypoint's etcdctl --command-timeout=5s.
	requestTimeout = 5 * time.Second
)

// Records is what etcd holds under the prefix, read at one revision.
type Records struct {
	Nodes           map[string]decision.NodeRecord
	Members         map[string]string
	BootstrapHolder string
	ClusterUUID     string
}

// Discovery is this node's registration in etcd: a lease kept alive, and the keys above.
type Discovery struct {
	cli atomic.Pointer[clientv3.Client]
	// redial makes a new client that logs in afresh (nil: never; see renewClient).
	redial    func() (*clientv3.Client, error)
	prefix    string // "/galera/<cluster>/"
	name      string
	ttl       time.Duration
	leaseFile string

	lease          atomic.Int64 // a clientv3.LeaseID (leaseID)
	keepAliveEnded atomic.Bool
	cancelKeep     context.CancelFunc
}

func newDiscovery(cli *clientv3.Client, prefix, name string, ttl time.Duration, leaseFile string) *Discovery {
	d := &Discovery{prefix: prefix + "/", name: name, ttl: ttl, leaseFile: leaseFile}
	d.cli.Store(cli)
	return d
}

// client is the etcd client in use (renewClient may swap it).
func (d *Discovery) client() *clientv3.Client { return d.cli.Load() }

// isStaleToken: etcd refused the request's auth token (it forgot it: a restart, or the
// token's TTL), or the request ran out of time, which is how it ends when the client's own
// token refresh keeps failing on its old connection; a fresh login fixes both (and costs one
// failed dial while etcd is away).
func isStaleToken(err error) bool {
	return errors.Is(err, rpctypes.ErrInvalidAuthToken) || errors.Is(rpctypes.Error(err), rpctypes.ErrInvalidAuthToken) ||
		errors.Is(err, context.DeadlineExceeded)
}

// checked gives err back, first renewing the client when etcd refused its token, so the
// caller's next attempt (each caller retries at its next round) logs in afresh.
func (d *Discovery) checked(err error) error {
	if isStaleToken(err) {
		d.renewClient()
	}
	return err
}

// renewClient replaces the client with one that has just logged in. etcd's auth tokens live in
// the server's memory: after etcd restarts, every request with the old token is refused
// ("invalid auth token", seen on the lab with etcd 3.4), and the client keeps sending it, so a
// node that keeps running could never register again. A failed dial keeps the old client.
func (d *Discovery) renewClient() {
	if d.redial == nil {
		return
	}
	fresh, err := d.redial()
	if err != nil {
		return
	}
	if old := d.cli.Swap(fresh); old != nil {
		_ = old.Close()
	}
}

func timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), requestTimeout)
}

// RevokePrevious revokes the lease of this node's previous run (its id kept in the data dir
// after a crash), so its stale keys go at once; true when there was one to revoke.
func (d *Discovery) RevokePrevious() bool {
	data, err := os.ReadFile(d.leaseFile)
	if err != nil {
		return false
	}
	id, err := strconv.ParseInt(strings.TrimSpace(string(data)), 16, 64)
	if err != nil {
		return false
	}
	ctx, cancel := timeout()
	defer cancel()
	_, err = d.client().Revoke(ctx, clientv3.LeaseID(id))
	return err == nil
}

// DeleteOwn removes nodes/<name> (left by a previous run under a lease not yet expired).
func (d *Discovery) DeleteOwn() error {
	ctx, cancel := timeout()
	defer cancel()
	if _, err := d.client().Delete(ctx, d.prefix+keyNodes+d.name); err != nil {
		return fmt.Errorf("deleting %s%s%s: %w", d.prefix, keyNodes, d.name, err)
	}
	return nil
}

// Grant takes a new lease of TTL and keeps it alive in the background; the id goes to the
// lease file (hex, as etcdctl prints it).
func (d *Discovery) Grant() (clientv3.LeaseID, error) {
	if d.cancelKeep != nil {
		d.cancelKeep()
	}
	ctx, cancel := timeout()
	defer cancel()
	resp, err := d.client().Grant(ctx, int64(d.ttl/time.Second))
	if err != nil {
		// The next attempt goes out with a fresh login (the token may be one etcd forgot).
		d.renewClient()
		return 0, fmt.Errorf("granting a lease: %w", err)
	}
	keepCtx, cancelKeep := context.WithCancel(context.Background())
	ch, err := d.client().KeepAlive(keepCtx, resp.ID)
	if err != nil {
		cancelKeep()
		return 0, fmt.Errorf("keeping lease %x alive: %w", resp.ID, err)
	}
	d.lease.Store(int64(resp.ID))
	d.cancelKeep = cancelKeep
	d.keepAliveEnded.Store(false)
	go func() {
		for range ch { // drained so that the client never drops answers; closed when it ends
		}
		d.keepAliveEnded.Store(true)
	}()
	_ = os.WriteFile(d.leaseFile, []byte(fmt.Sprintf("%x\n", int64(resp.ID))), 0o600)
	return resp.ID, nil
}

// leaseID is the node's current lease (0: none); read by the backup scheduler's goroutine too.
func (d *Discovery) leaseID() clientv3.LeaseID { return clientv3.LeaseID(d.lease.Load()) }

// KeepAliveEnded reports whether the lease is no longer renewed (etcd away too long, or lost).
func (d *Discovery) KeepAliveEnded() bool { return d.keepAliveEnded.Load() }

// EnsureLeaseFile writes the lease file again if it went (e.g. a wiped data directory).
func (d *Discovery) EnsureLeaseFile() {
	if st, err := os.Stat(d.leaseFile); err != nil || st.Size() == 0 {
		_ = os.WriteFile(d.leaseFile, []byte(fmt.Sprintf("%x\n", d.lease.Load())), 0o600)
	}
}

// Publish puts this node's record under its lease.
func (d *Discovery) Publish(r decision.NodeRecord) error {
	ctx, cancel := timeout()
	defer cancel()
	_, err := d.client().Put(ctx, d.prefix+keyNodes+d.name, r.String(), clientv3.WithLease(d.leaseID()))
	return d.checked(err)
}

// Read reads everything under the prefix in one request (one revision). An error means
// nothing is known, never "nothing there".
func (d *Discovery) Read(ctx context.Context) (Records, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := d.client().Get(ctx, d.prefix, clientv3.WithPrefix())
	if err != nil {
		return Records{}, fmt.Errorf("reading %s: %w", d.prefix, d.checked(err))
	}
	recs := Records{Nodes: map[string]decision.NodeRecord{}, Members: map[string]string{}}
	for _, kv := range resp.Kvs {
		key, value := strings.TrimPrefix(string(kv.Key), d.prefix), string(kv.Value)
		switch {
		case strings.HasPrefix(key, keyNodes):
			if r, err := decision.ParseNodeRecord(value); err == nil {
				recs.Nodes[strings.TrimPrefix(key, keyNodes)] = r
			}
		case strings.HasPrefix(key, keyMembers):
			recs.Members[strings.TrimPrefix(key, keyMembers)] = strings.TrimSpace(value)
		case key == keyBootstrap:
			recs.BootstrapHolder = strings.TrimSpace(value)
		case key == keyUUID:
			recs.ClusterUUID = strings.TrimSpace(value)
		}
	}
	return recs, nil
}

// TakeBootstrap puts bootstrap=<name> under this node's lease in one transaction, only if no
// node holds it (and with noCluster only if no cluster uuid is recorded): true for exactly one
// node.
func (d *Discovery) TakeBootstrap(noCluster bool) (bool, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(d.prefix+keyBootstrap), "=", 0)}
	if noCluster {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(d.prefix+keyUUID), "=", 0))
	}
	ctx, cancel := timeout()
	defer cancel()
	resp, err := d.client().Txn(ctx).If(cmps...).
		Then(clientv3.OpPut(d.prefix+keyBootstrap, d.name, clientv3.WithLease(d.leaseID()))).Commit()
	if err != nil {
		return false, fmt.Errorf("taking %s%s: %w", d.prefix, keyBootstrap, d.checked(err))
	}
	return resp.Succeeded, nil
}

// RecordMember puts members/<name>=<address> (kept: evidence that the node was Synced once).
func (d *Discovery) RecordMember(address string) error {
	ctx, cancel := timeout()
	defer cancel()
	_, err := d.client().Put(ctx, d.prefix+keyMembers+d.name, address)
	return d.checked(err)
}

// RecordUUID puts uuid only if none is recorded (never overwrites another's); true when this
// call wrote it.
func (d *Discovery) RecordUUID(uuid string) (bool, error) {
	ctx, cancel := timeout()
	defer cancel()
	resp, err := d.client().Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(d.prefix+keyUUID), "=", 0)).
		Then(clientv3.OpPut(d.prefix+keyUUID, uuid)).Commit()
	if err != nil {
		return false, fmt.Errorf("recording %s%s: %w", d.prefix, keyUUID, d.checked(err))
	}
	return resp.Succeeded, nil
}

// Revoke gives the registration up at once (nodes/<name> and a held bootstrap key go).
func (d *Discovery) Revoke() {
	if d.leaseID() == 0 {
		return
	}
	if d.cancelKeep != nil {
		d.cancelKeep()
	}
	ctx, cancel := timeout()
	defer cancel()
	_, _ = d.client().Revoke(ctx, d.leaseID())
	_ = os.Remove(d.leaseFile)
	d.lease.Store(0)
}

// Forget removes the records of nodes that left the cluster for good (their host was removed
// from the stack): members/<name> and nodes/<name> for each name, in one transaction, so a later
// full-cluster recovery neither waits for them nor tries to reach them. prefix is
// config.Settings.Prefix(); names are node names (config's name rule, checked by the caller).
// It gives the names that had a members/ record; errors.Is(err, errUnreachable) when etcd does
// not answer within wait.
func Forget(endpoints []string, login config.EtcdLogin, prefix string, names []string, wait time.Duration) ([]string, error) {
	cli, err := connect(endpoints, login, wait)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	d := newDiscovery(cli, prefix, "", 0, "")
	var ops []clientv3.Op
	for _, n := range names {
		ops = append(ops, clientv3.OpDelete(d.prefix+keyMembers+n, clientv3.WithPrevKV()),
			clientv3.OpDelete(d.prefix+keyNodes+n))
	}
	ctx, cancel := timeout()
	defer cancel()
	resp, err := cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, fmt.Errorf("deleting the records of %s under %s: %w", strings.Join(names, ", "), d.prefix, err)
	}
	var had []string
	for i, r := range resp.Responses {
		if i%2 == 0 && len(r.GetResponseDeleteRange().PrevKvs) > 0 {
			had = append(had, names[i/2])
		}
	}
	return had, nil
}

// dial makes a client of endpoints that logs in as login (clientv3.New authenticates at once).
func dial(endpoints []string, login config.EtcdLogin) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, Logger: zap.NewNop(),
		Username: login.Username, Password: login.Password})
}

// redialer is Discovery.redial for a client of endpoints that logs in as login.
func redialer(endpoints []string, login config.EtcdLogin) func() (*clientv3.Client, error) {
	return func() (*clientv3.Client, error) { return dial(endpoints, login) }
}

// connect logs in as login and waits until etcd answers a read, up to wait;
// errors.Is(err, errUnreachable) then, errors.Is(err, ErrLoginRefused) at once when etcd refuses
// the user or password.
func connect(endpoints []string, login config.EtcdLogin, wait time.Duration) (*clientv3.Client, error) {
	deadline := time.Now().Add(wait)
	for {
		cli, err := dial(endpoints, login)
		if errors.Is(err, rpctypes.ErrAuthFailed) {
			return nil, fmt.Errorf("%w: logging in as %s: %v", ErrLoginRefused, login.Username, err)
		}
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = cli.Get(ctx, "health", clientv3.WithCountOnly())
			cancel()
			// Refused outside the user's prefix is an answer too (as etcdctl endpoint health).
			if err == nil || errors.Is(err, rpctypes.ErrPermissionDenied) {
				return cli, nil
			}
			cli.Close()
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%w: %v", errUnreachable, err)
		}
		time.Sleep(time.Second)
	}
}

var errUnreachable = errors.New("etcd unreachable")

// ErrLoginRefused: etcd refused the user name or password (the password file holds another
// password than the one etcd's user was created with).
var ErrLoginRefused = errors.New("etcd refused the login")

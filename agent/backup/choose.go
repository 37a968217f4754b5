package backup

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/galera-swarm/galera-swarm/agent/decision"
)

// Rank is the order in which nodes take a backup: the Synced nodes of `nodes` (etcd's
// nodes/<name> records), the load balancer's writer last, the others by name. The writer is
// the Synced node with the LOWEST address (components/galera_writer.lua `choose`, the rule
// every HAProxy replica applies), so a backup's load (reading every file, its backup locks)
// lands on a node that takes no writes where there is a choice. Gives the names in order.
func Rank(nodes map[string]decision.NodeRecord) []string {
	var synced []string
	for name, r := range nodes {
		if r.State == decision.StateSynced {
			synced = append(synced, name)
		}
	}
	slices.Sort(synced)
	writer := ""
	for _, name := range synced {
		if writer == "" || lowerAddress(nodes[name].Address, nodes[writer].Address) {
			writer = name
		}
	}
	if len(synced) < 2 {
		return synced
	}
	ranked := slices.DeleteFunc(slices.Clone(synced), func(n string) bool { return n == writer })
	return append(ranked, writer)
}

// lowerAddress: a sorts before b numerically (IPv4 before IPv6, as galera_writer.lua's
// sort_key); an address that does not parse sorts last.
func lowerAddress(a, b string) bool {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	switch {
	case errA != nil:
		return false
	case errB != nil:
		return true
	case pa.Is4() != pb.Is4():
		return pa.Is4()
	}
	return pa.Less(pb) || (pa == pb && strings.Compare(a, b) < 0)
}

// Place is where `self` stands in Rank (0 = first), -1 when it is not a Synced node.
func Place(nodes map[string]decision.NodeRecord, self string) int {
	return slices.Index(Rank(nodes), self)
}

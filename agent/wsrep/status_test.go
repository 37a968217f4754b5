package wsrep

import (
	"testing"

	"github.com/galera-swarm/galera-swarm/agent/decision"
)

func TestStateName(t *testing.T) {
	for _, tt := range []struct{ local, cluster, want string }{
		{"4", "Primary", decision.StateSynced}, {"2", "Primary", decision.StateDonor}, {"3", "Primary", decision.StateJoined},
		{"1", "Primary", decision.StateJoining}, {"1", "non-Primary", decision.StateJoining},
		{"4", "non-Primary", decision.StateNonPrimary}, {"0", "Disconnected", decision.StateNonPrimary},
		{"x", "x", decision.StateDown}, {"NULL", "NULL", decision.StateDown},
	} {
		if got := StateName(tt.local, tt.cluster); got != tt.want {
			t.Errorf("StateName(%s, %s) = %s, want %s", tt.local, tt.cluster, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	got := Parse("4\tPrimary\tU\t10.0.0.1:3306,10.0.0.2:3306\tJoining: preparing for State Transfer\n")
	want := Status{"4", "Primary", "U", "10.0.0.1:3306,10.0.0.2:3306", "Joining: preparing for State Transfer"}
	if got != want {
		t.Errorf("got %+v", got)
	}
	if got := Parse(""); got != (Status{"x", "x", "x", "x", "x"}) {
		t.Errorf("no answer: %+v", got)
	}
	if got := Parse("0\tDisconnected\t" + decision.ZeroUUID + "\t"); got.ClusterStatus != "Disconnected" || got.Incoming != "" || got.Comment != "x" {
		t.Errorf("short row: %+v", got)
	}
}

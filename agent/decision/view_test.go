package decision

import (
	"slices"
	"testing"
)

func TestPositionCompare(t *testing.T) {
	tests := []struct {
		p, q  Position
		order int
		ok    bool
	}{
		{Position{UUID: "U", Seqno: 5}, Position{UUID: "U", Seqno: 7}, -1, true},
		{Position{UUID: "U", Seqno: 7}, Position{UUID: "U", Seqno: 5}, 1, true},
		{Position{UUID: "U", Seqno: 7}, Position{UUID: "U", Seqno: 7}, 0, true},
		{Position{UUID: "U", Seqno: 7, SafeToBootstrap: true}, Position{UUID: "U", Seqno: 7}, 1, true},
		{Position{UUID: "U", Seqno: 7}, Position{UUID: "U", Seqno: 7, SafeToBootstrap: true}, -1, true},
		{Position{UUID: "U", Seqno: 6, SafeToBootstrap: true}, Position{UUID: "U", Seqno: 7}, -1, true},
		{Position{UUID: "U", Seqno: 9}, Position{UUID: "V", Seqno: 1}, 0, false},
	}
	for _, tt := range tests {
		order, ok := tt.p.Compare(tt.q)
		if order != tt.order || ok != tt.ok {
			t.Errorf("%+v.Compare(%+v) = %d, %v; want %d, %v", tt.p, tt.q, order, ok, tt.order, tt.ok)
		}
	}
}

func TestParsePositionRoundTrip(t *testing.T) {
	for _, text := range []string{uuidA + ":42", uuidA + ":-1", ZeroUUID + ":-1"} {
		p, err := ParsePosition(text)
		if err != nil || p.String() != text {
			t.Errorf("ParsePosition(%q) = %v, %v; String() gives %q", text, p, err, p.String())
		}
	}
	for _, bad := range []string{"", ":5", uuidA, uuidA + ":x"} {
		if _, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q): no error", bad)
		}
	}
}

func TestNodeRecordRoundTrip(t *testing.T) {
	for _, value := range []string{"10.0.0.1 starting", "10.0.0.1 waiting " + uuidA + " 42", "10.0.0.1 synced " + uuidA + " -1"} {
		r, err := ParseNodeRecord(value)
		if err != nil || r.String() != value {
			t.Errorf("ParseNodeRecord(%q) = %+v, %v; String() gives %q", value, r, err, r.String())
		}
	}
	r, err := ParseNodeRecord("10.0.0.1 waiting " + uuidA + " notanumber")
	if err != nil || r.Position != nil {
		t.Errorf("a bad seqno: %+v, %v; want no position", r, err)
	}
	if _, err := ParseNodeRecord("10.0.0.1"); err == nil {
		t.Error("a record without a state: no error")
	}
}

func TestViewWinner(t *testing.T) {
	// The bash entrypoint's elect_recovery_winner case: highest seqno of the cluster's uuid,
	// ties to the lowest name, other clusters and the zero uuid never win.
	v := View{Positions: map[string]Position{
		"node-c": {UUID: "U", Seqno: 7}, "node-a": {UUID: "U", Seqno: 5}, "node-b": {UUID: "U", Seqno: 7},
		"node-d": {UUID: "OTHER", Seqno: 9}, "node-e": NoPosition,
	}}
	tests := []struct {
		uuid, want string
		ok         bool
	}{{"U", "node-b", true}, {"", "node-d", true}, {"OTHER", "node-d", true}, {"NONE", "", false}}
	for _, tt := range tests {
		if got, ok := v.Winner(tt.uuid); got != tt.want || ok != tt.ok {
			t.Errorf("Winner(%q) = %q, %v; want %q, %v", tt.uuid, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := (View{}).Winner(""); ok {
		t.Errorf("no positions: winner %q", got)
	}
}

func TestViewCompleteness(t *testing.T) {
	v := View{Positions: map[string]Position{"g1": {}, "g2": {}}, Members: []string{"g3", "g1", "g2", "g3"}}
	if got := v.Missing(); !slices.Equal(got, []string{"g3"}) {
		t.Errorf("missing %q", got)
	}
	for expected, want := range map[int]bool{0: false, 2: true, 3: false} {
		if got := v.IsComplete(expected); got != want {
			t.Errorf("IsComplete(%d) = %v, want %v", expected, got, want)
		}
	}
	v.Members = []string{"g1"}
	if !v.IsComplete(0) || !v.IsComplete(5) {
		t.Error("every member has published: complete whatever the expected size")
	}
}

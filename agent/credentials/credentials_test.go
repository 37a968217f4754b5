package credentials

import (
	"os"
	"testing"
)

// The golden files are the output of the shell credentials_sql of images/galera (before it
// moved here) for the same accounts: the SQL is byte for byte the same.
func TestSQLMatchesTheGoldenFiles(t *testing.T) {
	full := Accounts{RootPassword: `r'o\ot`, User: "wp", Password: "w'p", Database: "word$press"}
	rootOnly := Accounts{RootPassword: "r"}
	tests := []struct {
		file     string
		mode     Mode
		accounts Accounts
	}{
		{"retain.sql", Retain, full}, {"discard.sql", Discard, full},
		{"retain-root-only.sql", Retain, rootOnly}, {"discard-root-only.sql", Discard, rootOnly},
	}
	for _, tt := range tests {
		want, err := os.ReadFile("testdata/" + tt.file)
		if err != nil {
			t.Fatal(err)
		}
		if got := SQL(tt.mode, tt.accounts); got != string(want) {
			t.Errorf("%s: got\n%s\nwant\n%s", tt.file, got, want)
		}
	}
}

func TestTLSRequirement(t *testing.T) {
	tests := []struct {
		name     string
		accounts Accounts
		required bool
		want     string
	}{
		{"TLS on: root@'%' and the application user", Accounts{User: "w'p"}, true,
			"ALTER USER IF EXISTS 'root'@'%' REQUIRE SSL;\nALTER USER IF EXISTS 'w''p'@'%' REQUIRE SSL;\n"},
		{"TLS off: no requirement (a switch back takes it away)", Accounts{User: "wp"}, false,
			"ALTER USER IF EXISTS 'root'@'%' REQUIRE NONE;\nALTER USER IF EXISTS 'wp'@'%' REQUIRE NONE;\n"},
		{"no application user", Accounts{}, true, "ALTER USER IF EXISTS 'root'@'%' REQUIRE SSL;\n"},
	}
	for _, tt := range tests {
		if got := TLSRequirement(tt.accounts, tt.required); got != tt.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}

func TestSQLString(t *testing.T) {
	for in, want := range map[string]string{"": "''", "a'b": "'a''b'", `a\b`: `'a\\b'`, `\'`: `'\\'''`} {
		if got := SQLString(in); got != want {
			t.Errorf("SQLString(%q) = %s, want %s", in, got, want)
		}
	}
}

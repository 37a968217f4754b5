package docker

import (
	"context"
	"strings"
	"testing"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/galera-swarm/galera-swarm/providers/internal/keepalive"
)

func noEnv(string) string { return "" }

func TestSSHOptsAreReadFromJSONTextAndFromAList(t *testing.T) {
	want := []string{"-i", "/k", "-o", "StrictHostKeyChecking=no"}
	asList := property.New(property.NewArray([]property.Value{
		property.New("-i"), property.New("/k"), property.New("-o"), property.New("StrictHostKeyChecking=no"),
	}))
	for name, value := range map[string]property.Value{
		"json text": property.New(`["-i", "/k", "-o", "StrictHostKeyChecking=no"]`),
		"list":      asList,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := sshOptsFrom(value)
			if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("sshOptsFrom = %q, %v; want %q", got, err, want)
			}
		})
	}
	if _, err := sshOptsFrom(property.New("-i /k")); err == nil {
		t.Error("plain text sshOpts accepted")
	}
}

func TestConfigAsTheSDKSendsIt(t *testing.T) {
	config := property.NewMap(map[string]property.Value{
		"host":    property.New("ssh://root@192.0.2.7:2222"),
		"sshOpts": property.New(`["-i", "/keys/id", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=7"]`),
		"version": property.New("5.1.0"),
	})
	settings, failures, err := parseConfig(config, noEnv)
	if err != nil || len(failures) > 0 {
		t.Fatalf("parseConfig: %v %v", failures, err)
	}
	s := settings.SSH
	if s == nil || s.User != "root" || s.Addr != "192.0.2.7:2222" || s.StrictHostKeyChecking != "no" ||
		strings.Join(s.IdentityFiles, ",") != "/keys/id" || strings.Join(s.KnownHostsFiles, ",") != "/dev/null" ||
		s.ConnectTimeout != 7*time.Second {
		t.Errorf("ssh settings = %+v", s)
	}
}

func TestConfigFallsBackToTheEnvironment(t *testing.T) {
	env := map[string]string{"DOCKER_HOST": "ssh://ops@h", "DOCKER_SSH_OPTS": "-p 2200 -o StrictHostKeyChecking=accept-new"}
	settings, failures, err := parseConfig(property.Map{}, func(k string) string { return env[k] })
	if err != nil || len(failures) > 0 {
		t.Fatalf("parseConfig: %v %v", failures, err)
	}
	if settings.SSH.Addr != "h:2200" || settings.SSH.User != "ops" || settings.SSH.StrictHostKeyChecking != "accept-new" {
		t.Errorf("ssh settings = %+v", settings.SSH)
	}
	settings, _, _ = parseConfig(property.Map{}, noEnv)
	if settings.Host != defaultUnixHost || settings.SSH != nil {
		t.Errorf("default host = %+v", settings)
	}
}

func TestHostURLs(t *testing.T) {
	cases := []struct {
		host, wantAddr, wantUser, wantErr string
	}{
		{host: "unix:///var/run/docker.sock"},
		{host: "tcp://127.0.0.1:2375"},
		{host: "ssh://root@10.0.0.1:22", wantAddr: "10.0.0.1:22", wantUser: "root"},
		{host: "ssh://admin@node1", wantAddr: "node1:22", wantUser: "admin"},
		{host: "ssh://root@[2001:db8::1]:2022", wantAddr: "[2001:db8::1]:2022", wantUser: "root"},
		{host: "ssh://root:pw@h", wantErr: "passwords"},
		{host: "ssh://root@h/some/path", wantErr: "path"},
		{host: "npipe:////./pipe/docker", wantErr: "not supported"},
		{host: "unix://", wantErr: "no socket path"},
	}
	for _, c := range cases {
		t.Run(c.host, func(t *testing.T) {
			settings, err := hostSettings(c.host, nil)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error = %v, want it to mention %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.wantAddr != "" && (settings.SSH.Addr != c.wantAddr || settings.SSH.User != c.wantUser) {
				t.Errorf("ssh = %+v", settings.SSH)
			}
		})
	}
}

func TestSSHFlags(t *testing.T) {
	cases := []struct {
		name    string
		opts    []string
		check   func(*sshSettings) bool
		wantErr string
	}{
		{"identity", []string{"-i", "/a", "-i/b"}, func(s *sshSettings) bool { return strings.Join(s.IdentityFiles, ",") == "/a,/b" }, ""},
		{"port flag", []string{"-p", "2222"}, func(s *sshSettings) bool { return strings.HasSuffix(s.Addr, ":2222") }, ""},
		{"user flag", []string{"-l", "ops"}, func(s *sshSettings) bool { return s.User == "ops" }, ""},
		{"strict yes by default", nil, func(s *sshSettings) bool { return s.StrictHostKeyChecking == "yes" }, ""},
		{"strict no", []string{"-oStrictHostKeyChecking=no"}, func(s *sshSettings) bool { return s.StrictHostKeyChecking == "no" }, ""},
		{"known hosts", []string{"-o", "UserKnownHostsFile=/tmp/kh"}, func(s *sshSettings) bool { return s.KnownHostsFiles[0] == "/tmp/kh" }, ""},
		{"log level ignored", []string{"-o", "LogLevel=ERROR"}, func(*sshSettings) bool { return true }, ""},
		{"timeout", []string{"-o", "ConnectTimeout=3"}, func(s *sshSettings) bool { return s.ConnectTimeout == 3*time.Second }, ""},
		{"keepalive default", nil, func(s *sshSettings) bool { return s.Keepalive == keepalive.Default }, ""},
		{"keepalive options", []string{"-o", "ServerAliveInterval=5", "-oServerAliveCountMax=2"},
			func(s *sshSettings) bool {
				return s.Keepalive == keepalive.Policy{Interval: 5 * time.Second, MaxMissed: 2}
			}, ""},
		{"keepalives cannot be turned off", []string{"-o", "ServerAliveInterval=0"}, nil, "ServerAliveInterval"},
		{"unknown flag", []string{"-A"}, nil, `"-A"`},
		{"unknown option", []string{"-o", "ProxyJump=bastion"}, nil, `"ProxyJump"`},
		{"bad strict value", []string{"-o", "StrictHostKeyChecking=maybe"}, nil, "StrictHostKeyChecking"},
		{"missing value", []string{"-i"}, nil, "needs a value"},
		{"bad timeout", []string{"-o", "ConnectTimeout=soon"}, nil, "ConnectTimeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			settings, err := hostSettings("ssh://h", c.opts)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error = %v, want it to mention %s", err, c.wantErr)
				}
				return
			}
			if err != nil || !c.check(settings.SSH) {
				t.Errorf("settings = %+v, err = %v", settings.SSH, err)
			}
		})
	}
}

func TestCheckConfigNamesSSHOptsAndRefusedKeys(t *testing.T) {
	resp, err := checkConfig(context.Background(), p.CheckRequest{Inputs: property.NewMap(map[string]property.Value{
		"host":                     property.New("ssh://root@h"),
		"sshOpts":                  property.New(`["-o", "ForwardAgent=yes"]`),
		"caMaterial":               property.New("PEM"),
		"registryAuth":             property.New("[]"),
		"disableDockerDaemonCheck": property.New("false"),
		"version":                  property.New("5.1.0"),
	})})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range resp.Failures {
		got[f.Property] = f.Reason
	}
	if !strings.Contains(got["sshOpts"], "ForwardAgent") || !strings.Contains(got["caMaterial"], "does not support") {
		t.Errorf("failures = %v", got)
	}
	if _, ok := got["registryAuth"]; ok {
		t.Errorf("an empty registryAuth was refused: %v", got)
	}
	if _, ok := got["disableDockerDaemonCheck"]; ok {
		t.Errorf("disableDockerDaemonCheck=false was refused: %v", got)
	}
	if !resp.Inputs.Get("sshOpts").IsArray() {
		t.Errorf("checked sshOpts is not a list: %v", resp.Inputs.Get("sshOpts"))
	}
}

func TestProviderDispatchesTheSDKTokensAndDecodesDoubles(t *testing.T) {
	prov := Provider()
	urn := resource.NewURN("dev", "galera", "", "docker:index/service:Service", "db")
	resp, err := prov.Check(context.Background(), p.CheckRequest{Urn: urn, Inputs: property.NewMap(map[string]property.Value{
		"name": property.New("galera"),
		"taskSpec": property.New(property.NewMap(map[string]property.Value{
			"containerSpec": property.New(property.NewMap(map[string]property.Value{"image": property.New("mariadb:11")})),
		})),
		"mode": property.New(property.NewMap(map[string]property.Value{
			"replicated": property.New(property.NewMap(map[string]property.Value{"replicas": property.New(3.0)})),
		})),
	})})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("Check: %v %v", resp.Failures, err)
	}
	replicas := resp.Inputs.Get("mode").AsMap().Get("replicated").AsMap().Get("replicas")
	if !replicas.IsNumber() || replicas.AsNumber() != 3 {
		t.Errorf("replicas = %v", replicas)
	}
	for _, token := range []string{"docker:index/network:Network", "docker:index/secret:Secret", "docker:index/serviceConfig:ServiceConfig"} {
		_, err := prov.Check(context.Background(), p.CheckRequest{Urn: resource.NewURN("dev", "galera", "", tokens.Type(token), "x"),
			Inputs: property.NewMap(map[string]property.Value{"data": property.New("aGk="), "name": property.New("x")})})
		if err != nil && strings.Contains(err.Error(), "unknown") {
			t.Errorf("%s not served: %v", token, err)
		}
	}
}

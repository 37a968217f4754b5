// Package docker is galera-swarm's own `pulumi-resource-docker`: a Pulumi resource plugin that
// serves the unchanged Python SDK pulumi-docker 5.1.0 for the four resources the program uses
// (Network, Secret, ServiceConfig, Service). The wire facts it relies on are written down in
// providers/CONTRACT.md (comments below link to its sections).
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/galera-swarm/galera-swarm/providers/internal/keepalive"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// Name is the plugin's package name; the engine runs it as `pulumi-resource-docker`.
const Name = "docker"

// defaultUnixHost is the daemon address when neither `host` nor DOCKER_HOST is set
// (providers/CONTRACT.md#docker-provider-config).
const defaultUnixHost = "unix:///var/run/docker.sock"

// Provider returns the plugin: the four resources plus a hand-written provider config
// (CheckConfig/DiffConfig/Configure) that owns the single Docker connection shared by every
// resource operation of this plugin process. The engine starts one process per provider
// instance, so "per process" and "per provider instance" are the same.
func Provider() p.Provider {
	return newProvider(&dockerHost{})
}

func newProvider(host *dockerHost) p.Provider {
	prov := infer.Provider(infer.Options{
		Resources: []infer.InferredResource{
			infer.Resource[Network, NetworkArgs, NetworkState](Network{host: host}),
			infer.Resource[Secret, SecretArgs, SecretState](Secret{host: host}),
			infer.Resource[ServiceConfig, ServiceConfigArgs, ServiceConfigState](ServiceConfig{host: host}),
			infer.Resource[Service, ServiceArgs, ServiceState](Service{host: host}),
		},
	})
	prov.CheckConfig = checkConfig
	prov.DiffConfig = diffConfig
	prov.Configure = func(ctx context.Context, req p.ConfigureRequest) error {
		settings, failures, err := parseConfig(req.Args, os.Getenv)
		if err != nil {
			return fmt.Errorf("configuring the docker provider: %w", err)
		}
		if len(failures) > 0 {
			return fmt.Errorf("configuring the docker provider: %s: %s", failures[0].Property, failures[0].Reason)
		}
		host.configure(settings)
		return nil
	}
	// Diff needs the resource's URN name to tell an autoname from a program-given name, and
	// Create/Update need the URN for the owner label (ownership.go); infer's typed requests
	// do not pass it, so it travels in the context.
	inferDiff, inferCreate, inferUpdate := prov.Diff, prov.Create, prov.Update
	prov.Diff = func(ctx context.Context, req p.DiffRequest) (p.DiffResponse, error) {
		return inferDiff(withURN(ctx, req.Urn), req)
	}
	prov.Create = func(ctx context.Context, req p.CreateRequest) (p.CreateResponse, error) {
		return inferCreate(withURN(ctx, req.Urn), req)
	}
	prov.Update = func(ctx context.Context, req p.UpdateRequest) (p.UpdateResponse, error) {
		return inferUpdate(withURN(ctx, req.Urn), req)
	}
	return prov
}

type urnKey struct{}

// withURN stores the URN of the resource being operated on in ctx.
func withURN(ctx context.Context, urn resource.URN) context.Context {
	return context.WithValue(ctx, urnKey{}, urn)
}

// urnFrom gives the URN that newProvider stored in ctx ("" if none).
func urnFrom(ctx context.Context) resource.URN {
	urn, _ := ctx.Value(urnKey{}).(resource.URN)
	return urn
}

// urnNameFrom gives the resource name of the URN that newProvider stored in ctx ("" if none).
func urnNameFrom(ctx context.Context) string {
	urn := urnFrom(ctx)
	if urn == "" {
		return ""
	}
	return urn.Name()
}

// connSettings is the checked provider config: where the daemon is and how to reach it.
type connSettings struct {
	// Host is the daemon URL as given (or defaulted): unix://PATH, tcp://HOST:PORT or ssh://...
	Host string
	// SSH is set when Host is an ssh:// URL.
	SSH *sshSettings
}

// sshSettings is what an ssh:// host plus the understood ssh flags (`sshOpts`) amount to.
type sshSettings struct {
	User string
	// Addr is host:port.
	Addr string
	// IdentityFiles are private key files (`-i`); empty means the usual ~/.ssh/id_* files.
	IdentityFiles []string
	// StrictHostKeyChecking is "yes", "no" or "accept-new" (OpenSSH's meanings).
	StrictHostKeyChecking string
	// KnownHostsFiles default to ~/.ssh/known_hosts.
	KnownHostsFiles []string
	// ConnectTimeout bounds one TCP connect plus SSH handshake.
	ConnectTimeout time.Duration
	// Keepalive is how often a keepalive goes out and how many may go unanswered before
	// the connection is given up (keepalive.Default; `-o ServerAliveInterval`,
	// `-o ServerAliveCountMax`).
	Keepalive keepalive.Policy
}

// configKeysRefused are provider config keys the SDK can send that this plugin does not
// implement (providers/CONTRACT.md#docker-provider-config); setting one to a non-empty
// value fails CheckConfig.
var configKeysRefused = []string{"context", "caMaterial", "certMaterial", "keyMaterial", "certPath", "registryAuth"}

// checkConfig validates the provider config and returns it with sshOpts as a real list.
// Failures name the config key (and the ssh flag for sshOpts).
func checkConfig(_ context.Context, req p.CheckRequest) (p.CheckResponse, error) {
	_, failures, err := parseConfig(req.Inputs, os.Getenv)
	if err != nil {
		return p.CheckResponse{}, err
	}
	inputs := req.Inputs
	if v, ok := inputs.GetOk("sshOpts"); ok && v.IsString() {
		if opts, err := sshOptsFrom(v); err == nil {
			list := make([]property.Value, len(opts))
			for i, o := range opts {
				list[i] = property.New(o)
			}
			inputs = inputs.Set("sshOpts", property.New(property.NewArray(list)))
		}
	}
	return p.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// diffConfig reports changed config keys as in-place updates: a new host or key only
// affects how later operations connect, so the provider (and all its resources) is never
// replaced.
func diffConfig(_ context.Context, req p.DiffRequest) (p.DiffResponse, error) {
	detailed := map[string]p.PropertyDiff{}
	keys := map[string]bool{}
	for k := range req.State.All {
		keys[k] = true
	}
	for k := range req.Inputs.All {
		keys[k] = true
	}
	for k := range keys {
		if k == "version" || strings.HasPrefix(k, "__") {
			continue
		}
		if !req.State.Get(k).Equals(req.Inputs.Get(k)) {
			detailed[k] = p.PropertyDiff{Kind: p.Update, InputDiff: true}
		}
	}
	return p.DiffResponse{HasChanges: len(detailed) > 0, DetailedDiff: detailed}, nil
}

// parseConfig turns the raw provider config into connSettings. getenv supplies DOCKER_HOST
// and DOCKER_SSH_OPTS fallbacks (providers/CONTRACT.md#docker-provider-config). User
// mistakes come back as check failures; the error is only for values that cannot be read at
// all.
func parseConfig(config property.Map, getenv func(string) string) (connSettings, []p.CheckFailure, error) {
	var failures []p.CheckFailure
	fail := func(prop, reason string, args ...any) {
		failures = append(failures, p.CheckFailure{Property: prop, Reason: fmt.Sprintf(reason, args...)})
	}
	for _, key := range configKeysRefused {
		if v, ok := config.GetOk(key); ok && !isEmptyValue(v) {
			fail(key, "this plugin (galera-swarm's pulumi-resource-docker) does not support %q", key)
		}
	}
	if v, ok := config.GetOk("disableDockerDaemonCheck"); ok && !isEmptyValue(v) {
		if b, isBool := boolFrom(v); !isBool || b {
			fail("disableDockerDaemonCheck", "this plugin (galera-swarm's pulumi-resource-docker) does not support \"disableDockerDaemonCheck\" set to true")
		}
	}
	for key := range config.All {
		switch key {
		case "host", "sshOpts", "version", "disableDockerDaemonCheck":
		default:
			if !strings.HasPrefix(key, "__") && !slices.Contains(configKeysRefused, key) {
				fail(key, "%s", schema.UnsupportedMarker(Name))
			}
		}
	}

	host := ""
	if v, ok := config.GetOk("host"); ok && v.IsString() {
		host = v.AsString()
	}
	if host == "" {
		host = getenv("DOCKER_HOST")
	}
	if host == "" {
		host = defaultUnixHost
	}
	var opts []string
	if v, ok := config.GetOk("sshOpts"); ok && !isEmptyValue(v) {
		parsed, err := sshOptsFrom(v)
		if err != nil {
			fail("sshOpts", "%v", err)
		}
		opts = parsed
	} else if env := getenv("DOCKER_SSH_OPTS"); env != "" {
		opts = strings.Fields(env)
	}

	settings, err := hostSettings(host, opts)
	if err != nil {
		var flagErr sshFlagError
		if errors.As(err, &flagErr) {
			fail("sshOpts", "%v", err)
		} else {
			fail("host", "%v", err)
		}
	}
	return settings, failures, nil
}

// sshOptsFrom reads `sshOpts` given either as a list of strings or as the JSON text of one
// (the Python SDK JSON-encodes every non-string provider input,
// providers/CONTRACT.md#docker-provider-config).
func sshOptsFrom(v property.Value) ([]string, error) {
	v = unwrapSecret(v)
	switch {
	case v.IsString():
		var list []string
		if err := json.Unmarshal([]byte(v.AsString()), &list); err != nil {
			return nil, fmt.Errorf("expected a list of strings or its JSON text, got %q: %w", v.AsString(), err)
		}
		return list, nil
	case v.IsArray():
		var list []string
		for i, item := range v.AsArray().All {
			item = unwrapSecret(item)
			if !item.IsString() {
				return nil, fmt.Errorf("item %d is not a string", i)
			}
			list = append(list, item.AsString())
		}
		return list, nil
	}
	return nil, fmt.Errorf("expected a list of strings, got %v", v)
}

// sshFlagError is an ssh flag in sshOpts that this plugin cannot honour.
type sshFlagError struct{ msg string }

func (e sshFlagError) Error() string { return e.msg }

// hostSettings parses a daemon URL (unix://, tcp://, ssh://[user@]host[:port]) and, for
// ssh, applies the ssh flags. Returns an error naming the bad part.
func hostSettings(host string, sshOpts []string) (connSettings, error) {
	u, err := url.Parse(host)
	if err != nil {
		return connSettings{Host: host}, fmt.Errorf("parsing docker host %q: %w", host, err)
	}
	settings := connSettings{Host: host}
	switch u.Scheme {
	case "unix":
		if u.Path == "" {
			return settings, fmt.Errorf("docker host %q has no socket path", host)
		}
		return settings, nil
	case "tcp", "http":
		if u.Host == "" {
			return settings, fmt.Errorf("docker host %q has no address", host)
		}
		return settings, nil
	case "ssh":
	default:
		return settings, fmt.Errorf("docker host %q: scheme %q is not supported (use unix:// or ssh://)", host, u.Scheme)
	}
	if u.Hostname() == "" {
		return settings, fmt.Errorf("docker host %q has no host name", host)
	}
	if u.Path != "" && u.Path != "/" {
		return settings, fmt.Errorf("docker host %q: a path is not supported in ssh:// hosts", host)
	}
	s := &sshSettings{StrictHostKeyChecking: "yes", ConnectTimeout: 30 * time.Second, Keepalive: keepalive.Default}
	port := u.Port()
	if u.User != nil {
		s.User = u.User.Username()
		if _, hasPassword := u.User.Password(); hasPassword {
			return settings, fmt.Errorf("docker host %q: passwords in ssh:// hosts are not supported", host)
		}
	}
	if err := applySSHFlags(s, sshOpts, &port); err != nil {
		return settings, err
	}
	if port == "" {
		port = "22"
	}
	if s.User == "" {
		s.User = os.Getenv("USER")
		if s.User == "" {
			s.User = "root"
		}
	}
	s.Addr = net.JoinHostPort(u.Hostname(), port)
	if len(s.KnownHostsFiles) == 0 {
		if home, err := os.UserHomeDir(); err == nil {
			s.KnownHostsFiles = []string{filepath.Join(home, ".ssh", "known_hosts")}
		}
	}
	settings.SSH = s
	return settings, nil
}

// applySSHFlags interprets the OpenSSH flags we understand: -i FILE, -p PORT, -l USER and
// -o KEY=VALUE for StrictHostKeyChecking, UserKnownHostsFile, ConnectTimeout,
// ServerAliveInterval, ServerAliveCountMax, LogLevel
// (ignored), Port and User. A port or user written in the ssh:// URL wins over the flags.
// Returns an sshFlagError naming any other flag.
func applySSHFlags(s *sshSettings, opts []string, port *string) error {
	urlPort, urlUser := *port, s.User
	value := func(i int, flag string) (string, error) {
		if i+1 >= len(opts) {
			return "", sshFlagError{fmt.Sprintf("ssh flag %q needs a value", flag)}
		}
		return opts[i+1], nil
	}
	for i := 0; i < len(opts); i++ {
		flag := opts[i]
		var arg string
		// "-iFILE" and "-oKey=Value" are also valid ssh syntax.
		if len(flag) > 2 && strings.HasPrefix(flag, "-") && strings.Contains("ipol", flag[1:2]) {
			arg, flag = flag[2:], flag[:2]
		} else if flag == "-i" || flag == "-p" || flag == "-o" || flag == "-l" {
			v, err := value(i, flag)
			if err != nil {
				return err
			}
			arg = v
			i++
		} else {
			return sshFlagError{fmt.Sprintf("ssh flag %q is not supported by this plugin (it understands -i, -p, -l and -o StrictHostKeyChecking/UserKnownHostsFile/ConnectTimeout/ServerAliveInterval/ServerAliveCountMax/LogLevel/Port/User)", flag)}
		}
		switch flag {
		case "-i":
			s.IdentityFiles = append(s.IdentityFiles, expandHome(arg))
		case "-p":
			*port = arg
		case "-l":
			s.User = arg
		case "-o":
			if err := applySSHOption(s, arg, port); err != nil {
				return err
			}
		}
	}
	if urlPort != "" {
		*port = urlPort
	}
	if urlUser != "" {
		s.User = urlUser
	}
	if _, err := strconv.ParseUint(*port, 10, 16); *port != "" && err != nil {
		return sshFlagError{fmt.Sprintf("ssh port %q is not a port number", *port)}
	}
	return nil
}

// applySSHOption applies one `-o Key=Value` (or `Key Value`) ssh option.
func applySSHOption(s *sshSettings, option string, port *string) error {
	key, val, ok := strings.Cut(option, "=")
	if !ok {
		key, val, ok = strings.Cut(option, " ")
	}
	if !ok {
		return sshFlagError{fmt.Sprintf("ssh option %q has no value", option)}
	}
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	switch strings.ToLower(key) {
	case "stricthostkeychecking":
		switch strings.ToLower(val) {
		case "no", "off":
			s.StrictHostKeyChecking = "no"
		case "yes", "ask":
			// "ask" cannot ask anyone here; OpenSSH in batch mode refuses unknown hosts too.
			s.StrictHostKeyChecking = "yes"
		case "accept-new":
			s.StrictHostKeyChecking = "accept-new"
		default:
			return sshFlagError{fmt.Sprintf("ssh option StrictHostKeyChecking=%q is not one of yes, no, accept-new", val)}
		}
	case "userknownhostsfile":
		s.KnownHostsFiles = nil
		for _, f := range strings.Fields(val) {
			s.KnownHostsFiles = append(s.KnownHostsFiles, expandHome(f))
		}
	case "connecttimeout":
		seconds, err := strconv.Atoi(val)
		if err != nil || seconds < 0 {
			return sshFlagError{fmt.Sprintf("ssh option ConnectTimeout=%q is not a number of seconds", val)}
		}
		s.ConnectTimeout = time.Duration(seconds) * time.Second
	case "serveraliveinterval", "serveralivecountmax":
		// OpenSSH's 0 turns keepalives off; ours stay on, so a dead host cannot hang a call.
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 {
			return sshFlagError{fmt.Sprintf("ssh option %s=%q is not a whole number of at least 1", key, val)}
		}
		if strings.EqualFold(key, "serveraliveinterval") {
			s.Keepalive.Interval = time.Duration(n) * time.Second
		} else {
			s.Keepalive.MaxMissed = n
		}
	case "loglevel":
		// Only affects what ssh(1) prints; nothing to do.
	case "port":
		*port = val
	case "user":
		s.User = val
	default:
		return sshFlagError{fmt.Sprintf("ssh option %q is not supported by this plugin", key)}
	}
	return nil
}

func expandHome(path string) string {
	if strings.HasPrefix(path, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, path[2:])
		}
	}
	return path
}

func unwrapSecret(v property.Value) property.Value {
	return v.WithSecret(false)
}

// isEmptyValue is true for null, "", empty list/map and the JSON texts "null", "[]", "{}".
func isEmptyValue(v property.Value) bool {
	v = unwrapSecret(v)
	switch {
	case v.IsNull():
		return true
	case v.IsString():
		s := strings.TrimSpace(v.AsString())
		return s == "" || s == "null" || s == "[]" || s == "{}"
	case v.IsArray():
		return v.AsArray().Len() == 0
	case v.IsMap():
		return v.AsMap().Len() == 0
	}
	return false
}

// boolFrom reads a bool given as a bool or as its JSON text.
func boolFrom(v property.Value) (bool, bool) {
	v = unwrapSecret(v)
	if v.IsBool() {
		return v.AsBool(), true
	}
	if v.IsString() {
		b, err := strconv.ParseBool(strings.TrimSpace(v.AsString()))
		return b, err == nil
	}
	return false, false
}

package backup

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// SnapshotTag marks the snapshots of this project's backups: retention and listings look at
// these only.
const SnapshotTag = "galera-backup"

// StreamName is the one file of a snapshot: mariabackup's mbstream (restic --stdin-filename).
const StreamName = "mariabackup.mbstream"

// sshTarget is where an sftp: repository lives.
type sshTarget struct {
	User, Host string
	Port       int // 0: ssh's default
}

// sftpTarget parses restic's two sftp forms, "sftp:user@host:/path" and
// "sftp://user@host[:port]//path" (restic's documentation, "SFTP"); false for other
// repositories.
func sftpTarget(repository string) (sshTarget, bool) {
	if strings.HasPrefix(repository, "sftp://") {
		u, err := url.Parse(repository)
		if err != nil || u.Hostname() == "" {
			return sshTarget{}, false
		}
		port, _ := strconv.Atoi(u.Port())
		return sshTarget{User: u.User.Username(), Host: u.Hostname(), Port: port}, true
	}
	rest, ok := strings.CutPrefix(repository, "sftp:")
	if !ok {
		return sshTarget{}, false
	}
	login, _, ok := strings.Cut(rest, ":")
	if !ok {
		return sshTarget{}, false
	}
	t := sshTarget{Host: login}
	if user, host, ok := strings.Cut(login, "@"); ok {
		t.User, t.Host = user, host
	}
	return t, t.Host != ""
}

// SSHCommand is restic's sftp.command for an sftp: repository ("" for others): ssh with the
// login key alone, the host's key checked against the known_hosts file (a wrong key is
// refused), never a prompt, and a dead connection noticed within 30 s.
func (s Settings) SSHCommand() string {
	t, ok := sftpTarget(s.Repository)
	if !ok {
		return ""
	}
	args := []string{"ssh", "-i", s.SSHKeyFile, "-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=" + s.KnownHostsFile, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
		"-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3"}
	if t.Port != 0 {
		args = append(args, "-p", strconv.Itoa(t.Port))
	}
	if t.User != "" {
		args = append(args, "-l", t.User)
	}
	return strings.Join(append(args, t.Host, "-s", "sftp"), " ")
}

// ResticArgs are restic's arguments for the subcommand and its own arguments: the repository,
// and for sftp: the ssh command.
func (s Settings) ResticArgs(sub ...string) []string {
	args := []string{"--repo", s.Repository, "--no-cache"}
	if cmd := s.SSHCommand(); cmd != "" {
		args = append(args, "--option", "sftp.command="+cmd)
	}
	return append(args, sub...)
}

// ResticEnv is restic's environment: the password's file, never the password, and one
// progress line a minute (restic --json prints 60 a second otherwise, kept in memory here).
func (s Settings) ResticEnv() []string {
	return []string{"RESTIC_PASSWORD_FILE=" + s.PasswordFile, "RESTIC_PROGRESS_FPS=0.016666",
		"HOME=/tmp", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
}

// ForgetArgs: restic forget with the policy over every node's snapshots as one series
// (--group-by paths: restic groups by host too by default, and each node is a host), then prune.
func (k Keep) ForgetArgs() []string {
	return []string{"forget", "--tag", SnapshotTag, "--group-by", "paths",
		"--keep-last", strconv.Itoa(k.Last), "--keep-daily", strconv.Itoa(k.Daily),
		"--keep-weekly", strconv.Itoa(k.Weekly), "--keep-monthly", strconv.Itoa(k.Monthly), "--prune"}
}

// resticFailure words restic's failure for an operator: the cause when restic's exit status
// or message names one (exit codes of restic 0.14 are 1 for most errors; the messages are
// its own), else restic's last line.
func resticFailure(what, repository, stderr string) error {
	last := lastLine(stderr)
	if last == "" {
		last = "no message (killed?)"
	}
	switch {
	case strings.Contains(stderr, "wrong password or no key found"):
		return fmt.Errorf("%s: the backup password does not open the repository %s (restic: %s); set the password the repository was made with", what, repository, last)
	case strings.Contains(stderr, "Host key verification failed") || strings.Contains(stderr, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		return fmt.Errorf("%s: the host of %s presents a key that the known_hosts file does not hold: refused (restic: %s)", what, repository, last)
	case strings.Contains(stderr, "no space left on device"):
		return fmt.Errorf("%s: the repository %s is out of disk space (restic: %s)", what, repository, last)
	case strings.Contains(stderr, "Connection refused") || strings.Contains(stderr, "Connection timed out") ||
		strings.Contains(stderr, "No route to host") || strings.Contains(stderr, "ssh command exited") ||
		strings.Contains(stderr, "connection lost"):
		return fmt.Errorf("%s: the repository %s is unreachable (restic: %s)", what, repository, last)
	}
	return fmt.Errorf("%s: restic: %s", what, last)
}

// repositoryMissing: restic says there is no repository at the location (so `init` makes it).
func repositoryMissing(stderr string) bool {
	return strings.Contains(stderr, "Is there a repository at the following location?")
}

// lastLine is the last non-empty line of text, trimmed ("" when there is none).
func lastLine(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

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
// refused), never a prompt, and a dead connection noticed within 30 s. With logFile set, ssh
// writes its own messages there (ssh -E): restic 0.14 copies ssh's stderr from a goroutine
// and often exits before the copy, so ssh's "Connection timed out" would be lost and restic
// says only "unable to start the sftp session, error: EOF".
func (s Settings) SSHCommand(logFile string) string {
	t, ok := sftpTarget(s.Repository)
	if !ok {
		return ""
	}
	args := []string{"ssh", "-i", s.SSHKeyFile, "-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=" + s.KnownHostsFile, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
		"-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3"}
	if logFile != "" {
		args = append(args, "-E", logFile)
	}
	if t.Port != 0 {
		args = append(args, "-p", strconv.Itoa(t.Port))
	}
	if t.User != "" {
		args = append(args, "-l", t.User)
	}
	return strings.Join(append(args, t.Host, "-s", "sftp"), " ")
}

// ResticArgs are restic's arguments for the subcommand and its own arguments: the repository,
// and for sftp: the ssh command (its messages into sshLogFile, see SSHCommand).
func (s Settings) ResticArgs(sshLogFile string, sub ...string) []string {
	args := []string{"--repo", s.Repository, "--no-cache"}
	if cmd := s.SSHCommand(sshLogFile); cmd != "" {
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
// (--group-by paths: restic groups by host too by default, and each node is a host); Take
// prunes after it.
func (k Keep) ForgetArgs() []string {
	return []string{"forget", "--tag", SnapshotTag, "--group-by", "paths",
		"--keep-last", strconv.Itoa(k.Last), "--keep-daily", strconv.Itoa(k.Daily),
		"--keep-weekly", strconv.Itoa(k.Weekly), "--keep-monthly", strconv.Itoa(k.Monthly)}
}

// resticFailure words restic's failure for an operator: the cause when restic's or ssh's
// messages name one (exit codes of restic 0.14 are 1 for most errors; the messages are its
// own and OpenSSH's), else restic's last line; ssh's last line is added when ssh said
// something.
func resticFailure(what, repository, stderr, sshLog string) error {
	last := lastLine(stderr)
	if last == "" {
		last = "no message (killed?)"
	}
	if said := lastLine(sshLog); said != "" {
		last += "; ssh: " + strings.TrimPrefix(said, "ssh: ")
	}
	both := stderr + "\n" + sshLog
	switch {
	case strings.Contains(both, "wrong password or no key found"):
		return fmt.Errorf("%s: the backup password does not open the repository %s (restic: %s); set the password the repository was made with", what, repository, last)
	case strings.Contains(both, "Host key verification failed") || strings.Contains(both, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		return fmt.Errorf("%s: the host of %s presents a key that the known_hosts file does not hold: refused (restic: %s)", what, repository, last)
	case strings.Contains(both, "no space left on device"):
		return fmt.Errorf("%s: the repository %s is out of disk space (restic: %s)", what, repository, last)
	case strings.Contains(both, "Permission denied (publickey"):
		return fmt.Errorf("%s: the host of %s refuses the backup SSH key (restic: %s); add its public key to the login's authorized_keys", what, repository, last)
	// ssh's own words for a host that does not answer, or is gone mid-way; "unable to start
	// the sftp session" is restic's when ssh ended before SFTP began with no other cause.
	case strings.Contains(both, "Connection refused") || strings.Contains(both, "timed out") ||
		strings.Contains(both, "No route to host") || strings.Contains(both, "ssh command exited") ||
		strings.Contains(both, "connection lost") || strings.Contains(both, "Connection closed") ||
		strings.Contains(both, "unable to start the sftp session"):
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

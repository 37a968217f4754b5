// Package credentials renders the SQL that sets the passwords of the Galera image's accounts,
// run by the agent each time a node is Synced and by `galera-agent passwords discard-old`.
//
// Rotation follows MySQL's dual-password scheme (RETAIN CURRENT PASSWORD, then DISCARD OLD
// PASSWORD), which MariaDB 10.11 has no syntax for: an account there may list several
// authentication alternatives (IDENTIFIED VIA ... OR ...), so Retain lists the new password and
// the current one, and Discard lists the new one alone.
package credentials

import (
	"fmt"
	"strings"
)

// Mode says what happens to an account's current password.
type Mode int

const (
	// Retain: accept the new password and keep the current one (the start of a rotation).
	Retain Mode = iota
	// Discard: the new password alone (the end of a rotation, and a new data directory).
	Discard
)

// Accounts are the passwords and names of the settings (User and Database may be empty).
type Accounts struct {
	RootPassword string
	User         string
	Password     string
	Database     string // checked by config.CheckDatabase: it goes between backticks
}

// SQLString quotes value as a single-quoted SQL literal (backslashes doubled: the SQL first
// turns NO_BACKSLASH_ESCAPES off).
func SQLString(value string) string {
	value = strings.ReplaceAll(value, `\`, `\\`)
	return "'" + strings.ReplaceAll(value, "'", "''") + "'"
}

// accountPassword: set password for user@host, after the alternatives in via (e.g.
// "unix_socket OR "). Retain: unless the account already accepts password, accept it and keep
// the current one too; Discard: password alone.
func accountPassword(mode Mode, user, host, password, via string) string {
	u, h, p := SQLString(user), SQLString(host), SQLString(password)
	if mode == Discard {
		return fmt.Sprintf("ALTER USER IF EXISTS %s@%s IDENTIFIED VIA %smysql_native_password USING PASSWORD(%s);\n", u, h, via, p)
	}
	// The current password is the account's main alternative: MariaDB keeps the first
	// mysql_native_password alternative at the top level of mysql.global_priv
	// (authentication_string) and the others under auth_or. Only that one is kept: a second
	// rotation before discard-old drops the oldest. No row, or no native password (e.g.
	// unix_socket alone): the new password alone.
	return strings.Join([]string{
		fmt.Sprintf("SET @new_hash = PASSWORD(%s), @accepted = 0, @current_hash = NULL;", p),
		"SELECT JSON_SEARCH(Priv, 'one', @new_hash) IS NOT NULL,",
		"       IF(JSON_VALUE(Priv, '$.plugin') = 'mysql_native_password', NULLIF(JSON_VALUE(Priv, '$.authentication_string'), ''), NULL)",
		fmt.Sprintf("  INTO @accepted, @current_hash FROM mysql.global_priv WHERE User = %s AND Host = %s;", u, h),
		fmt.Sprintf("SET @statement = IF(@accepted, 'DO 0', CONCAT('ALTER USER IF EXISTS ', QUOTE(%s), '@', QUOTE(%s),", u, h),
		fmt.Sprintf("  ' IDENTIFIED VIA %s', 'mysql_native_password USING ', QUOTE(@new_hash),", via),
		"  IF(@current_hash IS NULL, '', CONCAT(' OR mysql_native_password USING ', QUOTE(@current_hash)))));",
		"PREPARE set_password FROM @statement; EXECUTE set_password; DEALLOCATE PREPARE set_password;",
	}, "\n") + "\n"
}

// TLSRequirement gives the SQL that makes the accounts that log in over the network, root@'%'
// and the application user (if any), require TLS (required: the node presents a certificate)
// or not: with it, their plain sessions are refused (ERROR 1045, Access denied). The accounts
// of the socket (root@localhost, mysql@localhost) are left alone: a socket crosses no network.
// Idempotent; replicated cluster-wide like SQL. A password change (SQL) keeps the requirement.
func TLSRequirement(a Accounts, required bool) string {
	clause := "NONE"
	if required {
		clause = "SSL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ALTER USER IF EXISTS 'root'@'%%' REQUIRE %s;\n", clause)
	if a.User != "" {
		fmt.Fprintf(&b, "ALTER USER IF EXISTS %s@'%%' REQUIRE %s;\n", SQLString(a.User), clause)
	}
	return b.String()
}

// SQL gives the passwords of root@localhost, root@'%' and the application user (mode Retain or
// Discard), the application database and grants, and the SST user mysql@localhost
// (unix_socket, no password). Idempotent; replicated cluster-wide by Galera when run on a node.
func SQL(mode Mode, a Accounts) string {
	var b strings.Builder
	b.WriteString("SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '');\n")
	b.WriteString(accountPassword(mode, "root", "localhost", a.RootPassword, "unix_socket OR "))
	b.WriteString(accountPassword(mode, "root", "%", a.RootPassword, ""))
	b.WriteString("CREATE USER IF NOT EXISTS 'mysql'@'localhost' IDENTIFIED VIA unix_socket;\n" +
		"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'mysql'@'localhost';\n")
	if a.Database != "" {
		fmt.Fprintf(&b, "CREATE DATABASE IF NOT EXISTS `%s`;\n", a.Database)
	}
	if a.User != "" {
		user := SQLString(a.User) + "@'%'"
		fmt.Fprintf(&b, "CREATE USER IF NOT EXISTS %s IDENTIFIED BY %s;\n", user, SQLString(a.Password))
		b.WriteString(accountPassword(mode, a.User, "%", a.Password, ""))
		if a.Database != "" {
			fmt.Fprintf(&b, "GRANT ALL PRIVILEGES ON `%s`.* TO %s;\n", a.Database, user)
		}
	}
	return b.String()
}

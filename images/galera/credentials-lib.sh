# shellcheck shell=bash
# The passwords of the Galera image's accounts as SQL, shared by galera-entrypoint (each time a
# node is Synced) and galera-passwords (the end of a rotation). Reads MYSQL_ROOT_PASSWORD,
# MYSQL_USER, MYSQL_PASSWORD and MYSQL_DATABASE.
#
# Rotation follows MySQL's dual-password scheme (RETAIN CURRENT PASSWORD, then DISCARD OLD
# PASSWORD), which MariaDB 10.11 has no syntax for: an account there may list several
# authentication alternatives (IDENTIFIED VIA ... OR ...), so "retain" lists the new password and
# the current one, and "discard" lists the new one alone.

# sql_string VALUE: VALUE as a single-quoted SQL literal.
sql_string() {
  local value=${1//\\/\\\\}
  printf "'%s'" "${value//\'/\'\'}"
}

# account_password_sql MODE USER HOST PASSWORD [VIA]: set PASSWORD for USER@HOST, after the
# alternatives in VIA (e.g. "unix_socket OR "). MODE retain: unless the account already accepts
# PASSWORD, accept it and keep the current password too; MODE discard: PASSWORD alone.
account_password_sql() {
  local mode=$1 user host password via=${5:-}
  user=$(sql_string "$2")
  host=$(sql_string "$3")
  password=$(sql_string "$4")
  if [[ "$mode" == discard ]]; then
    printf 'ALTER USER IF EXISTS %s@%s IDENTIFIED VIA %smysql_native_password USING PASSWORD(%s);\n' \
      "$user" "$host" "$via" "$password"
    return 0
  fi
  # The current password is the account's main alternative: MariaDB keeps the first
  # mysql_native_password alternative at the top level of mysql.global_priv (authentication_string)
  # and the others under auth_or. Only that one is kept: a second rotation before discard-old
  # drops the oldest. The new one is accepted already if its hash is among the alternatives.
  # No row, or no native password (e.g. unix_socket alone): the new password alone.
  printf '%s\n' \
    "SET @new_hash = PASSWORD($password), @accepted = 0, @current_hash = NULL;" \
    "SELECT JSON_SEARCH(Priv, 'one', @new_hash) IS NOT NULL," \
    "       IF(JSON_VALUE(Priv, '\$.plugin') = 'mysql_native_password', NULLIF(JSON_VALUE(Priv, '\$.authentication_string'), ''), NULL)" \
    "  INTO @accepted, @current_hash FROM mysql.global_priv WHERE User = $user AND Host = $host;" \
    "SET @statement = IF(@accepted, 'DO 0', CONCAT('ALTER USER IF EXISTS ', QUOTE($user), '@', QUOTE($host)," \
    "  ' IDENTIFIED VIA $via', 'mysql_native_password USING ', QUOTE(@new_hash)," \
    "  IF(@current_hash IS NULL, '', CONCAT(' OR mysql_native_password USING ', QUOTE(@current_hash)))));" \
    "PREPARE set_password FROM @statement; EXECUTE set_password; DEALLOCATE PREPARE set_password;"
}

# credentials_sql MODE: the passwords of root@localhost, root@'%' and the application user from
# the settings (MODE retain or discard, see account_password_sql), the application database and
# grants, and the SST user mysql@localhost (unix_socket, no password). Idempotent; replicated
# cluster-wide by Galera when run on a node.
credentials_sql() {
  local mode=$1
  printf '%s\n' "SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '');"
  account_password_sql "$mode" root localhost "$MYSQL_ROOT_PASSWORD" "unix_socket OR "
  account_password_sql "$mode" root % "$MYSQL_ROOT_PASSWORD"
  printf '%s\n' "CREATE USER IF NOT EXISTS 'mysql'@'localhost' IDENTIFIED VIA unix_socket;" \
    "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'mysql'@'localhost';"
  if [[ -n "$MYSQL_DATABASE" ]]; then
    printf 'CREATE DATABASE IF NOT EXISTS %s;\n' "\`$MYSQL_DATABASE\`"
  fi
  if [[ -n "$MYSQL_USER" ]]; then
    local user
    user="$(sql_string "$MYSQL_USER")@'%'"
    printf 'CREATE USER IF NOT EXISTS %s IDENTIFIED BY %s;\n' "$user" "$(sql_string "$MYSQL_PASSWORD")"
    account_password_sql "$mode" "$MYSQL_USER" % "$MYSQL_PASSWORD"
    if [[ -n "$MYSQL_DATABASE" ]]; then
      printf 'GRANT ALL PRIVILEGES ON %s.* TO %s;\n' "\`$MYSQL_DATABASE\`" "$user"
    fi
  fi
}

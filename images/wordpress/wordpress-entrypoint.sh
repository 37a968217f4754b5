#!/usr/bin/env bash
# Entrypoint of the wordpress image: writes Debian's /etc/wordpress/config-default.php from
# the official image's variables (WORDPRESS_DB_HOST, WORDPRESS_DB_USER,
# WORDPRESS_DB_PASSWORD[_FILE], WORDPRESS_DB_NAME, WORDPRESS_TABLE_PREFIX) and
# WORDPRESS_SITE_URL, and runs Apache.
#
# WORDPRESS_DB_SSL: `true` makes WordPress connect to the database over TLS
# (MYSQL_CLIENT_FLAGS = MYSQLI_CLIENT_SSL). WordPress 6.1 gives PHP's mysqlnd no CA, so the
# session is encrypted but the server's certificate is not verified; unset or `false`: no TLS.
#
# WORDPRESS_SITE_URL: unset, WordPress keeps the address it was installed under and sends
# every visitor there; an http(s) URL fixes that address; `from-request` makes it the
# address the visitor asked for (scheme http), so each replica answers under its own host
# address where no single address fronts them (swarm host-mode ports).
set -euo pipefail

readonly CONFIG=/etc/wordpress/config-default.php

readonly LOG_TAG=wordpress-entrypoint
# shellcheck source=../lib/entrypoint-lib.sh
source /usr/local/lib/galera-swarm/entrypoint-lib.sh

setup_env() {
  : "${WORDPRESS_DB_HOST:=mysql}"
  : "${WORDPRESS_DB_USER:=wordpress}"
  : "${WORDPRESS_DB_NAME:=wordpress}"
  : "${WORDPRESS_TABLE_PREFIX:=wp_}"
  file_env WORDPRESS_DB_PASSWORD
  [[ -n "$WORDPRESS_DB_PASSWORD" ]] ||
    error "WORDPRESS_DB_PASSWORD is not set; set WORDPRESS_DB_PASSWORD or WORDPRESS_DB_PASSWORD_FILE (e.g. a docker secret)"
  [[ "$WORDPRESS_TABLE_PREFIX" =~ ^[A-Za-z0-9_]+$ ]] ||
    error "WORDPRESS_TABLE_PREFIX=$WORDPRESS_TABLE_PREFIX may hold only letters, digits and '_'"
  : "${WORDPRESS_DB_SSL:=false}"
  [[ "$WORDPRESS_DB_SSL" == true || "$WORDPRESS_DB_SSL" == false ]] ||
    error "WORDPRESS_DB_SSL=$WORDPRESS_DB_SSL: use true (TLS to the database) or false"
  : "${WORDPRESS_SITE_URL:=}"
  [[ -z "$WORDPRESS_SITE_URL" || "$WORDPRESS_SITE_URL" == from-request ||
    "$WORDPRESS_SITE_URL" =~ ^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9._~/-]*)?$ ]] ||
    error "WORDPRESS_SITE_URL=$WORDPRESS_SITE_URL: use an http(s) URL such as http://blog.example.org, 'from-request', or leave it unset"
}

# site_url_php: the PHP lines that fix WP_HOME/WP_SITEURL as WORDPRESS_SITE_URL says.
site_url_php() {
  case "$WORDPRESS_SITE_URL" in
    "") ;;
    from-request)
      # Only a plain host[:port] is taken from the request; anything else keeps the stored address.
      printf '%s\n' \
        "if (isset(\$_SERVER['HTTP_HOST']) && preg_match('/^[A-Za-z0-9.-]+(:[0-9]{1,5})?\$/', \$_SERVER['HTTP_HOST'])) {" \
        "  define('WP_HOME', 'http://' . \$_SERVER['HTTP_HOST']);" \
        "  define('WP_SITEURL', 'http://' . \$_SERVER['HTTP_HOST']);" \
        "}"
      ;;
    *)
      printf "define('WP_HOME', %s);\ndefine('WP_SITEURL', %s);\n" \
        "$(php_string "${WORDPRESS_SITE_URL%/}")" "$(php_string "${WORDPRESS_SITE_URL%/}")"
      ;;
  esac
}

# php_string VALUE: VALUE as a single-quoted PHP literal.
php_string() {
  local value=${1//\\/\\\\}
  printf "'%s'" "${value//\'/\\\'}"
}

# salt NAME: the same secret on every replica (they share no files), derived from the DB
# password so it is as secret as that password; WORDPRESS_<NAME> overrides it.
salt() {
  local name=$1 override="WORDPRESS_$1"
  if [[ -n "${!override:-}" ]]; then
    printf '%s' "${!override}"
    return 0
  fi
  printf '%s:%s:%s' "$name" "$WORDPRESS_DB_NAME" "$WORDPRESS_DB_PASSWORD" | sha256sum | cut -c1-64
}

write_config() {
  local name
  umask 027
  {
    printf '<?php\n// Written by wordpress-entrypoint at each start.\n'
    printf "define('DB_NAME', %s);\n" "$(php_string "$WORDPRESS_DB_NAME")"
    printf "define('DB_USER', %s);\n" "$(php_string "$WORDPRESS_DB_USER")"
    printf "define('DB_PASSWORD', %s);\n" "$(php_string "$WORDPRESS_DB_PASSWORD")"
    printf "define('DB_HOST', %s);\n" "$(php_string "$WORDPRESS_DB_HOST")"
    printf "define('DB_CHARSET', 'utf8mb4');\ndefine('DB_COLLATE', '');\n"
    printf "\$table_prefix = '%s';\n" "$WORDPRESS_TABLE_PREFIX"
    for name in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
      printf "define('%s', %s);\n" "$name" "$(php_string "$(salt "$name")")"
    done
    printf "define('FS_METHOD', 'direct');\n"
    if [[ "$WORDPRESS_DB_SSL" == true ]]; then
      printf "define('MYSQL_CLIENT_FLAGS', MYSQLI_CLIENT_SSL);\n"
    fi
    site_url_php
  } >"$CONFIG"
  chown root:www-data "$CONFIG"
  umask 022
  note "wrote $CONFIG (database $WORDPRESS_DB_NAME on $WORDPRESS_DB_HOST as $WORDPRESS_DB_USER, TLS $WORDPRESS_DB_SSL)"
}

_main() {
  if [[ "${1:-}" != "" && "${1:0:1}" != "-" ]]; then
    exec "$@"
  fi
  setup_env
  write_config
  # Debian's Apache environment (APACHE_RUN_USER, ...); it reads unset variables.
  set +u
  # shellcheck disable=SC1091
  source /etc/apache2/envvars
  set -u
  mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR"
  note "starting Apache on port 80"
  exec apache2 -DFOREGROUND "$@"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  _main "$@"
fi

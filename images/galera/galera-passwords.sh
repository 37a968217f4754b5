#!/usr/bin/env bash
# galera-passwords: the steps of a password rotation that run against a running Galera cluster;
# the logic is `galera-agent passwords` (agent/passwords, agent/credentials).
#   galera-passwords await-accepted [--host H] [--timeout S] < passwords
#       wait until root and MYSQL_USER log in on H with the new passwords (clients may switch)
#   galera-passwords discard-old [--host H] [--timeout S] < passwords
#       the same wait, then make the new passwords the only valid ones (every client switched)
# stdin: root's new password on line 1, MYSQL_USER's on line 2; MYSQL_USER and MYSQL_DATABASE
# from the environment; H defaults to 127.0.0.1, S to 600 seconds.
set -euo pipefail
exec /usr/local/bin/galera-agent passwords "$@"

# shellcheck shell=bash
# Shared by the images' entrypoints (copied to /usr/local/lib/galera-swarm/ in each image):
# the logging helpers and the one rule for secrets. The sourcing script sets LOG_TAG first.

# One greppable line per event: time, program, level, the step (calling function), message.
_log() {
  local level=$1
  shift
  printf '%s [%s] [%s] [%s] %s\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${LOG_TAG:-entrypoint}" "$level" "${FUNCNAME[2]:-main}" "$*" >&2
}
note() { _log NOTE "$@"; }
warn() { _log WARN "$@"; }
error() {
  _log ERROR "$@"
  exit 1
}

# file_env VAR [default]: VAR or VAR_FILE (a file holding the value), never both. Sets VAR
# (not exported: callers export what their child processes need) and unsets VAR_FILE.
file_env() {
  local var=$1 default=${2:-}
  local file_var="${var}_FILE"
  local value=${!var:-} file=${!file_var:-}
  if [[ -n "$value" && -n "$file" ]]; then
    error "both $var and $file_var are set; set only one of them"
  fi
  if [[ -n "$file" ]]; then
    [[ -r "$file" ]] || error "$file_var=$file is not a readable file; mount the secret there or set $var"
    value=$(<"$file")
  fi
  printf -v "$var" '%s' "${value:-$default}"
  unset "$file_var"
}

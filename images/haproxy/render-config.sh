#!/usr/bin/env bash
# Render haproxy.cfg.template like Python's string.Template.substitute, for the image build
# (no Python in the image): render-config.sh TEMPLATE key=value... > haproxy.cfg
# Handles $$, $key and ${key}; an unknown placeholder is an error, as in substitute().
set -euo pipefail

error() {
  printf '%s [render-config] [ERROR] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2
  exit 1
}

render() {
  local template=$1
  shift
  local -A values=()
  local pair
  for pair in "$@"; do
    [[ "$pair" == *=* ]] || error "argument '$pair' is not key=value"
    values[${pair%%=*}]=${pair#*=}
  done
  local text out="" name
  text=$(<"$template")
  # shellcheck disable=SC2016 # a literal regex for $ placeholders, nothing to expand
  local re='^([^$]*)\$(\$|\{([_A-Za-z][_A-Za-z0-9]*)\}|([_A-Za-z][_A-Za-z0-9]*))(.*)$'
  while [[ "$text" =~ $re ]]; do
    out+=${BASH_REMATCH[1]}
    text=${BASH_REMATCH[5]}
    if [[ "${BASH_REMATCH[2]}" == '$' ]]; then
      out+='$'
      continue
    fi
    name=${BASH_REMATCH[3]:-${BASH_REMATCH[4]}}
    [[ -v "values[$name]" ]] || error "no value for \$$name in $template; pass $name=..."
    out+=${values[$name]}
  done
  [[ "$text" != *'$'* ]] || error "invalid placeholder near: ${text:0:40}"
  printf '%s\n' "$out$text"
}

main() {
  [[ $# -ge 1 && -r "$1" ]] || error "usage: render-config.sh TEMPLATE key=value..."
  render "$@"
}

main "$@"

#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build the Pulumi toolchain from pinned Go modules (toolchain/versions.env) into
# .toolchain/bin, install the provider plugins into our PULUMI_HOME, and make sure a
# Docker engine answers. Release binaries cannot be downloaded on our machines; the Go
# module proxy is reachable, so every program is built from its module. The `docker` and
# `command` plugins are our own (providers/), installed at the SDK versions they serve.
#
# Usage: toolchain/bootstrap.sh [PROGRAM...]
#   PROGRAM: pulumi | pulumi-language-python | pulumi-resource-docker |
#            pulumi-resource-command   (default: all four)
# Environment: GALERA_PLUGINS=ours (default) builds the plugins from providers/;
#   GALERA_PLUGINS=official installs Pulumi's official plugins instead (`pulumi plugin
#   install` downloads them: a machine with internet only).
# Idempotent: each program has a stamp keyed by its pins, its sources and the Go
# version; a program whose stamp matches is not rebuilt.
set -euo pipefail

TOOLCHAIN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$TOOLCHAIN_DIR")
readonly TOOLCHAIN_DIR REPO_ROOT
readonly VERSIONS_FILE="$TOOLCHAIN_DIR/versions.env"
# Overridable so the pin check can be exercised on other files.
REQUIREMENTS_FILE="${REQUIREMENTS_FILE:-$REPO_ROOT/requirements.txt}"
readonly WRAPPERS_DIR="$TOOLCHAIN_DIR/go"
readonly STATE_DIR="$REPO_ROOT/.toolchain"
readonly BIN_DIR="$STATE_DIR/bin"
readonly STAMP_DIR="$STATE_DIR/stamps"
readonly PROVIDERS_DIR="$REPO_ROOT/providers"
readonly ALL_PROGRAMS=(pulumi pulumi-language-python pulumi-resource-docker pulumi-resource-command)
readonly PLUGIN_SOURCE="${GALERA_PLUGINS:-ours}"

readonly CLI_MODULE=github.com/pulumi/pulumi/pkg/v3
readonly SDK_MODULE=github.com/pulumi/pulumi/sdk/v3

note() { printf '%s [bootstrap] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
warn() { printf '%s [bootstrap] WARNING: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
error() { printf '%s [bootstrap] ERROR: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; exit 1; }

load_versions() {
  [[ -f "$VERSIONS_FILE" ]] || error "missing $VERSIONS_FILE (the toolchain pins)"
  # shellcheck source=versions.env
  source "$VERSIONS_FILE"
  local key
  for key in PULUMI_VERSION PULUMI_LANGUAGE_PYTHON_HOST_SDK_VERSION PULUMI_DOCKER_VERSION \
    PULUMI_COMMAND_VERSION; do
    [[ -n "${!key:-}" ]] || error "$key is not set in $VERSIONS_FILE: add it (see toolchain/README.md)"
  done
}

# The exact `name==version` pin of one package in requirements.txt, or nothing.
requirement_pin() {
  local package="$1"
  sed -nE "s/^[[:space:]]*${package}[[:space:]]*==[[:space:]]*([^[:space:];#]+).*/\1/p" \
    "$REQUIREMENTS_FILE" | head -n1
}

# The Python SDKs must speak to exactly the CLI and plugins we build.
check_sdk_pins() {
  [[ -f "$REQUIREMENTS_FILE" ]] || error "missing $REQUIREMENTS_FILE"
  local package key pinned wanted mismatches=0
  for package in pulumi:PULUMI_VERSION pulumi-docker:PULUMI_DOCKER_VERSION \
    pulumi-command:PULUMI_COMMAND_VERSION; do
    key="${package#*:}"
    package="${package%%:*}"
    wanted="${!key}"
    pinned=$(requirement_pin "$package")
    if [[ "$pinned" != "$wanted" ]]; then
      warn "$REQUIREMENTS_FILE pins ${package}==${pinned:-<none>} but $VERSIONS_FILE has $key=$wanted"
      mismatches=$((mismatches + 1))
    fi
  done
  ((mismatches == 0)) ||
    error "SDK pins in requirements.txt and toolchain pins in toolchain/versions.env differ; make them equal (same version in both files)"
  note "SDK pins match toolchain pins (pulumi $PULUMI_VERSION, docker $PULUMI_DOCKER_VERSION, command $PULUMI_COMMAND_VERSION)"
}

check_go() {
  command -v go >/dev/null ||
    error "go is not on PATH: install Go >= 1.26.6 (the pulumi CLI module needs it)"
  local have
  have=$(go env GOVERSION)
  note "using $have ($(command -v go))"
}

# Stamp key: everything that changes what a build produces.
stamp_key() {
  local program="$1"
  shift
  {
    printf '%s\n' "$program" "$(go env GOVERSION)" "$@"
    cat "$WRAPPERS_DIR/$program/go.mod" "$WRAPPERS_DIR/$program/go.sum" 2>/dev/null || true
  } | sha256sum | cut -d' ' -f1
}

is_current() {
  local program="$1" key="$2"
  [[ -x "$BIN_DIR/$program" && -f "$STAMP_DIR/$program" && "$(cat "$STAMP_DIR/$program")" == "$key" ]]
}

mark_current() { printf '%s\n' "$2" >"$STAMP_DIR/$1"; }

# The version of MODULE that the wrapper module of PROGRAM requires (empty if none).
wrapper_requirement() {
  local program="$1" module="$2"
  go mod edit -json "$WRAPPERS_DIR/$program/go.mod" |
    python3 -c 'import json,sys; m=sys.argv[1]; print(next((r["Version"] for r in json.load(sys.stdin).get("Require") or [] if r["Path"]==m), ""))' "$module"
}

# Point the wrapper module at the pinned versions when a pin changed; the result is
# go.mod/go.sum changes that belong in the next commit.
sync_wrapper() {
  local program="$1" module="$2" version="$3"
  shift 3
  local current
  current=$(wrapper_requirement "$program" "$module")
  [[ "$current" == "$version" ]] && return 0
  note "$program: wrapper requires $module ${current:-<nothing>}, pin is $version: updating toolchain/go/$program (commit the change)"
  (cd "$WRAPPERS_DIR/$program" && go get "$@" && go mod tidy) ||
    error "$program: could not resolve $module@$version through the Go module proxy (see go's message above)"
}

# go_build PROGRAM PACKAGE LDFLAGS [MODULE_DIR]: build PACKAGE of the module in MODULE_DIR
# (default: PROGRAM's wrapper module) into $BIN_DIR/PROGRAM.
go_build() {
  local program="$1" package="$2" ldflags="$3" module_dir="${4:-$WRAPPERS_DIR/$1}" started
  started=$(date +%s)
  note "$program: building $package (cold builds take minutes on 2 cores)"
  (cd "$module_dir" &&
    go build -trimpath -ldflags "-s -w $ldflags" -o "$BIN_DIR/$program.new" "$package") ||
    error "$program: go build of $package failed (see above)"
  mv -f "$BIN_DIR/$program.new" "$BIN_DIR/$program"
  note "$program: built in $(($(date +%s) - started)) s"
}

build_pulumi_cli() {
  local version="v$PULUMI_VERSION" key
  sync_wrapper pulumi "$CLI_MODULE" "$version" \
    -tool "$CLI_MODULE/cmd/pulumi@$version" "$SDK_MODULE@$version"
  key=$(stamp_key pulumi "$version")
  if is_current pulumi "$key"; then
    note "pulumi: $version up to date"
    return 0
  fi
  go_build pulumi "$CLI_MODULE/cmd/pulumi" "-X $SDK_MODULE/go/common/version.Version=$version"
  mark_current pulumi "$key"
}

# Path of the exec script that ships in the sdk module at PULUMI_VERSION (fetched outside
# any module, so no wrapper's go.mod is touched; checksums still come from the sumdb).
sdk_exec_script() {
  local dir
  dir=$(cd "$STATE_DIR" && go mod download -json "$SDK_MODULE@v$PULUMI_VERSION" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); e=d.get("Error"); print(e or d["Dir"], file=sys.stderr if e else sys.stdout); sys.exit(1 if e else 0)') ||
    error "could not fetch $SDK_MODULE@v$PULUMI_VERSION through the Go module proxy (error above)"
  printf '%s/python/cmd/pulumi-language-python-exec\n' "$dir"
}

build_language_python() {
  local host_version="v$PULUMI_LANGUAGE_PYTHON_HOST_SDK_VERSION" exec_script key
  sync_wrapper pulumi-language-python "$SDK_MODULE" "$host_version" \
    -tool "$SDK_MODULE/python/cmd/pulumi-language-python@$host_version"
  exec_script=$(sdk_exec_script)
  [[ -f "$exec_script" ]] || error "no pulumi-language-python-exec in $SDK_MODULE at v$PULUMI_VERSION ($exec_script)"
  key=$(stamp_key pulumi-language-python "$host_version" "$(sha256sum <"$exec_script")")
  if is_current pulumi-language-python "$key" && [[ -x "$BIN_DIR/pulumi-language-python-exec" ]]; then
    note "pulumi-language-python: host from sdk $host_version, exec script from sdk v$PULUMI_VERSION up to date"
    return 0
  fi
  go_build pulumi-language-python "$SDK_MODULE/python/cmd/pulumi-language-python" \
    "-X $SDK_MODULE/go/common/version.Version=$host_version"
  # The host runs the program through this script, which it looks for next to itself.
  install -m 0755 "$exec_script" "$BIN_DIR/pulumi-language-python-exec"
  mark_current pulumi-language-python "$key"
}

# Whether `pulumi plugin ls` lists the resource plugin NAME at VERSION.
plugin_installed() {
  pulumi plugin ls --json 2>/dev/null |
    python3 -c 'import json,sys; n,v=sys.argv[1:]; sys.exit(0 if any(p["name"]==n and p["kind"]=="resource" and p["version"]==v for p in json.load(sys.stdin) or []) else 1)' \
      "$1" "$2"
}

# Hash of what a plugin build reads: every Go source and the module files under providers/.
providers_source_hash() {
  (cd "$PROVIDERS_DIR" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

# Build our plugin NAME (docker|command) from providers/ and install it into PULUMI_HOME as
# the resource plugin NAME at VERSION; rebuilt and reinstalled only when its stamp changed.
build_our_plugin() {
  local name="$1" version="$2" program="pulumi-resource-$1" key started
  [[ -x "$BIN_DIR/pulumi" ]] || error "$program: installing a plugin needs the pulumi CLI: run toolchain/bootstrap.sh pulumi first"
  key=$(stamp_key "$program" "$version" "$(providers_source_hash)")
  if is_current "$program" "$key" && plugin_installed "$name" "$version"; then
    note "$program: $version (ours, providers/) up to date"
    return 0
  fi
  started=$(date +%s)
  go_build "$program" "./cmd/$program" "-X main.version=$version" "$PROVIDERS_DIR"
  pulumi plugin install resource "$name" "$version" --file "$BIN_DIR/$program" --reinstall >&2 ||
    error "$program: pulumi plugin install resource $name $version --file $BIN_DIR/$program failed (see above)"
  mark_current "$program" "$key"
  note "$program: built and installed as resource plugin $name $version in $(($(date +%s) - started)) s"
}

# Pulumi's official plugin NAME at VERSION, downloaded by the CLI (needs internet).
install_official_plugin() {
  local name="$1" version="$2"
  if plugin_installed "$name" "$version"; then
    note "plugin resource $name $version installed"
    return 0
  fi
  rm -f "$STAMP_DIR/pulumi-resource-$name"
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=false pulumi plugin install resource "$name" "$version" --reinstall >&2 ||
    error "pulumi plugin install resource $name $version failed: GALERA_PLUGINS=official needs internet access; unset it to build ours from providers/"
  note "plugin resource $name $version (official) installed into $PULUMI_HOME/plugins"
}

install_plugin() {
  case "$PLUGIN_SOURCE" in
    ours) build_our_plugin "$@" ;;
    official) install_official_plugin "$@" ;;
    *) error "GALERA_PLUGINS=$PLUGIN_SOURCE: use 'ours' (build providers/) or 'official' (download Pulumi's plugins)" ;;
  esac
}

build_program() {
  case "$1" in
    pulumi) build_pulumi_cli ;;
    pulumi-language-python) build_language_python ;;
    pulumi-resource-docker) install_plugin docker "$PULUMI_DOCKER_VERSION" ;;
    pulumi-resource-command) install_plugin command "$PULUMI_COMMAND_VERSION" ;;
    *) error "unknown program '$1': choose from ${ALL_PROGRAMS[*]}" ;;
  esac
}

main() {
  local started programs=("$@") program
  started=$(date +%s)
  ((${#programs[@]})) || programs=("${ALL_PROGRAMS[@]}")
  load_versions
  check_sdk_pins
  check_go
  # shellcheck source=env.sh
  source "$TOOLCHAIN_DIR/env.sh"
  mkdir -p "$BIN_DIR" "$STAMP_DIR" "$PULUMI_HOME"
  bash "$REPO_ROOT/scripts/ensure-docker.sh"
  for program in "${programs[@]}"; do
    build_program "$program"
  done
  note "toolchain ready in $(($(date +%s) - started)) s: . toolchain/env.sh puts $BIN_DIR on PATH"
}

main "$@"

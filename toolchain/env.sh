# shellcheck shell=bash
# Source this file (`. toolchain/env.sh`) to use the toolchain that toolchain/bootstrap.sh
# built: puts .toolchain/bin first on PATH and keeps the Pulumi CLI from reaching out
# (no update check, no plugin downloads, only the plugins in our own PULUMI_HOME).
# Works from any directory and from bash or sh-compatible shells that know BASH_SOURCE.

galera_toolchain_env() {
  local toolchain_dir repo_root
  toolchain_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  repo_root=$(dirname "$toolchain_dir")

  export GALERA_REPO_ROOT="$repo_root"
  export TOOLCHAIN_BIN="$repo_root/.toolchain/bin"
  case ":$PATH:" in
    *":$TOOLCHAIN_BIN:"*) ;;
    *) export PATH="$TOOLCHAIN_BIN:$PATH" ;;
  esac

  # Plugins and CLI state live beside the binaries, not in ~/.pulumi: a checkout
  # carries its own toolchain and never picks up (or downloads) another plugin.
  export PULUMI_HOME="${PULUMI_HOME:-$repo_root/.toolchain/pulumi-home}"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
  # Only plugins installed in PULUMI_HOME count, never a stray pulumi-resource-* on PATH.
  export PULUMI_IGNORE_AMBIENT_PLUGINS=true
  # The file backend is the supported local backend here; its deprecation notice is noise.
  export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true

  # The language host we can build (see versions.env) predates runtime options sent
  # over RPC, so it would not see Pulumi.yaml's `virtualenv`; this points it at the
  # project venv instead.
  if [ -z "${PULUMI_PYTHON_CMD:-}" ] && [ -x "$repo_root/.venv/bin/python" ]; then
    export PULUMI_PYTHON_CMD="$repo_root/.venv/bin/python"
  fi
}

galera_toolchain_env
unset -f galera_toolchain_env

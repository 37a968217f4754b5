"""The stack program's own modules that are not components: settings (the config schema) and
placement (which host runs what)."""

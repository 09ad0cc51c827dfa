"""The settings: their registry (`settings`) and the loader (TOML, environment, secrets)."""

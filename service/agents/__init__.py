"""Faust agents: decode, call the core, send, count. Found by autodiscovery."""

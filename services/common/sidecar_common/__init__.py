"""What the three sidecars share: one ConfigError, one way to serve HTTP in-process, one auth check.

Kept small and dependency-light (bottle, waitress): every sidecar image installs it.
"""

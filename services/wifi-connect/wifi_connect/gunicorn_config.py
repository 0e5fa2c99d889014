"""gunicorn settings for both web apps (``gunicorn -c python:wifi_connect.gunicorn_config``, as the daemon
runs them): gunicorn's messages and the workers' logs become JSON lines on stdout like the daemon's,
instead of gunicorn's plain text on stderr."""

from .logs import gunicorn_logging_config

logconfig_dict = gunicorn_logging_config()

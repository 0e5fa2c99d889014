"""The one configuration error of every sidecar: ``ConfigError(key, message)``.

``key`` names the setting (an environment variable, a flag, or a YAML path such as ``outputs[1].url``);
each service's ``__main__`` turns it into exit code 2.
"""


class ConfigError(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message

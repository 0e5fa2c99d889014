"""What the agent hands an input besides its config: where it may keep checkpoints, and the agent's
one HTTP app for an input that serves a route (the HTTP input's ``POST /logs/<tag>``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class InputContext:
    state_dir: str  # <spool dir>/inputs: one checkpoint file per input, named after the input
    http_app: Any = None  # bottle.Bottle, or None when the agent serves no HTTP

    def checkpoint_path(self, input_name: str) -> str:
        return os.path.join(self.state_dir, f"{input_name}.json")

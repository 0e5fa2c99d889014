"""The input registry and the ``inputs:`` list: YAML items, env shortcuts, errors naming the item."""

from __future__ import annotations

import sys

import pytest
from log_agent.config import AgentConfig
from log_agent.errors import ConfigError
from log_agent.inputs import REGISTRY, build_input


def load_error(document: dict, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        AgentConfig.from_sources(document, env or {})
    return caught.value


def test_registry_imports_an_input_module_on_first_lookup() -> None:
    sys.modules.pop("log_agent.inputs.forward", None)
    assert "forward" in REGISTRY
    assert "log_agent.inputs.forward" not in sys.modules  # membership does not import
    config_class, input_class = REGISTRY["forward"]
    assert "log_agent.inputs.forward" in sys.modules
    assert type(build_input("forward", config_class.from_dict({}))) is input_class


def test_default_is_one_forward_input_on_loopback() -> None:
    config = AgentConfig.from_sources({}, {})
    assert [(spec.kind, spec.name) for spec in config.inputs] == [("forward", "forward")]
    assert config.forward.listen == ("127.0.0.1", 24224)


def test_yaml_inputs_list_and_the_env_shortcut_on_top() -> None:
    document = {"inputs": [{"type": "forward", "listen": "127.0.0.1:5000", "name": "apps"},
                           {"type": "forward", "listen": "127.0.0.1:5001", "name": "other"}]}
    config = AgentConfig.from_sources(document, {"LOG_AGENT_FORWARD_LISTEN": "[::1]:7000"})
    assert [(s.name, s.config.listen) for s in config.inputs] == [("apps", ("::1", 7000)),
                                                                  ("other", ("127.0.0.1", 5001))]


def test_env_shortcut_adds_its_input_when_the_list_has_none() -> None:
    config = AgentConfig.from_sources({"inputs": []}, {"LOG_AGENT_FORWARD_LISTEN": "127.0.0.1:0"})
    assert [(s.kind, s.config.listen) for s in config.inputs] == [("forward", ("127.0.0.1", 0))]
    assert AgentConfig.from_sources({"inputs": []}, {}).inputs == ()


def test_legacy_forward_section_is_the_forward_input() -> None:
    config = AgentConfig.from_sources({"forward": {"listen": "127.0.0.1:9"}}, {})
    assert [(s.kind, s.config.listen) for s in config.inputs] == [("forward", ("127.0.0.1", 9))]


@pytest.mark.parametrize("document, env, key", [
    ({"inputs": [{"type": "forward"}, {"type": "forward", "listen": "nowhere"}]}, {}, "inputs[1].listen"),
    ({"inputs": [{"type": "carrier-pigeon"}]}, {}, "inputs[0].type"),
    ({"inputs": [{"listen": "127.0.0.1:1"}]}, {}, "inputs[0].type"),
    ({"inputs": [{"type": "forward", "colour": "red"}]}, {}, "inputs[0].colour"),
    ({"inputs": [{"type": "forward"}, {"type": "forward"}]}, {}, "inputs[1].name"),
    ({"inputs": {"type": "forward"}}, {}, "inputs"),
    ({"inputs": ["forward"]}, {}, "inputs[0]"),
    ({"inputs": [], "forward": {}}, {}, "forward"),
    ({"forward": {"listen": "x"}}, {}, "forward.listen"),
    ({}, {"LOG_AGENT_FORWARD_LISTEN": "nowhere"}, "LOG_AGENT_FORWARD_LISTEN"),
])
def test_errors_name_the_item_or_the_variable(document: dict, env: dict[str, str], key: str) -> None:
    assert load_error(document, env).key == key


def test_secrets_of_every_input_are_collected() -> None:
    document = {"inputs": [{"type": "forward", "shared_key": "s3cret-a", "name": "a"},
                           {"type": "forward", "shared_key": "s3cret-b", "name": "b"}]}
    assert {"s3cret-a", "s3cret-b"} <= set(AgentConfig.from_sources(document, {}).secrets())

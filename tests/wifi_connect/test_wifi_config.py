"""Start-up settings: balena names and defaults, flag over env, and a clear refusal for each bad value."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
from wifi_connect.config import SETTINGS, load_config
from wifi_connect.errors import ConfigError


def test_defaults_match_balena_wifi_connect():
    config = load_config([], {})
    assert config.portal_interface is None
    assert config.portal_ssid == "WiFi Connect"
    assert config.portal_passphrase is None
    assert config.portal_gateway == ipaddress.IPv4Address("192.168.42.1")
    assert config.dhcp_range_text == "192.168.42.2,192.168.42.254"
    assert config.portal_listening_port == 80
    assert config.activity_timeout == 0
    assert config.ui_directory is None
    assert config.control_address == ("127.0.0.1", 8081)


def test_environment_sets_and_flag_wins():
    env = {"PORTAL_SSID": "From Env", "PORTAL_LISTENING_PORT": "8080", "ACTIVITY_TIMEOUT": "300"}
    config = load_config(["--portal-ssid", "From Flag", "-o", "8000"], env)
    assert config.portal_ssid == "From Flag"
    assert config.portal_listening_port == 8000
    assert config.activity_timeout == 300


def test_balena_short_flags_work():
    config = load_config(
        [
            "-i",
            "wlan1",
            "-s",
            "Setup",
            "-p",
            "portalpass",
            "-g",
            "10.0.0.1",
            "-d",
            "10.0.0.10,10.0.0.50",
            "-a",
            "60",
        ],
        {},
    )
    assert (config.portal_interface, config.portal_ssid, config.portal_passphrase) == (
        "wlan1",
        "Setup",
        "portalpass",
    )
    assert config.dhcp_range_text == "10.0.0.10,10.0.0.50"


def test_ssid_limit_is_in_bytes_and_allows_colons_and_backslashes():
    assert load_config([], {"PORTAL_SSID": "é" * 16}).portal_ssid == "é" * 16
    assert load_config([], {"PORTAL_SSID": "a:b\\c d"}).portal_ssid == "a:b\\c d"


def test_portal_ssid_keeps_its_spaces():
    assert load_config([], {"PORTAL_SSID": " Setup me "}).portal_ssid == " Setup me "
    assert load_config(["--portal-ssid", "  "]).portal_ssid == "  "


def test_hook_command_is_split_like_sh_and_its_program_must_exist():
    assert load_config([], {"HOOK_COMMAND": "true 'a b'"}).hook_command == "true 'a b'"
    assert load_config([], {"HOOK_COMMAND": "/bin/sh -c 'exit 0'"}).hook_command == "/bin/sh -c 'exit 0'"
    assert load_config([], {"HOOK_COMMAND": "  "}).hook_command is None


def test_dhcp_range_may_carry_a_lease_time():
    assert load_config([], {"PORTAL_DHCP_RANGE": "192.168.42.10,192.168.42.20,10m"}).dhcp_range_text == (
        "192.168.42.10,192.168.42.20,10m"
    )


def test_ui_directory_must_hold_an_index(tmp_path):
    (tmp_path / "index.html").write_text("<h1>custom</h1>")
    assert load_config(["--ui-directory", str(tmp_path)], {}).ui_directory == tmp_path


BAD_SETTINGS = [
    ("PORTAL_INTERFACE", "wlan0/../eth0", "--portal-interface"),
    ("PORTAL_INTERFACE", "a-very-long-interface-name", "--portal-interface"),
    ("PORTAL_SSID", "x" * 33, "--portal-ssid"),
    ("PORTAL_SSID", "é" * 17, "--portal-ssid"),
    ("PORTAL_SSID", "", "--portal-ssid"),
    ("PORTAL_PASSPHRASE", "short", "--portal-passphrase"),
    ("PORTAL_PASSPHRASE", "x" * 64, "--portal-passphrase"),
    ("PORTAL_PASSPHRASE", "pässwörd-long", "--portal-passphrase"),
    ("PORTAL_GATEWAY", "192.168.42.256", "--portal-gateway"),
    ("PORTAL_GATEWAY", "gateway", "--portal-gateway"),
    ("PORTAL_SSID", "x" * 29 + "{id4}", "--portal-ssid"),  # 33 bytes once expanded
    ("PORTAL_SSID", "Setup {id13}", "--portal-ssid"),
    ("PORTAL_SSID", "Setup {name}", "--portal-ssid"),
    ("BALENA_DEVICE_UUID", "not a uuid", "--device-id"),
    ("CLIENT_INTERFACE", "wlan/1", "--client-interface"),
    ("MDNS", "maybe", "--mdns"),
    ("CA_CERT_DIRECTORY", "relative/certs", "--ca-cert-directory"),
    ("PORTAL_SERVER", "flask", "--portal-server"),
    ("CA_CERT_DIRECTORY", "/nonexistent/certs", "--ca-cert-directory"),
    ("PORTAL_HEADER_TIMEOUT", "0.1", "--portal-header-timeout"),
    ("PORTAL_BODY_TIMEOUT", "500", "--portal-body-timeout"),
    ("PORTAL_CONNECTIONS_PER_CLIENT", "0", "--portal-connections-per-client"),
    ("PORTAL_MAX_CONNECTIONS", "4", "--portal-max-connections"),
    ("PORTAL_GATEWAY", "192.168.42.0", "--portal-gateway"),
    ("PORTAL_GATEWAY", "192.168.42.255", "--portal-gateway"),
    ("PORTAL_GATEWAY", "127.0.0.1", "--portal-gateway"),
    ("PORTAL_GATEWAY", "224.0.0.1", "--portal-gateway"),
    ("PORTAL_GATEWAY", "0.0.0.0", "--portal-gateway"),
    ("PORTAL_GATEWAY", "169.254.1.1", "--portal-gateway"),
    ("PORTAL_GATEWAY", "255.255.255.255", "--portal-gateway"),
    ("PORTAL_DHCP_RANGE", "192.168.42.2", "--portal-dhcp-range"),
    ("PORTAL_DHCP_RANGE", "192.168.42.9,192.168.42.2", "--portal-dhcp-range"),
    ("PORTAL_DHCP_RANGE", "192.168.43.2,192.168.43.254", "--portal-dhcp-range"),
    ("PORTAL_DHCP_RANGE", "192.168.42.1,192.168.42.254", "--portal-dhcp-range"),
    ("PORTAL_DHCP_RANGE", "192.168.42.2,192.168.42.255", "--portal-dhcp-range"),
    ("PORTAL_DHCP_RANGE", "192.168.42.2,192.168.42.9,forever", "--portal-dhcp-range"),
    ("PORTAL_LISTENING_PORT", "0", "--portal-listening-port"),
    ("PORTAL_LISTENING_PORT", "65536", "--portal-listening-port"),
    ("PORTAL_LISTENING_PORT", "http", "--portal-listening-port"),
    ("ACTIVITY_TIMEOUT", "-1", "--activity-timeout"),
    ("ACTIVITY_TIMEOUT", "1.5", "--activity-timeout"),
    ("UI_DIRECTORY", "/nonexistent/ui", "--ui-directory"),
    ("GRACE_PERIOD", "-3", "--grace-period"),
    ("GRACE_PERIOD", "nan", "--grace-period"),
    ("CONNECT_TIMEOUT", "0", "--connect-timeout"),
    ("LOST_CONNECTION_TOLERANCE", "soon", "--lost-connection-tolerance"),
    ("RETRY_INTERVAL", "inf", "--retry-interval"),
    ("CHECK_INTERVAL", "0", "--check-interval"),
    ("CONNECTIVITY_CHECK_URL", "ftp://example.com/", "--connectivity-check-url"),
    ("CONNECTIVITY_CHECK_URL", "example.com", "--connectivity-check-url"),
    ("CONTROL_ADDRESS", "0.0.0.0:8081", "--control-address"),
    ("CONTROL_ADDRESS", "192.168.1.5:8081", "--control-address"),
    ("CONTROL_ADDRESS", "127.0.0.1", "--control-address"),
    ("CONTROL_ADDRESS", "localhost:8081", "--control-address"),
    ("NMCLI_TIMEOUT", "0.1", "--nmcli-timeout"),
    ("WIFI_CONNECT_SOCKET", "relative.sock", "--rpc-socket"),
    ("HOOK_COMMAND", 'echo "oops', "--hook-command"),
    ("HOOK_COMMAND", "no-such-program-anywhere --flag", "--hook-command"),
    ("HOOK_COMMAND", "/nonexistent/hook.sh", "--hook-command"),
    ("HOOK_COMMAND", "/etc/passwd", "--hook-command"),
]


@pytest.mark.parametrize(("variable", "value", "flag"), BAD_SETTINGS)
def test_each_bad_setting_is_refused_naming_flag_and_variable(variable, value, flag):
    with pytest.raises(ConfigError) as caught:
        load_config([], {variable: value})
    assert f"{flag}/{variable}" in str(caught.value)


def test_every_setting_has_a_bad_value_test():
    tested = {variable for variable, _, _ in BAD_SETTINGS}
    assert {s.env for s in SETTINGS} <= tested


def test_the_passphrase_may_come_from_a_file_and_leaves_the_environment(tmp_path):
    from wifi_connect.config import remove_secrets_from_environment

    secret = tmp_path / "portal"
    secret.write_text("portal-secret-42\n")
    assert load_config([], {"PORTAL_PASSPHRASE_FILE": str(secret)}).portal_passphrase == "portal-secret-42"
    assert load_config([], {"PORTAL_PASSPHRASE_FILE": str(secret), "PORTAL_PASSPHRASE": "from-the-var"}) \
        .portal_passphrase == "from-the-var"
    with pytest.raises(ConfigError, match="PORTAL_PASSPHRASE_FILE"):
        load_config([], {"PORTAL_PASSPHRASE_FILE": str(tmp_path / "missing")})
    environ = {"PORTAL_PASSPHRASE": "portal-secret-42", "PORTAL_SSID": "Setup"}
    remove_secrets_from_environment(environ)
    assert environ == {"PORTAL_SSID": "Setup"}


def test_a_bad_flag_value_is_refused_like_the_variable():
    with pytest.raises(ConfigError, match="--portal-gateway/PORTAL_GATEWAY"):
        load_config(["--portal-gateway", "nope"], {"PORTAL_GATEWAY": "10.0.0.1"})


def test_the_passphrase_is_never_echoed():
    secret = "pässwörd-secret"
    with pytest.raises(ConfigError) as caught:
        load_config([], {"PORTAL_PASSPHRASE": secret})
    assert secret not in str(caught.value)
    config = load_config([], {"PORTAL_PASSPHRASE": "good passphrase"})
    assert "good passphrase" not in repr(config) and "good passphrase" not in str(config.describe())
    assert config.describe()["portal_passphrase"] == "(set)"


@pytest.mark.parametrize(
    ("variable", "value", "flag"),
    [
        ("PORTAL_LISTENING_PORT", "99999", "--portal-listening-port"),
        ("HOOK_COMMAND", 'echo "oops', "--hook-command"),
    ],
)
def test_the_console_script_exits_2_with_the_message_on_stderr(variable, value, flag):
    done = subprocess.run(
        [sys.executable, "-m", "wifi_connect"],
        env={variable: value},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert f"{flag}/{variable}" in done.stderr and "Traceback" not in done.stderr


def test_unknown_flags_exit_2_too():
    done = subprocess.run(
        [sys.executable, "-m", "wifi_connect", "--no-such-flag"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "--no-such-flag" in done.stderr


def test_help_lists_every_flag_and_variable():
    done = subprocess.run(
        [sys.executable, "-m", "wifi_connect", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    for setting in SETTINGS:
        assert setting.flag in done.stdout and setting.env in done.stdout


def test_the_readme_documents_every_setting():
    readme = (Path(__file__).resolve().parents[2] / "services/wifi-connect/README.md").read_text()
    for setting in SETTINGS:
        assert f"`{setting.env}`" in readme and setting.flag in readme, setting.env


def test_config_errors_are_the_shared_sidecar_class_with_a_key():
    import sidecar_common.errors

    with pytest.raises(sidecar_common.errors.ConfigError) as caught:
        load_config([], {"PORTAL_HEADER_TIMEOUT": "soon"})
    assert caught.value.key == "--portal-header-timeout/PORTAL_HEADER_TIMEOUT"
    assert str(caught.value).startswith("--portal-header-timeout/PORTAL_HEADER_TIMEOUT: ")

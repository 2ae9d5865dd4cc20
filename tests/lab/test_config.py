"""The lab's configuration: defaults, the TOML file and environment variables, with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from motorcade.lab import LabConfigError, PortForward, load_config


def test_defaults_put_state_in_the_repo_and_artifacts_in_the_user_cache(tmp_path: Path) -> None:
    """Without settings the lab home is <repo>/.lab and the cache ~/.cache/motorcade/lab."""
    config = load_config(tmp_path, {"HOME": str(tmp_path / "home")})
    assert config.home == tmp_path / ".lab"
    assert config.cache == Path.home() / ".cache" / "motorcade" / "lab"
    assert config.port("ssh") == PortForward("ssh", 42022, 22)
    assert config.vault_password_file == tmp_path / ".lab" / "vault-password"


def test_environment_overrides_home_cache_name_and_ports(tmp_path: Path) -> None:
    """MOTORCADE_LAB_* variables move the home and the cache, rename the lab and change a forward's host port."""
    env = {
        "MOTORCADE_LAB_HOME": str(tmp_path / "h"),
        "MOTORCADE_LAB_CACHE": str(tmp_path / "c"),
        "MOTORCADE_LAB_NAME": "my-lab",
        "MOTORCADE_LAB_PORT_SSH": "2200",
    }
    config = load_config(tmp_path, env)
    assert (config.home, config.cache, config.name) == (tmp_path / "h", tmp_path / "c", "my-lab")
    assert config.port("ssh") == PortForward("ssh", 2200, 22)
    assert config.network == "my-lab-net"


def test_config_file_adds_forwards_and_environment_wins(tmp_path: Path) -> None:
    """A [ports] table adds new forwards; an environment variable still overrides the file."""
    (tmp_path / "lab.toml").write_text('name = "filelab"\n[ports]\nhttps = 9443\nadmin = {host = 9090, guest = 9000}\n')
    env = {"MOTORCADE_LAB_CONFIG": str(tmp_path / "lab.toml"), "MOTORCADE_LAB_PORT_HTTPS": "9444"}
    config = load_config(tmp_path, env)
    assert config.name == "filelab"
    assert config.port("https") == PortForward("https", 9444, 443)
    assert config.port("admin") == PortForward("admin", 9090, 9000)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MOTORCADE_LAB_PORT_SSH": "http"}, "is not a port number"),
        ({"MOTORCADE_LAB_PORT_SSH": "70000"}, "is not between 1 and 65535"),
        ({"MOTORCADE_LAB_PORT_HTTP": "42022"}, "host port(s) used twice: 42022"),
        ({"MOTORCADE_LAB_PORT_NEW": "5000"}, "needs both host and guest"),
        ({"MOTORCADE_LAB_NAME": "Bad Name"}, "must be lowercase"),
        ({"MOTORCADE_LAB_CONFIG": "/nonexistent/lab.toml"}, "does not exist"),
    ],
)
def test_bad_settings_are_refused_in_one_line(tmp_path: Path, env: dict[str, str], message: str) -> None:
    """Each invalid setting raises a LabConfigError whose single line says what is wrong."""
    with pytest.raises(LabConfigError) as raised:
        load_config(tmp_path, env)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_unknown_key_in_config_file_is_refused(tmp_path: Path) -> None:
    """A misspelt key in the TOML file is an error rather than silently ignored."""
    (tmp_path / "lab.toml").write_text("nmae = 'x'\n")
    with pytest.raises(LabConfigError, match="unknown key"):
        load_config(tmp_path, {"MOTORCADE_LAB_CONFIG": str(tmp_path / "lab.toml")})

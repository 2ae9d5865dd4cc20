"""Lab secrets: generated from the catalogue into an Ansible Vault, kept across reruns."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from motorcade.lab import LabConfigError
from motorcade.lab.vault import SecretSpec, age_identity, ensure_vault, generate, load_catalogue, read_vault

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"  # Bech32's alphabet (BIP 173)

CATALOGUE = """
secrets:
  vault_a_password: {description: a, kind: password, length: 32}
  vault_b_key: {description: b, kind: hex, length: 64}
  vault_c_token: {description: c, kind: token, length: 40}
"""


def test_generated_values_follow_kind_and_length() -> None:
    """Passwords are letters and digits, hex is lowercase hexadecimal, tokens URL-safe, each of the asked length."""
    assert generate(SecretSpec("p", "password", 32)).isalnum()
    assert len(generate(SecretSpec("p", "password", 32))) == 32
    assert set(generate(SecretSpec("h", "hex", 64))) <= set("0123456789abcdef")
    token = generate(SecretSpec("t", "token", 40))
    assert len(token) == 40
    assert set(token) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def test_vault_is_encrypted_private_and_opens_with_ansible_vault(tmp_path: Path) -> None:
    """The vault file is mode 0600, encrypted, and `ansible-vault view` opens it with the generated password."""
    (tmp_path / "secrets.yml").write_text(CATALOGUE)
    vault, password = tmp_path / "inv" / "vault.yml", tmp_path / "vault-password"
    added = ensure_vault(vault, password, load_catalogue(tmp_path / "secrets.yml"))
    assert added == ["vault_a_password", "vault_b_key", "vault_c_token"]
    assert vault.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    assert (vault.stat().st_mode & 0o777, password.stat().st_mode & 0o777) == (0o600, 0o600)
    shown = subprocess.run(
        ["ansible-vault", "view", "--vault-password-file", str(password), str(vault)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "vault_b_key:" in shown


def test_rerun_keeps_values_and_generates_only_missing_names(tmp_path: Path) -> None:
    """A second run keeps every existing value and adds only the names new in the catalogue."""
    catalogue = tmp_path / "secrets.yml"
    catalogue.write_text("secrets:\n  vault_a_password: {description: a, kind: password, length: 32}\n")
    vault, password = tmp_path / "vault.yml", tmp_path / "vault-password"
    ensure_vault(vault, password, load_catalogue(catalogue))
    first = read_vault(vault, password.read_bytes().strip())
    assert ensure_vault(vault, password, load_catalogue(catalogue)) == []
    catalogue.write_text(CATALOGUE)
    assert ensure_vault(vault, password, load_catalogue(catalogue)) == ["vault_b_key", "vault_c_token"]
    second = read_vault(vault, password.read_bytes().strip())
    assert second["vault_a_password"] == first["vault_a_password"]


def test_bad_catalogue_entry_is_one_clear_error(tmp_path: Path) -> None:
    """An unknown kind in the catalogue names the file, the secret and the field."""
    (tmp_path / "secrets.yml").write_text("secrets:\n  vault_x: {description: x, kind: pin, length: 4}\n")
    with pytest.raises(LabConfigError, match=r"secrets\.yml: secrets\.vault_x\.kind: 'pin' is not one of"):
        load_catalogue(tmp_path / "secrets.yml")


def test_age_identity_is_accepted_by_age() -> None:
    """A generated age identity is one `age-keygen -y` derives a recipient from, and it encrypts and decrypts."""
    identity = generate(SecretSpec("vault_backup_age_identity", "age-identity", 32))
    assert identity.startswith("AGE-SECRET-KEY-1")
    assert identity == identity.upper()
    assert identity != generate(SecretSpec("vault_backup_age_identity", "age-identity", 32))
    derived = subprocess.run(["age-keygen", "-y"], input=identity + "\n", capture_output=True, text=True, check=True)
    recipient = derived.stdout.strip()
    assert recipient.startswith("age1")
    sealed = subprocess.run(["age", "-r", recipient], input=b"motorcade", capture_output=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".key") as key:
        key.write(identity + "\n")
        key.flush()
        opened = subprocess.run(["age", "-d", "-i", key.name], input=sealed, capture_output=True, check=True)
    assert opened.stdout == b"motorcade"


def test_age_identity_matches_age_keygen_encoding() -> None:
    """The Bech32 encoding round-trips a key made by `age-keygen` to exactly the same identity line."""
    made = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
    line = next(x for x in made.splitlines() if x.startswith("AGE-SECRET-KEY-1"))
    groups = [_CHARSET.index(c) for c in line.lower()[len("age-secret-key-1") : -6]]
    bits = "".join(f"{g:05b}" for g in groups)
    key = bytes(int(bits[i : i + 8], 2) for i in range(0, 256, 8))
    assert age_identity(key) == line


def test_age_identity_length_must_be_32_bytes(tmp_path: Path) -> None:
    """An age-identity entry whose length is not 32 bytes is refused with the file and field named."""
    (tmp_path / "secrets.yml").write_text("secrets:\n  vault_k: {description: k, kind: age-identity, length: 40}\n")
    with pytest.raises(LabConfigError, match=r"secrets\.vault_k\.length: an age identity is 32 random bytes"):
        load_catalogue(tmp_path / "secrets.yml")

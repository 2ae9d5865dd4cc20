"""Lab secrets: generated from the catalogue ansible/secrets.yml into an Ansible Vault file.

Values already in the vault are kept, so secrets survive `lab up` reruns; only missing names are generated.
"""

from __future__ import annotations

import io
import secrets as random
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from motorcade.lab.errors import LabConfigError, LabError

KINDS = ("password", "hex", "token", "age-identity")
_ALPHABETS = {
    "password": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "token": string.ascii_letters + string.digits + "-_",
}
# An age X25519 identity (what `age-keygen` writes): the Bech32 encoding of a 32-byte secret scalar with the
# human-readable part "age-secret-key-", in upper case. `length` is the number of random bytes, so it must be 32.
AGE_IDENTITY = "age-identity"
AGE_KEY_BYTES = 32
_AGE_HRP = "age-secret-key-"
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


@dataclass(frozen=True)
class SecretSpec:
    """How the lab generates one secret of the catalogue."""

    name: str
    kind: str
    length: int
    description: str = ""


def load_catalogue(path: Path) -> list[SecretSpec]:
    """Read the secrets catalogue (`secrets:` name → {description, kind, length}); none when the file is absent."""
    if not path.is_file():
        return []
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except YAMLError as error:
        raise LabConfigError(f"{path}: not valid YAML ({error.__class__.__name__})") from error
    entries = data.get("secrets") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise LabConfigError(f"{path}: expected a top-level mapping `secrets:`")
    specs = []
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise LabConfigError(f"{path}: secrets.{name}: expected a mapping with kind and length")
        kind, length = entry.get("kind"), entry.get("length")
        if kind not in KINDS:
            raise LabConfigError(f"{path}: secrets.{name}.kind: {kind!r} is not one of {', '.join(KINDS)}")
        if not isinstance(length, int) or not 8 <= length <= 512:
            raise LabConfigError(f"{path}: secrets.{name}.length: {length!r} is not a whole number from 8 to 512")
        if kind == AGE_IDENTITY and length != AGE_KEY_BYTES:
            raise LabConfigError(f"{path}: secrets.{name}.length: an age identity is {AGE_KEY_BYTES} random bytes")
        specs.append(SecretSpec(str(name), kind, length, str(entry.get("description", ""))))
    return specs


def generate(spec: SecretSpec) -> str:
    """A fresh random value for `spec`, drawn from the operating system's CSPRNG."""
    if spec.kind == AGE_IDENTITY:
        return age_identity(random.token_bytes(AGE_KEY_BYTES))
    alphabet = _ALPHABETS[spec.kind]
    return "".join(random.choice(alphabet) for _ in range(spec.length))


def age_identity(key: bytes) -> str:
    """The age X25519 identity `AGE-SECRET-KEY-1…` of the 32-byte secret `key` (Bech32, BIP 173, upper case)."""
    if len(key) != AGE_KEY_BYTES:
        raise ValueError(f"an age identity holds {AGE_KEY_BYTES} bytes, not {len(key)}")
    data = _to_5bit(key)
    return (_AGE_HRP + "1" + "".join(_BECH32_CHARSET[d] for d in data + _bech32_checksum(_AGE_HRP, data))).upper()


def _to_5bit(data: bytes) -> list[int]:
    """Regroup 8-bit bytes into 5-bit groups, zero-padding the last one."""
    acc, bits, out = 0, 0, []
    for byte in data:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def _bech32_checksum(hrp: str, data: list[int]) -> list[int]:
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data + [0] * 6
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, g in enumerate(_BECH32_GENERATOR):
            chk ^= g if (top >> i) & 1 else 0
    chk ^= 1
    return [(chk >> 5 * (5 - i)) & 31 for i in range(6)]


def ensure_password(path: Path) -> bytes:
    """The vault password stored in `path` (mode 0600), generated on first use."""
    if not path.is_file() or not path.read_bytes().strip():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(random.token_urlsafe(32) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path.read_bytes().strip()


def _vault(password: bytes) -> Any:
    """Ansible's VaultLib for one password; imported here, as Ansible's configuration loads in ~0.3 s and most
    commands (``motorcade status``) never open a vault."""
    from ansible.constants import DEFAULT_VAULT_ID_MATCH  # type: ignore[import-untyped]
    from ansible.parsing.vault import VaultLib, VaultSecret  # type: ignore[import-untyped]

    return VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(password))])


def read_vault(path: Path, password: bytes) -> dict[str, Any]:
    """Decrypt the vault file at `path` into a mapping (empty when the file does not exist)."""
    if not path.is_file():
        return {}
    from ansible.parsing.vault import AnsibleVaultError

    try:
        plain = _vault(password).decrypt(path.read_bytes())
    except AnsibleVaultError as error:
        raise LabError(f"{path} does not open with the lab's vault password; remove both to regenerate") from error
    data = YAML(typ="safe").load(plain.decode("utf-8")) or {}
    if not isinstance(data, dict):
        raise LabError(f"{path}: the vault does not hold a mapping of variables")
    return data


def ensure_vault(path: Path, password_file: Path, catalogue: list[SecretSpec]) -> list[str]:
    """Make the vault at `path` hold every catalogued secret; return the names generated now."""
    password = ensure_password(password_file)
    values = read_vault(path, password)
    added = [spec.name for spec in catalogue if not values.get(spec.name)]
    if not added and path.is_file():
        return []
    for spec in catalogue:
        if spec.name in added:
            values[spec.name] = generate(spec)
    buffer = io.StringIO()
    buffer.write("# Lab secrets, generated by `motorcade lab up` from ansible/secrets.yml.\n")
    YAML(typ="safe", pure=True).dump(dict(sorted(values.items())), buffer)
    encrypted: bytes = _vault(password).encrypt(buffer.getvalue())
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.touch(mode=0o600)
    temporary.write_bytes(encrypted)
    temporary.replace(path)
    path.chmod(0o600)
    return added

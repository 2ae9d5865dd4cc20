"""Reading an environment's inventory with the real ansible-inventory."""

from __future__ import annotations

import os
from pathlib import Path

from motorcade.ansible import Target, read_inventory


def test_the_inventory_is_read_when_stdin_is_a_non_blocking_pipe(tmp_path: Path) -> None:
    """`motorcade apply … &` in some shells, or a CI runner, hands the conductor a non-blocking stdin; Ansible refuses
    to start with one ("Ansible requires blocking IO"), so the inventory must not inherit it."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    web1:\n      answer: 42\n  children:\n    web:\n      hosts:\n        web1:\n"
    )
    ansible_dir = tmp_path / "ansible"
    ansible_dir.mkdir()
    (ansible_dir / "ansible.cfg").write_text("[defaults]\n")
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    saved_stdin = os.dup(0)
    os.dup2(read_end, 0)
    try:
        found = read_inventory(Target(inventory=[inventory], ansible_dir=ansible_dir))
    finally:
        os.dup2(saved_stdin, 0)
        for fd in (saved_stdin, read_end, write_end):
            os.close(fd)
    assert found.hostvars["web1"]["answer"] == 42
    assert found.hosts("web") == ["web1"]

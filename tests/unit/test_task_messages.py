"""What the conductor prints for a failed task: the task's own message, or for a loop the first failed item's."""

from __future__ import annotations

from motorcade.ansible import _message


def test_a_failed_loop_prints_the_message_of_its_first_failed_item() -> None:
    # The shape ansible-core 2.19 reports for a looped assert with one failed item (trimmed).
    res = {
        "changed": False,
        "failed": True,
        "msg": "One or more items failed",
        "results": [
            {"failed": False, "msg": "All assertions passed", "item": {"name": "motorcade-edge"}},
            {
                "failed": True,
                "assertion": "__found | length == 0",
                "msg": (
                    "Network motorcade-backend exists with subnets [...],\n but is declared with subnet 10.89.10.0/24."
                ),
                "item": {"item": {"name": "motorcade-backend"}},
                "_ansible_item_label": "motorcade-backend",
            },
        ],
    }
    assert _message(res) == (
        "item motorcade-backend: Network motorcade-backend exists with subnets [...], but is declared with subnet "
        "10.89.10.0/24."
    )


def test_a_failed_task_prints_its_message_on_one_line() -> None:
    assert _message({"failed": True, "msg": "Destination\n  /etc/x   does not exist"}) == (
        "Destination /etc/x does not exist"
    )
    assert _message({"failed": True, "stderr": "podman: no such container"}) == "podman: no such container"


def test_a_loop_without_an_item_message_falls_back_to_the_loop_s() -> None:
    res = {"failed": True, "msg": "One or more items failed", "results": [{"failed": True, "item": "a"}]}
    assert _message(res) == "One or more items failed"

"""`motorcade lab …`: bring the lab host up, down, or back to clean; show it; log into it."""

from __future__ import annotations

import os
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from motorcade import lab
from motorcade.errors import MotorcadeError

console = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(
    name="lab",
    help=(
        "The lab: a disposable Debian 12 host (systemd as PID 1, Podman, SSH) on this machine, "
        "where the runbook runs over SSH exactly as against staging."
    ),
    epilog=(
        "Examples: motorcade lab up · motorcade lab status · motorcade lab ssh -- systemctl --failed · "
        "motorcade lab down · motorcade lab reset. "
        "Settings: MOTORCADE_LAB_HOME, MOTORCADE_LAB_CACHE, MOTORCADE_LAB_NAME, MOTORCADE_LAB_FORM, "
        "MOTORCADE_LAB_PORT_<SSH|HTTP|HTTPS|APP>, or <lab home>/config.toml."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _config() -> lab.LabConfig:
    try:
        return lab.load_config()
    except MotorcadeError as error:
        _fail(error)


def _fail(error: MotorcadeError) -> NoReturn:
    err.print(f"[red]error:[/red] {error}")
    raise typer.Exit(error.exit_code)


def _progress(event: lab.LabEvent) -> None:
    mark = "[dim]·[/dim]" if event.cached else "[cyan]→[/cyan]"
    console.print(f"{mark} [bold]{event.stage.value}[/bold] {event.message}")


def _show(status: lab.LabStatus) -> None:
    colour = "green" if status.running else "yellow"
    system = f" (systemd: {status.system_state})" if status.system_state else ""
    console.print(f"[bold]{status.name}[/bold]: [{colour}]{status.state}[/{colour}]{system} — {status.form}")
    if status.failed_units:
        console.print(f"  failed units: {', '.join(status.failed_units)}")
    table = Table(box=None, show_header=True, pad_edge=False)
    table.add_column("forward")
    table.add_column("on this machine")
    table.add_column("lab host port", justify="right")
    for forward in status.ports:
        table.add_row(forward.name, forward.address, str(forward.guest))
    console.print(table)
    console.print(f"  ssh:        {status.ssh_command}")
    if status.s3:
        console.print(f"  s3:         {status.s3}")
    console.print(f"  inventory:  ansible/inventories/lab + {status.inventory}")
    console.print(f"  vault pass: {status.vault_password_file}")
    console.print(f"  workspace:  {status.workspace}")
    console.print(f"  cache:      {status.cache}")


@app.command()
def up() -> None:
    """Bring the lab host up: build or reuse cached images, boot it, wait for SSH, write the inventory.

    The host is a KVM virtual machine where KVM works, else a systemd container (said once, when it is
    created); MOTORCADE_LAB_FORM=container|vm forces one. Safe to rerun and to resume after being
    interrupted. Example: motorcade lab up
    """
    config = _config()
    try:
        status = lab.up(config, _progress)
    except MotorcadeError as error:
        _fail(error)
    _show(status)


@app.command()
def down() -> None:
    """Stop the lab host, keeping its disk for the next `up`; verify nothing is left running or listening.

    Example: motorcade lab down
    """
    config = _config()
    try:
        status = lab.down(config, _progress)
    except MotorcadeError as error:
        _fail(error)
    console.print(f"[green]✓[/green] {status.name} is {status.state}; nothing of it runs or listens")


@app.command()
def status() -> None:
    """Show whether the lab host is up, its ports on 127.0.0.1, the SSH command and the inventory.

    Example: motorcade lab status
    """
    config = _config()
    try:
        _show(lab.status(config))
    except MotorcadeError as error:
        _fail(error)


@app.command()
def reset(
    rebuild: Annotated[bool, typer.Option(help="Also rebuild the cached root filesystems from scratch.")] = False,
    keep_down: Annotated[bool, typer.Option(help="Leave the lab down after throwing the host away.")] = False,
) -> None:
    """Throw the lab host away (its disk, containers and the lab workspace) and bring up a clean one.

    SSH keys and vault secrets are kept. Examples: motorcade lab reset · motorcade lab reset --rebuild
    """
    config = _config()
    try:
        status = lab.reset(config, _progress, rebuild=rebuild, start=not keep_down)
    except MotorcadeError as error:
        _fail(error)
    _show(status)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ssh(
    ctx: typer.Context,
    root: Annotated[bool, typer.Option("--root", help="Log in as root instead of the Ansible user.")] = False,
) -> None:
    """Log into the lab host over SSH as Ansible does (or run a command there).

    Examples: motorcade lab ssh · motorcade lab ssh -- sudo systemctl status · motorcade lab ssh --root
    """
    config = _config()
    status = lab.status(config)
    if not status.running:
        _fail(lab.LabNotUpError(f"{config.name} is {status.state}; run `motorcade lab up` first"))
    argv = lab.ssh_argv(config, list(ctx.args), user="root" if root else None)
    sys.stdout.flush()
    os.execvp(argv[0], argv)  # noqa: S606 - replacing this process with ssh is the point

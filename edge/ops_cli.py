"""`siaga112 backup`, `siaga112 restore` and `siaga112 doctor`: keeping an appliance alive.

Parsing and printing only; the work is in edge/services/backup.py and edge/services/doctor.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


def _data_dir_option(func):
    return click.option(
        "--data-dir", type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("SIAGA112_DATA_DIR", "./data"), show_default="./data or $SIAGA112_DATA_DIR",
        help="Folder holding this node's database and secrets.",
    )(func)


def _to_option(func):
    return click.option(
        "--to", "dest", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Folder holding the backups (default $SIAGA112_BACKUP_DIR, else DATA_DIR/backups).",
    )(func)


def _config_option(func):
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
        help="The node's siaga112.toml: data folder, [backup] dir and keep, [bridge] modem and radio, [sync] broker "
             "come from it; options given here still override it. See docs/config.md.",
    )(func)


def _given(name: str) -> bool:
    """True when the option was typed on the command line (so it beats --config)."""
    from click.core import ParameterSource

    return click.get_current_context().get_parameter_source(name) is ParameterSource.COMMANDLINE


def _load_config(config_path: Path | None):
    if config_path is None:
        return None
    from edge.config import load_for_cli

    return load_for_cli(config_path)


def _error(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


@click.group("backup", invoke_without_command=True)
@_data_dir_option
@_to_option
@click.option("--keep", type=click.IntRange(min=1), default=14, show_default=True,
              help="How many of this node's newest backups to keep in the folder; older ones are removed.")
@_config_option
@click.pass_context
def backup(ctx: click.Context, data_dir: Path, dest: Path | None, keep: int, config_path: Path | None) -> None:
    """Make an online, verified backup of this node (SQLite database, secret key, sync keys and
    certificates, central's pki/) while it runs; then keep only the newest --keep backups."""
    if ctx.invoked_subcommand is not None:
        return
    from edge.services.backup import BackupError, create_backup

    config = _load_config(config_path)
    if config is not None:
        data_dir = data_dir if _given("data_dir") else config.data_dir
        dest = dest if _given("dest") else Path(config.backup.dir)
        keep = keep if _given("keep") else config.backup.keep

    try:
        info = create_backup(data_dir, dest, keep)
    except BackupError as exc:
        _error(exc)
    files = len(info.manifest.get("files", {})) - 1
    click.echo(f"Backup {info.path} ({info.db_bytes / 1e6:.1f} MB database, {files} node files): "
               "integrity_check ok, checksums written")


@backup.command("list")
@_data_dir_option
@_to_option
@_config_option
def backup_list(data_dir: Path, dest: Path | None, config_path: Path | None) -> None:
    """List the backups in the backup folder, newest first."""
    from edge.services.backup import default_backup_dir, list_backups

    config = _load_config(config_path)
    if config is not None:
        data_dir = data_dir if _given("data_dir") else config.data_dir
        dest = dest if _given("dest") else Path(config.backup.dir)

    folder = dest or default_backup_dir(data_dir)
    found = list_backups(folder)
    if not found:
        click.echo(f"no backups in {folder}")
        return
    for info in found:
        state = "ok" if info.complete else "INCOMPLETE"
        click.echo(f"{info.path.name}\t{info.created_at:%Y-%m-%d %H:%M:%S} UTC\t{info.db_bytes / 1e6:.1f} MB\t{state}")


@click.command("restore")
@click.argument("backup_path", metavar="BACKUP", type=click.Path(path_type=Path))
@_data_dir_option
@click.option("--force", is_flag=True,
              help="Replace the database even if a process has it open or it belongs to another node.")
@_config_option
def restore(backup_path: Path, data_dir: Path, force: bool, config_path: Path | None) -> None:
    """Verify BACKUP (a backup folder) and restore it into DATA_DIR. Stop siaga112-web,
    siaga112-sync, siaga112-bridge and siaga112-backup.timer first; the replaced database
    and files are kept in DATA_DIR/replaced-<time>/."""
    from edge.services.backup import BackupError, restore_backup

    config = _load_config(config_path)
    if config is not None and not _given("data_dir"):
        data_dir = config.data_dir
    try:
        result = restore_backup(backup_path, data_dir, force=force)
    except BackupError as exc:
        _error(exc)
    click.echo(f"Restored node {result.node_id} into {result.database}")
    if result.files:
        click.echo(f"Node files restored: {', '.join(result.files)}")
    if result.replaced:
        click.echo(f"What was replaced is kept in {result.replaced}")
    if result.fence:
        click.echo(f"Sync: sequences fenced (events from {result.fence.event_seq}, "
                   f"{result.fence.cases_skipped} case numbers skipped); this node rejoins its peers when "
                   "siaga112-sync starts and gets back what they hold of its work since the backup")
    click.echo("Start the services again (systemctl start siaga112-web siaga112-sync siaga112-bridge)")


@click.command("doctor")
@_data_dir_option
@click.option("--modem", "modem_path", default=lambda: os.environ.get("SIAGA112_MODEM"),
              help="The bridge's modem serial port to check, e.g. /dev/siaga-modem ($SIAGA112_MODEM).")
@click.option("--radio", "radio_path", default=lambda: os.environ.get("SIAGA112_RADIO"),
              help="The bridge's radio TNC to check: /dev/PATH[@BAUD] or HOST:PORT ($SIAGA112_RADIO).")
@_to_option
@_config_option
def doctor(data_dir: Path, modem_path: str | None, radio_path: str | None, dest: Path | None,
           config_path: Path | None) -> None:
    """Check this node (disk, clock, broker, certificates, modem, radio, database, audit chain,
    backups) and print what to fix. Exit 0 when all is OK, 1 with warnings, 2 with failures."""
    from edge.services.doctor import Status, run_checks

    broker = None
    config = _load_config(config_path)
    if config is not None:
        from edge.config import broker_override

        broker = broker_override(config)
        data_dir = data_dir if _given("data_dir") else config.data_dir
        modem_path = modem_path if _given("modem_path") else (config.bridge.modem or None)
        radio_path = radio_path if _given("radio_path") else (config.bridge.radio or None)
        dest = dest if _given("dest") else Path(config.backup.dir)

    results = run_checks(data_dir, modem_path=modem_path, radio_path=radio_path, backup_dir=dest,
                         broker_override=broker)
    width = max(len(r.name) for r in results)
    for r in results:
        click.echo(f"{r.status.value:<4}  {r.name:<{width}}  {r.detail}")
        if r.status != Status.OK and r.fix:
            click.echo(f"{'':<4}  {'':<{width}}  fix: {r.fix}")
    worst = max((r.status for r in results), key=lambda s: s.exit_code)
    click.echo(f"{sum(r.status == Status.OK for r in results)} OK, {sum(r.status == Status.WARN for r in results)} "
               f"warnings, {sum(r.status == Status.FAIL for r in results)} failures")
    sys.exit(worst.exit_code)


COMMANDS = (backup, restore, doctor)

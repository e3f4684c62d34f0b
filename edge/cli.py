"""The `siaga112` command line: parses arguments and calls service functions, nothing more.

Every command takes `--data-dir` (or SIAGA112_DATA_DIR) naming the node's folder.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from central.exports.cli import export as export_cli
from central.reporting.cli import report_group
from central.tiles.cli import tiles as tiles_cli
from edge.cli_errors import fail as _fail
from edge.db_cli import db_group
from edge.install_cli import install_command
from edge.ops_cli import COMMANDS as ops_commands
from edge.services.errors import ServiceError
from firmware_bridge.cli import bridge, sim
from sync.cli import pki

DATA_DIR = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("SIAGA112_DATA_DIR", "./data"), show_default="./data or $SIAGA112_DATA_DIR",
    help="Folder holding this node's database and secrets.",
)


CONFIG = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    help="The node's siaga112.toml (e.g. /etc/siaga112/siaga112.toml): settings come from it, options given "
         "here still override it. See docs/config.md.",
)


def _given(name: str) -> bool:
    """True when the option was typed on the command line (so it beats --config)."""
    from click.core import ParameterSource

    return click.get_current_context().get_parameter_source(name) is ParameterSource.COMMANDLINE


def _open(data_dir: Path) -> None:
    from contextlib import nullcontext

    from edge.logsetup import set_node_id
    from edge.services import setting
    from edge.services.node import open_node

    try:
        db = open_node(data_dir)
    except ServiceError as exc:
        _fail(exc)
    with db.connection_context() if db.is_closed() else nullcontext():  # leaves an open connection open
        set_node_id(setting("node_id"))  # for JSON log records


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="siaga112")
def main() -> None:
    """Siaga 112: offline-first emergency dispatch for a regency's 112 service."""
    from edge.logsetup import BadLogSetting, configure

    try:
        configure()  # $SIAGA112_LOG_LEVEL / $SIAGA112_LOG_FORMAT; --config re-configures from [log]
    except BadLogSetting as exc:
        raise click.UsageError(str(exc)) from None


@main.command()
@click.option("--role", type=click.Choice(["posko", "agency", "central"]), default=None,
              help="Node role (default posko; taken from --bundle when given).")
@click.option("--node-id", help="Unique node id, e.g. posko-bengkalis (taken from --bundle when given).")
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Enrolment bundle issued by central ('siaga112 pki issue'): joins the regency's sync.")
@click.option("--profile", default="bengkalis", show_default=True,
              help="Built-in routing profile name or path to a profile TOML file.")
@click.option("--admin", "admin_username", default="admin", show_default=True, help="First admin's user name.")
@click.option("--database-url", help="Central only: keep the data in this database, e.g. "
              "postgresql://siaga112@db.example:5432/siaga112 (stored in DATA_DIR/database_url; default SQLite).")
@click.option("--recover", is_flag=True,
              help="With --bundle: this node existed and lost its disk with no usable backup; fence its numbers "
              "and take its records back from central (docs/operations.md).")
@DATA_DIR
def init(role: str | None, node_id: str | None, bundle_path: Path | None, profile: str, admin_username: str,
         database_url: str | None, recover: bool, data_dir: Path) -> None:
    """Create a node: database, routing profile and the first admin (prints its one-time password);
    with --bundle also its sync identity, keys and broker address."""
    from edge.install import InstallError, create_node
    from edge.profile import ProfileError
    from sync.pki import PkiError

    try:
        result, bundle = create_node(data_dir, node_id, role, bundle_path, profile, admin_username, database_url,
                                     recover)
    except InstallError as exc:
        raise click.UsageError(str(exc)) from None
    except (ProfileError, PkiError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ServiceError as exc:
        _fail(exc)
    if bundle is not None:
        node_id, role = bundle["node_id"], bundle["role"]
        click.echo(f"Enrolled: broker {bundle['broker']['host']}:{bundle['broker']['port']}, "
                   f"central {bundle['central'] or node_id}")
    click.echo(f"Node {node_id} ({role or 'posko'}) created in {data_dir}")
    if database_url:
        click.echo("Database: PostgreSQL (URL stored in database_url, mode 0600)")
    click.echo(f"Admin user: {result.admin_username}")
    click.echo(f"One-time password (change it at first login): {result.admin_password}")


@main.command()
@DATA_DIR
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8112, show_default=True, type=int)
@CONFIG
def serve(data_dir: Path, host: str, port: int, config_path: Path | None) -> None:
    """Run the web app with the development server (production: gunicorn edge.wsgi:app, see systemd/)."""
    from edge.app import create_app

    if config_path:
        from edge.config import load_for_cli

        config = load_for_cli(config_path)
        data_dir = data_dir if _given("data_dir") else config.data_dir
        host = host if _given("host") else config.web.bind
        port = port if _given("port") else config.web.port
    _open(data_dir)
    app = create_app(data_dir)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["call_taker", "supervisor", "agency", "central", "admin", "analyst"]))
@click.option("--agency", "agency_code", help="Agency code (required for --role agency), e.g. DAMKAR.")
@click.option("--full-name", default="")
@click.option("--password", envvar="SIAGA112_PASSWORD",
              help="Password (default: generate a one-time password and print it).")
@DATA_DIR
def user_add(username: str, role: str, agency_code: str | None, full_name: str, password: str | None,
             data_dir: Path) -> None:
    """Create a user; without --password a one-time password is printed."""
    from edge.services.admin import console_add_user
    from edge.services.users import new_password

    _open(data_dir)
    one_time = password is None
    password = password or new_password()
    try:
        created = console_add_user(username, role, password, full_name, agency_code, one_time)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"User {created.username} ({created.role}) created")
    if one_time:
        click.echo(f"One-time password: {password}")


@user.command("token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for.")
@DATA_DIR
def user_token(username: str, label: str, data_dir: Path) -> None:
    """Print a new API token for USERNAME (shown once; store it safely)."""
    from edge.services.admin import console_issue_token

    _open(data_dir)
    try:
        click.echo(console_issue_token(username, label))
    except ServiceError as exc:
        _fail(exc)


@user.command("list")
@DATA_DIR
def user_list(data_dir: Path) -> None:
    """List users with role and agency."""
    from edge.models import User

    _open(data_dir)
    for u in User.select().order_by(User.username):
        agency = u.agency.code if u.agency_id else "-"
        click.echo(f"{u.username}\t{u.role}\t{agency}\t{'active' if u.active else 'disabled'}")


@main.group()
def profile() -> None:
    """Routing profiles (incident types -> agencies, SOP time standards)."""


@profile.command("list")
def profile_list() -> None:
    """List the built-in profiles."""
    from edge.profile import builtin_names, load_profile

    for name in builtin_names():
        click.echo(f"{name}\t{load_profile(name).name}")


@profile.command("load")
@click.argument("name_or_path")
@DATA_DIR
def profile_load(name_or_path: str, data_dir: Path) -> None:
    """Validate a profile (built-in name or TOML path) and make it this node's active profile."""
    from edge.profile import ProfileError, load_profile
    from edge.services.admin import console_load_profile

    _open(data_dir)
    try:
        parsed = load_profile(name_or_path)
    except ProfileError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    console_load_profile(parsed)
    click.echo(f"Profile {parsed.id} active ({len(parsed.incident_types)} incident types)")


@main.group()
def audit() -> None:
    """The append-only audit trail."""


@audit.command("verify")
@DATA_DIR
def audit_verify(data_dir: Path) -> None:
    """Check the hash chain of every node's events; exit 1 if anything was tampered with."""
    from edge.services.audit import verify

    _open(data_dir)
    checked, problems = verify()
    for p in problems:
        click.echo(f"TAMPERED node={p.node} seq={p.seq} event={p.event_id}: {p.reason}", err=True)
    click.echo(f"{checked} events checked, {len(problems)} problems")
    sys.exit(1 if problems else 0)


@main.command()
@DATA_DIR
@click.option("--port", default=8112, show_default=True, type=int,
              help="posko-a's port; posko-b, central and damkar-1 take the next three.")
@click.option("--host", default="127.0.0.1", show_default=True)
def demo(data_dir: Path, port: int, host: str) -> None:
    """Run a demo regency until Ctrl+C: broker, central, two posko and a Damkar station, synced."""
    import signal
    import threading
    import time

    from edge.services.demo import (
        DAMKAR_PHONE,
        DEMO_PASSWORD,
        ROLES_LEGEND,
        missing_logins,
        open_demo_regency,
        start_demo,
        start_demo_devices,
    )
    from sync.localnet import LocalnetError

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    modem = None
    try:
        net = open_demo_regency(data_dir)
    except LocalnetError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        click.echo(f"Starting the demo regency in {data_dir} (logs: <node>/sync.log, web.log, broker/) ...")
        sites = start_demo(net, port, host)
        deadline = time.monotonic() + 30
        while (missing := missing_logins(net)) and time.monotonic() < deadline and not stop.is_set():
            time.sleep(0.5)
        click.echo("")
        click.echo(f"Siaga 112 demo regency; every password is {DEMO_PASSWORD}")
        click.echo(f"  {'node':<10} {'url':<26} logins")
        for site in sites:
            click.echo(f"  {site.node_id:<10} {site.url:<26} {', '.join(site.logins)}")
        click.echo(f"  ({ROLES_LEGEND})")
        if missing:
            click.echo(f"warning: not yet synced: {', '.join(missing)} (see the sync.log files)", err=True)
        click.echo("")
        url = {site.node_id: site.url for site in sites}
        click.echo(f"Record a case at posko-a ({url['posko-a']}) and open central's overview "
                   f"({url['central']}pusat/): it appears there within seconds.")
        click.echo("Each node has its own login cookie, so one browser can be logged in to all four. "
                   "Ctrl+C stops everything.")
        modem = start_demo_devices(net, data_dir)
        click.echo("")
        click.echo("posko-a has an emulated GSM modem. Type here:")
        click.echo("  ring 081277001122            its 112 line rings: the call appears on posko-a's board")
        click.echo(f"  sms {DAMKAR_PHONE} OK <code>  Damkar answers a dispatch sent with channel SMS")
        click.echo("  help                         everything the modem emulator can do")
        click.echo("posko-a and damkar-1 share a simulated radio channel: dispatch Damkar with channel "
                   "'Radio' at posko-a and it rings in damkar-1's inbox; its answers come back by radio.")
        if sys.stdin.isatty():
            threading.Thread(target=_modem_console, args=(modem.emulator, stop), daemon=True).start()
        reported: set[str] = set()
        while not stop.wait(1.0):
            for dead in set(net.dead_processes() + modem.dead()) - reported:
                click.echo(f"warning: {dead} stopped unexpectedly (see its log in {data_dir})", err=True)
                reported.add(dead)
    except LocalnetError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        click.echo("Stopping the demo ...")
        if modem is not None:
            modem.stop()
        net.stop()


def _modem_console(emulator, stop) -> None:
    """Lines typed in the demo's terminal drive posko-a's emulated modem."""
    from firmware_bridge.cli import run_command

    for line in sys.stdin:
        if stop.is_set():
            return
        if line.strip() in ("quit", "exit"):
            stop.set()
            return
        answer = run_command(emulator, line.strip())
        if answer:
            click.echo(answer)


main.add_command(pki)
main.add_command(sim)
main.add_command(bridge)
main.add_command(export_cli)  # siaga112 export cap|eido|…: closed cases for the national centre
main.add_command(tiles_cli)  # siaga112 tiles load|info: offline map tiles for central's map
main.add_command(report_group)  # siaga112 report build|synthetic: regency reports as files
main.add_command(db_group)  # siaga112 db copy: move a SQLite central to PostgreSQL
main.add_command(install_command)  # siaga112 install: the appliance (user, config, node, systemd units)
for _ops in ops_commands:  # siaga112 backup|restore|doctor (docs/operations.md)
    main.add_command(_ops)

@main.group("sync")
def sync_group() -> None:
    """Replication with central over MQTT (needs an enrolled node: init --bundle)."""


@sync_group.command("run")
@DATA_DIR
@CONFIG
def sync_run(data_dir: Path, config_path: Path | None) -> None:
    """Run the sync daemon in the foreground until SIGTERM/SIGINT."""
    import signal
    import threading

    from sync import sdnotify
    from sync.daemon import SyncConfigError, SyncDaemon

    broker: dict[str, object] = {}
    if config_path:
        from edge.config import broker_override, load_for_cli

        config = load_for_cli(config_path)
        data_dir = data_dir if _given("data_dir") else config.data_dir
        broker = broker_override(config)
    _open(data_dir)
    daemon = SyncDaemon(data_dir, broker)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        daemon.start()
    except SyncConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    sdnotify.notify("READY=1")
    sdnotify.start_watchdog(daemon.healthy, done)
    failed = False
    while not done.wait(2):
        if not daemon.network_alive():
            logging.getLogger("siaga112.sync").critical(
                "the MQTT network thread has stopped; exiting so that systemd starts the daemon again")
            failed = True
            break
    sdnotify.notify("STOPPING=1")
    daemon.stop()
    if failed:
        sys.exit(1)


@sync_group.command("status")
@DATA_DIR
def sync_status(data_dir: Path) -> None:
    """Print this node's sync state: connection, peers, backlog and progress."""
    from sync.status import node_status

    _open(data_dir)
    st = node_status()
    click.echo(f"connected: {'yes' if st.connected else 'no'}")
    if st.rejoining:
        click.echo("rejoin: restored from a backup; waiting for central to take this node back")
    for peer in st.peers:
        click.echo(f"{peer.node}\tonline={'yes' if peer.online else 'no'}\tbacklog={peer.backlog}\t"
                   f"last_received={peer.last_received_at or '-'}\tlast_acked={peer.last_acked_at or '-'}")
    if st.progress:
        click.echo(f"progress: {st.progress}")
    if st.parked:
        click.echo(f"parked: {st.parked} received changes wait for a missing row (oldest since {st.parked_since})"
                   + (f"; {st.reused} reuse another change's number: a node was reset by hand, rebuild it with "
                      "'siaga112 init --recover' (docs/operations.md)" if st.reused else ""))


if __name__ == "__main__":  # pragma: no cover
    main()

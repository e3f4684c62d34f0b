"""The `siaga112 install` command: parses options and calls edge.install, nothing more."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edge.install import DEFAULT_DATA_DIR, InstallError, InstallOptions, install


@click.command("install")
@click.option("--role", required=True, type=click.Choice(["posko", "agency", "central"]),
              help="What this machine is.")
@click.option("--bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Enrolment bundle from central ('siaga112 pki issue'): node id and sync identity.")
@click.option("--node-id", help="Node id when there is no bundle (a node without sync), e.g. posko-rupat.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA_DIR,
              show_default=True, help="The node's data folder on the installed system.")
@click.option("--root", type=click.Path(file_okay=False, exists=True, path_type=Path), default=Path("/"),
              show_default=True, help="Install into this folder instead of the running system (tests, images).")
@click.option("--venv", type=click.Path(file_okay=False, path_type=Path), default=Path(sys.prefix),
              show_default="this siaga112's venv", help="The venv the units run siaga112 and gunicorn from.")
@click.option("--profile", default="bengkalis", show_default=True, help="Routing profile for a new node.")
@click.option("--admin", default="admin", show_default=True, help="First admin's user name for a new node.")
@click.option("--web-bind", default="127.0.0.1", show_default=True,
              help="[web] bind: 127.0.0.1, or the LAN address so other PCs reach the app.")
@click.option("--web-port", default=8112, show_default=True, type=int, help="[web] port.")
@click.option("--modem", default="", help="[bridge] modem: the GSM modem's port, e.g. /dev/siaga-modem.")
@click.option("--radio", default="", help="[bridge] radio: KISS TNC, HOST:PORT or /dev/PATH[@BAUD].")
@click.option("--callsign", default="", help="[bridge] callsign (with --radio), e.g. POSKO1.")
@click.option("--pki-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Central: the regency CA for the broker's TLS files (default DATA_DIR/pki).")
@click.option("--broker-bind", default="0.0.0.0", show_default=True, help="Central: address Mosquitto listens on.")
@click.option("--broker-port", default=8883, show_default=True, type=int, help="Central: Mosquitto's TLS port.")
@click.option("--recover", is_flag=True, help="With --bundle: the node lost its disk with no backup; rebuild it "
              "from central (see siaga112 init --recover).")
def install_command(role: str, bundle: Path | None, node_id: str | None, data_dir: Path, root: Path, venv: Path,
                    profile: str, admin: str, web_bind: str, web_port: int, modem: str, radio: str, callsign: str,
                    pki_dir: Path | None, broker_bind: str, broker_port: int, recover: bool) -> None:
    """Set up this machine as a node: user, folders, config, node, Mosquitto (central), systemd units."""
    opts = InstallOptions(role=role, root=root, bundle=bundle, node_id=node_id, data_dir=data_dir, venv=venv,
                          profile=profile, admin=admin, web_bind=web_bind, web_port=web_port, modem=modem,
                          radio=radio, callsign=callsign, pki_dir=pki_dir, broker_bind=broker_bind,
                          broker_port=broker_port, recover=recover)
    try:
        report = install(opts, click.echo)
    except InstallError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if report.admin_password:
        click.echo(f"Admin user: {admin}")
        click.echo(f"One-time password (change it at first login): {report.admin_password}")
    if report.changed:
        click.echo("Installed. Start it with: systemctl start siaga112.target")
    else:
        click.echo("Nothing changed: this machine was already installed this way.")

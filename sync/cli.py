"""The `siaga112 pki` commands: parse arguments, call sync.pki / sync.broker, print results.

Why it exists: the regency's administrator runs the CA on one machine (init, issue,
revoke, broker-config) and carries bundles to the nodes. Every command takes `--dir`
(or $SIAGA112_PKI_DIR); a refused operation prints `error: ...` and exits with status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from sync import broker as broker_lib
from sync import pki as pki_lib

T = TypeVar("T")

PKI_DIR = click.option(
    "--dir", "pki_dir", required=True, envvar="SIAGA112_PKI_DIR", show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="PKI directory (CA key, registry, CRL, bundles). Keep it on the CA machine only.",
)


def _call(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run a library function; a PkiError becomes `error: ...` on stderr and exit status 2."""
    try:
        return fn(*args, **kwargs)
    except pki_lib.PkiError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def pki() -> None:
    """The regency CA: node certificates, envelope keys, enrolment bundles, broker config."""


@pki.command("init")
@PKI_DIR
@click.option("--name", required=True, help='Who runs the CA, e.g. "Diskominfotik Bengkalis".')
def pki_init(pki_dir: Path, name: str) -> None:
    """Create the CA (key, certificate, empty registry and CRL); refuses to overwrite one."""
    _call(pki_lib.init_ca, pki_dir, name)
    click.echo(f"CA created in {pki_dir}; keep {pki_dir / 'ca.key'} offline and backed up")


@pki.command("issue")
@click.argument("node_id")
@PKI_DIR
@click.option("--role", required=True, type=click.Choice(list(pki_lib.ROLES)), help="The node's role.")
@click.option("--agency", help="Agency code (required for --role agency), e.g. DAMKAR.")
@click.option("--area", "areas", multiple=True, help="Kecamatan the node covers; repeat for several.")
@click.option("--broker-host", default="127.0.0.1", show_default=True, help="Broker host the node connects to.")
@click.option("--broker-port", default=8883, show_default=True, type=int, help="Broker TLS port.")
def pki_issue(node_id: str, pki_dir: Path, role: str, agency: str | None, areas: tuple[str, ...],
              broker_host: str, broker_port: int) -> None:
    """Issue NODE_ID's certificate and keys; prints the path of its enrolment bundle."""
    path = _call(pki_lib.issue_node, pki_dir, node_id, role, agency=agency, areas=list(areas),
                 broker_host=broker_host, broker_port=broker_port)
    click.echo(str(path))
    click.echo("Carry the bundle to the node (it holds private keys), then refresh the central's "
               "directory with `siaga112 pki directory`.", err=True)


@pki.command("revoke")
@click.argument("node_id")
@PKI_DIR
def pki_revoke(node_id: str, pki_dir: Path) -> None:
    """Revoke NODE_ID: mark it in the registry and sign a new CRL."""
    _call(pki_lib.revoke_node, pki_dir, node_id)
    click.echo(f"Revoked {node_id}; new CRL in {pki_dir / 'crl.pem'}")
    click.echo("Regenerate the broker config (`siaga112 pki broker-config`), restart the broker, "
               "and refresh the central's directory with `siaga112 pki directory`.", err=True)


@pki.command("list")
@PKI_DIR
def pki_list(pki_dir: Path) -> None:
    """List issued nodes: node, role, agency, revoked."""
    registry = _call(pki_lib.load_registry, pki_dir)
    rows = [("NODE", "ROLE", "AGENCY", "REVOKED")] + [
        (node, e.get("role", "?"), e.get("agency") or "-", "yes" if e.get("revoked") else "no")
        for node, e in sorted(registry.items())
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3])


@pki.command("directory")
@PKI_DIR
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (e.g. the central node's sync/directory.json); replaced atomically.")
def pki_directory(pki_dir: Path, out: Path) -> None:
    """Write the full node directory (public keys, roles, revoked flags) for the central node."""
    _call(pki_lib.write_directory, pki_dir, out)
    click.echo(f"Directory written to {out}")


@pki.command("broker-config")
@PKI_DIR
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for mosquitto.conf, acl, the pid file and (by default) the persistence data.")
@click.option("--port", default=8883, show_default=True, type=int, help="TLS port to listen on.")
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
def pki_broker_config(pki_dir: Path, out_dir: Path, port: int, bind: str) -> None:
    """Write mosquitto.conf and the topic ACL (issues the broker certificate if missing)."""
    conf = _call(broker_lib.mosquitto_conf, pki_dir, out_dir, port, bind)
    click.echo(str(conf))
    click.echo(f"Run: mosquitto -c {conf}", err=True)


@pki.command("refresh-crl")
@PKI_DIR
def pki_refresh_crl(pki_dir: Path) -> None:
    """Re-sign the CRL for another 30 days (the broker refuses every node once it expires)."""
    path = _call(pki_lib.refresh_crl, pki_dir)
    click.echo(f"CRL re-signed: {path}; restart the broker to load it")


if __name__ == "__main__":  # pragma: no cover
    pki(prog_name="siaga112 pki")

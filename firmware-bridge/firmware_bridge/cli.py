"""`siaga112 sim ...`: simulated hardware for the demo, training and trying things by hand.

`siaga112 sim modem --link /tmp/siaga-modem` runs the modem emulator in the foreground, prints
the pty path and reads commands on stdin (`help` lists them). Parses and calls, nothing more.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

HELP = """commands:
  ring <number> [times] [interval]   incoming call (RING, +CLIP when the host enabled it)
  sms <number> <text...>             SMS stored on the SIM, announced with +CMTI
  cmt <number> <text...>             SMS handed over directly with +CMT
  signal <0-31|99>                   signal quality for AT+CSQ
  reg <stat>                         registration: 0 none, 1 home, 2 searching, 3 denied, 5 roaming
  sim <ready|pin|absent>             SIM state for AT+CPIN?
  reset | unplug | replug            modem reboots / USB cable pulled / plugged back in
  garble [n]                         corrupt the next n responses
  sent | inbox                       what the host sent / what is in SIM storage
  quit"""


def run_command(emulator, line: str) -> str:
    """Carry out one stdin command on the emulator; the text to show."""
    words = line.split(maxsplit=2)
    if not words:
        return ""
    name, args = words[0].lower(), words[1:]
    try:
        if name == "ring" and args:
            extra = args[1].split() if len(args) > 1 else []
            emulator.ring(args[0], int(extra[0]) if extra else 1, float(extra[1]) if len(extra) > 1 else 3.0)
            return f"ringing from {args[0]}"
        if name in ("sms", "cmt") and len(args) == 2:
            indices = emulator.receive_sms(args[0], args[1], store=name == "sms")
            return f"SMS from {args[0]}" + (f" stored at {indices}" if indices else " delivered (+CMT)")
        if name == "signal" and args:
            emulator.set_signal(int(args[0]))
            return f"signal {args[0]}"
        if name == "reg" and args:
            emulator.set_registration(int(args[0]))
            return f"registration {args[0]}"
        if name == "sim" and args and args[0].lower() in ("ready", "pin", "absent"):
            emulator.set_sim({"ready": "READY", "pin": "SIM PIN", "absent": "NOT INSERTED"}[args[0].lower()])
            return f"SIM {args[0].lower()}"
        if name in ("reset", "unplug", "replug") and not args:
            getattr(emulator, name)()
            return {"reset": "modem rebooting", "unplug": "unplugged", "replug": f"back on {emulator.port}"}[name]
        if name == "garble":
            emulator.garble(int(args[0]) if args else 1)
            return "next response(s) garbled"
        if name == "sent":
            return "\n".join(f"{s.mr}\t{s.recipient}\t{s.text}" for s in emulator.sent) or "nothing sent"
        if name == "inbox":
            return "\n".join(f"{i}\tstat {e[0]}\t{e[1]}" for i, e in sorted(emulator.storage.items())) or "empty"
    except ValueError as exc:
        return f"error: {exc}"
    return HELP


@click.group()
def sim() -> None:
    """Simulated hardware for the demo and for training (no modem or radio needed)."""


@sim.command("modem")
@click.option("--link", type=click.Path(dir_okay=False, path_type=Path),
              help="Symlink to point at the pty, a stable name for clients (e.g. /tmp/siaga-modem).")
@click.option("--report-delay", type=float, default=2.0, show_default=True,
              help="Seconds before a requested delivery report (+CDS) arrives.")
@click.option("--trace", is_flag=True, help="Log every byte in and out (DEBUG on siaga112.bridge.emulator).")
def modem(link: Path | None, report_delay: float, trace: bool) -> None:
    """Run the GSM modem emulator in the foreground, driven by commands on stdin."""
    import logging

    from firmware_bridge.modem.emulator import ModemEmulator

    if trace:
        logging.getLogger("siaga112.bridge.emulator").setLevel(logging.DEBUG)
    emulator = ModemEmulator(link, report_delay=report_delay)
    try:
        emulator.start()
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    click.echo(f"modem emulator on {emulator.pty_name}" + (f" (link {link})" if link else ""))
    click.echo("type 'help' for commands")
    try:
        for line in sys.stdin:
            if line.strip().lower() in ("quit", "exit"):
                break
            reply = run_command(emulator, line)
            if reply:
                click.echo(reply)
        else:  # stdin closed (run by `make demo`): keep serving until SIGTERM/SIGINT
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


@sim.command("air")
@click.option("--port", type=int, default=8001, show_default=True,
              help="TCP port bridges connect to with --radio 127.0.0.1:PORT, as to a TNC's KISS port.")
def air(port: int) -> None:
    """Run a simulated radio channel on loopback: every KISS frame reaches every other station."""
    from firmware_bridge.radio.air import SimulatedAir

    channel = SimulatedAir(port)  # logs through the root handler `siaga112` set up (edge.logsetup)
    channel.start()
    click.echo(f"simulated air on 127.0.0.1:{channel.port}; Ctrl+C stops it")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    channel.stop()


@click.group("bridge")
def bridge() -> None:
    """The bridge daemon: GSM modem and/or radio (KISS TNC) tied to this node's incident app."""


def _tnc_address(ctx, param, value: str | None) -> str | None:
    from firmware_bridge.radio.tnc import BadTncAddress, open_tnc

    if value is None:
        return None
    try:
        open_tnc(value)  # only parses: nothing is opened before start()
    except BadTncAddress as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@bridge.command("run")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The node's data folder (required unless --config gives it).")
@click.option("--modem", "modem_port", help="Modem serial port, e.g. /dev/siaga-modem.")
@click.option("--radio", callback=_tnc_address, metavar="TNC",
              help="The radio's KISS TNC: HOST:PORT over TCP, e.g. 127.0.0.1:8001 (Dire Wolf's KISSPORT), "
                   "or a serial TNC /dev/PATH[@BAUD], e.g. /dev/siaga-tnc@9600 (default 9600 baud).")
@click.option("--callsign", help="This station's callsign on the radio, e.g. POSKO1 (required with --radio).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The node's siaga112.toml: data folder, modem, radio and callsign come from it ([node], "
                   "[bridge]); options given here still override it. See docs/config.md.")
def bridge_run(data_dir: Path | None, modem_port: str | None, radio: str | None, callsign: str | None,
               config_path: Path | None) -> None:
    """Run the bridge in the foreground until SIGTERM/SIGINT."""
    from firmware_bridge.bridge import Bridge
    from firmware_bridge.radio import ax25
    from sync import sdnotify

    if config_path:
        from edge.config import load_for_cli

        config = load_for_cli(config_path)
        data_dir = data_dir or config.data_dir
        modem_port = modem_port or config.bridge.modem or None
        if radio is None and callsign is None:
            radio, callsign = config.bridge.radio or None, config.bridge.callsign or None
    if data_dir is None:
        raise click.UsageError("give --data-dir (or --config)")
    if modem_port is None and radio is None:
        raise click.UsageError("give --modem, --radio (with --callsign), or both")
    if (radio is None) != (callsign is None):
        raise click.UsageError("--radio and --callsign go together")
    if callsign is not None:
        try:
            callsign = ax25.normalise_call(callsign)
        except ax25.Ax25Error as exc:
            raise click.BadParameter(str(exc), param_hint="--callsign") from None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    daemon = Bridge(data_dir, modem_port, radio=(radio, callsign) if radio else None)
    daemon.start()
    sdnotify.notify("READY=1")
    sdnotify.start_watchdog(daemon.healthy, done)
    done.wait()
    sdnotify.notify("STOPPING=1")
    daemon.stop()

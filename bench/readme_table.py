"""The figures table, from bench/results.json: for `make bench`'s output and README's "Figures" section.

Why it exists: README must show the latest figures with the machine they came from, and a
test (tests/test_bench_readme.py) checks that README was updated from the committed
results.json. Both the printed table and README's markdown come from `rows()` here, so they
cannot drift apart. Standard library only: the test imports this file by path.

    .venv/bin/python bench/readme_table.py            # print the markdown section
    .venv/bin/python bench/readme_table.py --write    # replace it in README.md between the markers
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "README.md"
BEGIN = "<!-- bench:begin (bench/readme_table.py --write) -->"
END = "<!-- bench:end -->"

Row = tuple[str, str, str, str]  # measure, value, unit, reference measured in the same run


def _pp(s: dict, digits: int = 1) -> str:
    return f"{s['p50']:.{digits}f} / {s['p99']:.{digits}f}"


def rows(r: dict) -> list[Row]:
    """The table's rows from results.json's "figures" (a benchmark that failed or did not run is left out)."""
    f = r["figures"]
    out: list[Row] = []
    if (i := f.get("intake")) and "error" not in i:
        n = f"{i['preloaded']['incidents']:,} cases in the database, {i['takers']} call-takers"
        raw = f"raw SQLite commit, same disk: {_pp(i['raw_commit'], 2)} ms"
        failed = i.get("failed", {})

        def lat(key: str) -> str:
            bad = failed.get(key)
            return _pp(i[key]) + (f" ({bad} of {i[key]['n']} failed: 5xx)" if bad else "")

        out += [
            (f"intake API: create incident ({n})", lat("api_create"), "ms p50 / p99", raw),
            ("intake API: dispatch it", lat("api_dispatch"), "ms p50 / p99", raw),
            ("intake form: new call (POST /calls)", lat("form_call"), "ms p50 / p99", raw),
            ("intake form: create incident (POST, CSRF)", lat("form_create"), "ms p50 / p99", raw),
            ("intake form: dispatch it", lat("form_dispatch"), "ms p50 / p99", raw),
        ]
    if (p := f.get("posko")) and "error" not in p:
        raw = f"raw Mosquitto publish-to-subscribe, QoS 1, TLS: {_pp(p['raw_mqtt'], 2)} ms"
        out += [
            ("dispatch: click at posko to agency station's inbox, posko idle", _pp(p["dispatch_idle"]),
             "ms p50 / p99", raw),
            (f"dispatch: click to agency inbox, under load ({p['load']['takers']} call-takers)",
             _pp(p["dispatch_load"]), "ms p50 / p99", raw),
        ]
    if (s := f.get("sync")) and "error" not in s:
        c, w = s["catchup"], s["wire"]
        out += [
            (f"catch-up after an outage: {c['queued']} changes of {c['cases']} cases applied at central",
             f"{c['changes_per_s']:.0f}", "changes/s", f"raw Mosquitto QoS 1: {s['raw_qos1']['msgs_per_s']:.0f} msg/s"),
        ]
        if r := s.get("recovery"):
            out.append((f"posko rebuilt from central after a dead disk, no backup: {r['changes']} changes back",
                        f"{r['s']:.1f}", "s", f"{r['changes_per_s']:.0f} changes/s"))
        out += [
            (f"wire bytes per case lifecycle ({w['changes']} changes), one envelope", f"{w['one']}", "bytes",
             f"plain JSON of the rows: {w['plain']} B"),
            ("wire bytes per case lifecycle, one envelope per change", f"{w['each']}", "bytes",
             f"plain JSON of the rows: {w['plain']} B"),
        ]
    if (d := f.get("dispatch_size")) and "error" not in d:
        out += [
            ("SMS per dispatch, longest of 12 incident types", f"{d['max_sms_chars']}", "characters", "one SMS: 160"),
            ("radio per dispatch, longest AX.25 frame", f"{d['max_frame_bytes']}", "bytes", ""),
            ("radio airtime per dispatch at 1200 baud (+ ack)",
             f"{d['max_airtime_s']:.2f} (+ {d['ack_airtime_s']:.2f})", "s", ""),
        ]
    if p and "error" not in p:
        for name, what in (("web", "web (gunicorn, master + workers)"), ("sync", "sync daemon"),
                           ("bridge", "bridge with the modem")):
            out.append((f"posko {what}: RSS at rest / peak under load",
                        f"{p['rss_rest_mib'][name]:.0f} / {p['rss_load_mib'][name]:.0f}", "MiB", ""))
        for name, ready in (("web", "/healthz answers"), ("sync", "connected to the broker"),
                            ("bridge", "modem state written")):
            out.append((f"posko {name}: cold start to {ready}", f"{p['cold_start_s'][name]:.2f}", "s", ""))
    if (rep := f.get("report")) and "error" not in rep:
        calls = f"{rep['data']['calls']:,} calls"
        for key in ("monthly", "yearly", "pdf"):
            t = rep["times"][key]
            out.append((f"central: {t['name']} on {calls}", f"{t['median_s']:.2f}", "s (median)", ""))
    return out


def machine_line(r: dict) -> str:
    m = r["machine"]
    return (f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, disk {m['disk']}; {m['os']}, kernel "
            f"{m['kernel']}; Python {m['python']}, SQLite {m['sqlite']}, {m['mosquitto']}; {m['date']}"
            + (f", load average {m['loadavg_at_start']} at start" if "loadavg_at_start" in m else "")
            + (" (quick run)" if r.get("quick") else ""))


def markdown(r: dict) -> str:
    """README's section body: the machine, then the table."""
    lines = [f"Machine: {machine_line(r)}.", "", "| measure | value | unit | reference (same run) |",
             "|---|---:|---|---|"]
    lines += [f"| {m} | {v} | {u} | {ref} |" for m, v, u, ref in rows(r)]
    return "\n".join(lines)


def text(r: dict) -> str:
    """The table as `make bench` prints it."""
    table = rows(r)
    widths = [max(len(row[k]) for row in [("measure", "value", "unit", "reference"), *table]) for k in range(4)]
    out = [f"{'measure':<{widths[0]}}  {'value':>{widths[1]}}  {'unit':<{widths[2]}}  reference (same run)"]
    out += [f"{m:<{widths[0]}}  {v:>{widths[1]}}  {u:<{widths[2]}}  {ref}" for m, v, u, ref in table]
    return "\n".join(out) + f"\nmachine: {machine_line(r)}"


def readme_section(readme: str) -> str | None:
    """What README holds between the markers (None without them)."""
    if BEGIN not in readme or END not in readme:
        return None
    return readme.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--write", action="store_true", help="replace the section in README.md")
    args = parser.parse_args()
    r = json.loads(args.results.read_text(encoding="utf-8"))
    body = markdown(r)
    if not args.write:
        print(body)
        return
    readme = README.read_text(encoding="utf-8")
    if readme_section(readme) is None:
        sys.exit(f"README.md has no {BEGIN} ... {END} markers")
    head, rest = readme.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}", encoding="utf-8")
    print(f"README.md: figures from {args.results.name} ({r['machine']['date']})")


if __name__ == "__main__":
    main()

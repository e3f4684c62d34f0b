"""How big a dispatch is on SMS and on radio, for every incident type of the default profile.

For each incident type of the Bengkalis profile a realistic dispatch (long address with a
landmark, coordinates, victims) is rendered by firmware_bridge.dispatch_format and printed
with: characters of the SMS text (all GSM 7-bit basic characters, so 160 = one SMS),
bytes of the AX.25 frame as handed to the TNC (16-byte UI header + info field, which is the
text inside the ReliableChannel envelope "S1|<msgid>|"), and the airtime of that frame at
1200 baud: flags, header, info and FCS with a bit-stuffing estimate, plus TXDELAY 300 ms
and TXTAIL 100 ms (radio.ax25.airtime_seconds, which reproduces the figures measured with
two Dire Wolf TNCs in the shared radio notes: 256 info bytes 2.27 s).

    .venv/bin/python bench/dispatch_size.py [--show N]
"""

from __future__ import annotations

import argparse

from edge.profile import load_profile
from firmware_bridge.dispatch_format import DispatchMessage, place_text, render, short_type_name
from firmware_bridge.radio import ax25
from firmware_bridge.radio.link import new_msgid, pack_ack, pack_message

SECRET = b"bench-shared-secret-of-one-agency"
# type code -> (kecamatan, desa, address, landmark, lat, lon, victims, condition, 4-wheel access)
CASES: dict[int, tuple] = {
    1: ("Mandau", "Air Jamban", "Jalan Hang Tuah Gang Rukun Nomor 14, RT 03 RW 07", "depan Toko Bangunan Sinar Jaya",
        1.27103, 101.19482, 1, "sick", True),
    2: ("Bantan", "Selatbaru", "Pantai Selatbaru, perairan 2 mil dari dermaga nelayan", "Tugu Pantai Selatbaru",
        1.58712, 102.25031, 3, "unknown", False),
    3: ("Bengkalis", "Senggoro", "Jalan Pramuka Nomor 7, RT 02 RW 05, belakang pasar ikan lama",
        "Masjid Al-Ikhlas", 1.46710, 102.11020, 2, "injured", True),
    4: ("Bukit Batu", "Sungai Pakning", "Jalan Lintas Sungai Pakning - Dumai KM 12, tikungan Simpang Tiga",
        "SPBU 14.287.601", 1.33044, 102.16218, 4, "mixed", True),
    5: ("Bathin Solapan", "Balai Makam", "Jalan Sudirman Gang Keluarga Nomor 3, rumah cat hijau",
        "belakang Kantor Desa Balai Makam", 1.20987, 101.27714, 1, "injured", True),
    6: ("Pinggir", "Titian Antui", "Jalan Lintas Duri - Pekanbaru KM 8, pipa gas di tepi jalan",
        "dekat SD Negeri 12 Titian Antui", 1.06233, 101.22610, 0, "none", True),
    7: ("Bengkalis", "Kelapapati", "Jalan Ahmad Yani depan kantor camat, pohon angsana tumbang menutup jalan",
        "Kantor Camat Bengkalis", 1.47652, 102.09871, 1, "injured", True),
    8: ("Rupat", "Batu Panjang", "Kebun sawit warga Jalan Pesisir RT 01, ular sanca masuk kandang",
        "dekat Musholla Nurul Huda", 1.73018, 101.55421, 0, "none", False),
    9: ("Rupat Utara", "Tanjung Medang", "Dusun Pesisir RT 04, abrasi dan banjir rob merendam 20 rumah",
        "Pelabuhan Tanjung Medang", 2.10384, 101.70215, 0, "none", False),
    10: ("Siak Kecil", "Lubuk Muda", "Jembatan kayu Sungai Siak Kecil, lantai jembatan runtuh sebagian",
         "Sekolah Dasar Negeri 3 Lubuk Muda", 1.36125, 101.95873, 2, "injured", False),
    11: ("Bengkalis", "Damon", "Jalan Antara Gang Damai, warga lanjut usia hidup sendiri tidak makan 3 hari",
         "belakang Musholla Al-Falah", 1.45811, 102.12034, 1, "sick", True),
    12: ("Talang Muandau", "Koto Pait Beringin", "Jalan poros desa KM 4, longsoran tanah di badan jalan",
         "Simpang Perumahan Karyawan", 1.07455, 101.43311, 0, "unknown", True),
}


def run() -> dict:
    """Every incident type's dispatch: SMS characters, radio info/frame bytes, airtime; plus the ack frame."""
    profile = load_profile("bengkalis")
    rows, texts = [], {}
    for spec in profile.incident_types:
        kec, desa, address, landmark, lat, lon, victims, condition, four_wheel = CASES[spec.code]
        msg = DispatchMessage(
            "4821", "posko-bengkalis-2025-00123", spec.code, short_type_name(spec.name_id), spec.priority,
            kec, desa, place_text(address, landmark), lat, lon, victims, condition, four_wheel,
        )  # fmt: skip
        text = render(msg, SECRET)
        info = pack_message(new_msgid(), text.encode("ascii"))
        frame = ax25.encode_ui("DAMKAR-1", "POSKO1", info)
        texts[spec.code] = text
        rows.append({"type": spec.code, "name": msg.type_name, "sms_chars": len(text), "one_sms": len(text) <= 160,
                     "place_given": len(place_text(address, landmark)), "place_kept": len(text.split("\n")[3]),
                     "info_bytes": len(info), "frame_bytes": len(frame),
                     "airtime_s": round(ax25.airtime_seconds(len(info)), 3)})
    ack = pack_ack(new_msgid())
    return {"rows": rows, "texts": texts, "ack_info_bytes": len(ack), "ack_frame_bytes": ax25.HEADER_LEN + len(ack),
            "ack_airtime_s": round(ax25.airtime_seconds(len(ack)), 3),
            "max_sms_chars": max(r["sms_chars"] for r in rows), "max_frame_bytes": max(r["frame_bytes"] for r in rows),
            "max_airtime_s": max(r["airtime_s"] for r in rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show", type=int, default=3, help="also print the text of this incident type (0: none)")
    args = ap.parse_args()
    r = run()
    print(f"{'type':>4}  {'name':<15} {'SMS chars':>9} {'1 SMS':>5} {'place':>9} {'info B':>6} {'frame B':>7}"
          f" {'air s':>6}")
    for x in r["rows"]:
        print(f"{x['type']:>4}  {x['name']:<15} {x['sms_chars']:>9} {'yes' if x['one_sms'] else 'NO':>5}"
              f" {x['place_kept']:>4}/{x['place_given']:<4} {x['info_bytes']:>6} {x['frame_bytes']:>7}"
              f" {x['airtime_s']:>6.2f}")
    ack_air, worst = r["ack_airtime_s"], r["max_airtime_s"]
    print(f"\nplace = characters of 'address (landmark)' kept / given (abbreviated and cut to fit 160)."
          f"\nack frame: {r['ack_info_bytes']} info bytes, {r['ack_frame_bytes']} frame bytes, {ack_air:.2f} s on air."
          f"\ndispatch + ack, keyed time only: {worst + ack_air:.2f} s at worst; Dire Wolf adds 0.9-1.4 s of"
          f" clear-channel wait per transmission (shared radio notes).")
    if args.show:
        print(f"\nincident type {args.show} as sent:\n{r['texts'][args.show]}")


if __name__ == "__main__":
    main()

"""The report as named tables: what the XLSX (one sheet each), the CSV and the PDF print.

Why this exists: three exports show the same figures; flattening the report into tables
once, with typed columns, keeps them equal (a test reads the XLSX and the CSV back and
compares them with the report). Labels are in the language asked for (Indonesian by
default: the Bupati's report); keys and numbers never depend on the language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from central.reporting.model import NO_KECAMATAN, RegencyReport
from edge.i18n import pick, translate
from edge.services.figures import UNCLASSIFIED
from edge.timeutil import format_wib

KEY, LABEL, INT, PCT, SECONDS, TEXT = "key", "label", "int", "pct", "seconds", "text"


def _(text: str) -> str:
    """Mark a label for the message catalogue; translated when the table is built."""
    return text


@dataclass(frozen=True)
class Column:
    key: str  # stable, language-independent (CSV "ukuran" and XLSX header comment)
    title: str  # Indonesian catalogue key
    kind: str  # KEY, LABEL, INT, PCT (percent, one decimal), SECONDS (one decimal), TEXT


@dataclass(frozen=True)
class Table:
    key: str  # sheet name / CSV section
    title: str  # translated
    columns: tuple[Column, ...]
    rows: list[list[Any]]

    def headers(self, lang: str) -> list[str]:
        return [translate(c.title, lang) for c in self.columns]


def pct(share: float | None) -> float | None:
    return round(share * 100, 1) if share is not None else None


def secs(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def call_type_label(key: str, lang: str) -> str:
    return translate("Belum diklasifikasikan" if key == UNCLASSIFIED else key, lang)


def kecamatan_label(name: str, lang: str) -> str:
    return name if name != NO_KECAMATAN else translate("(tidak diisi)", lang)


def posko_label(posko: str | None, lang: str) -> str:
    return posko or translate("Seluruh kabupaten", lang)


def summary_rows(r: RegencyReport, lang: str) -> list[list[Any]]:
    return [
        ["periode", translate("Periode", lang), r.period.label(lang)],
        ["mulai", translate("Mulai (WIB)", lang), format_wib(r.period.start_utc, "%d-%m-%Y %H:%M")],
        ["selesai", translate("Selesai (WIB)", lang), format_wib(r.period.end_utc, "%d-%m-%Y %H:%M")],
        ["posko", translate("Posko", lang), posko_label(r.posko, lang)],
        ["profil", translate("Profil rute", lang), r.profile_id],
        ["dibuat", translate("Dibuat", lang), format_wib(r.generated_at, "%d-%m-%Y %H:%M")],
        ["panggilan", translate("Total panggilan", lang), r.calls_total],
        ["terklasifikasi", translate("Panggilan terklasifikasi", lang), r.calls_classified],
        ["tidak_ditindaklanjuti", translate("Tidak perlu ditindaklanjuti", lang), r.calls_non_actionable],
        ["persen_tidak_ditindaklanjuti", translate("Tidak perlu ditindaklanjuti (%)", lang),
         pct(r.non_actionable_share)],
        ["rasio_iseng", translate("Rasio panggilan iseng (%)", lang), pct(r.prank_ratio)],
        ["kasus", translate("Kasus tercatat", lang), r.incidents_total],
        ["penugasan", translate("Penugasan instansi", lang), r.dispatches_total],
        ["terbuka_akhir_periode", translate("Kasus masih terbuka di akhir periode", lang), r.open_at_end],
        ["respons_terukur", translate("Waktu respons: kasus terukur", lang), r.response.measured],
        ["respons_median_detik", translate("Waktu respons: median (detik)", lang), secs(r.response.median_seconds)],
        ["respons_p90_detik", translate("Waktu respons: persentil 90 (detik)", lang), secs(r.response.p90_seconds)],
    ]


def report_tables(r: RegencyReport, lang: str = "id") -> list[Table]:
    total = r.calls_total
    return [
        Table("ringkasan", translate("Ringkasan", lang),
              (Column("kunci", _("Kunci"), KEY), Column("ukuran", _("Ukuran"), LABEL),
               Column("nilai", _("Nilai"), TEXT)),
              summary_rows(r, lang)),
        Table("panggilan_per_jenis", translate("Panggilan per jenis", lang),
              (Column("jenis", _("Kode"), KEY), Column("nama", _("Jenis panggilan"), LABEL),
               Column("jumlah", _("Jumlah"), INT), Column("persen", _("Persen"), PCT)),
              [[c.key, call_type_label(c.key, lang), c.count, pct(c.count / total if total else None)]
               for c in r.calls_by_type]),
        Table("panggilan_per_jam", translate("Panggilan per jam (WIB)", lang),
              (Column("jam", _("Jam"), KEY), Column("nama", _("Jam (WIB)"), LABEL), Column("jumlah", _("Jumlah"), INT)),
              [[h.label, f"{h.label}:00-{h.label}:59", h.count] for h in r.calls_by_hour]),
        Table("penelepon_teratas", translate("Nomor penelepon terbanyak", lang),
              (Column("nomor", _("Nomor"), KEY), Column("nama", _("Nomor"), LABEL),
               Column("panggilan", _("Panggilan"), INT),
               Column("iseng", _("Iseng"), INT)),
              [[c.number, c.number, c.calls, c.pranks] for c in r.top_callers]),
        Table("kasus_per_jenis", translate("Kasus per jenis kejadian", lang),
              (Column("kode", _("Kode"), KEY), Column("nama", _("Jenis kejadian"), LABEL),
               Column("jumlah", _("Jumlah"), INT)),
              [[t.code, pick(t.name_id, t.name_en, lang), t.count] for t in r.incidents_by_type]),
        Table("kasus_per_kecamatan", translate("Kasus per kecamatan", lang),
              (Column("kecamatan", _("Kode"), KEY), Column("nama", _("Kecamatan"), LABEL),
               Column("jumlah", _("Jumlah"), INT)),
              [[k.key, kecamatan_label(k.key, lang), k.count] for k in r.incidents_by_kecamatan]),
        Table("penugasan_per_instansi", translate("Penugasan per instansi", lang),
              (Column("kode", _("Kode"), KEY), Column("nama", _("Instansi"), LABEL),
               Column("dikirim", _("Dikirim"), INT),
               Column("dikonfirmasi", _("Dikonfirmasi"), INT), Column("selesai", _("Selesai"), INT)),
              [[a.code, pick(a.name, a.name_en, lang), a.sent, a.acknowledged, a.finished]
               for a in r.dispatches_by_agency]),
        Table("kepatuhan_sop", translate("Kepatuhan waktu SOP", lang),
              (Column("langkah", _("Kode"), KEY), Column("nama", _("Langkah"), LABEL),
               Column("standar_detik", _("Standar (detik)"), INT), Column("terukur", _("Terukur"), INT),
               Column("sesuai_standar", _("Sesuai standar"), INT), Column("persen_sesuai", _("Persentase"), PCT),
               Column("median_detik", _("Median (detik)"), SECONDS),
               Column("p90_detik", _("Persentil 90 (detik)"), SECONDS),
               Column("berjalan", _("Berjalan"), INT)),
              [[c.key, f"{c.step}. {pick(c.name_id, c.name_en, lang)}", c.standard_seconds, c.measured, c.within,
                pct(c.share), secs(c.median_seconds), secs(c.p90_seconds), c.running] for c in r.compliance]),
        Table("per_posko", translate("Per posko", lang),
              (Column("posko", _("Posko"), KEY), Column("nama", _("Posko"), LABEL),
               Column("panggilan", _("Panggilan"), INT),
               Column("darurat", _("Darurat"), INT),
               Column("tidak_ditindaklanjuti", _("Tidak perlu ditindaklanjuti"), INT),
               Column("iseng", _("Iseng"), INT), Column("rasio_iseng", _("Rasio iseng (%)"), PCT),
               Column("kasus", _("Kasus"), INT), Column("penugasan", _("Penugasan"), INT),
               Column("terbuka", _("Terbuka di akhir periode"), INT),
               Column("respons_median_detik", _("Respons median (detik)"), SECONDS),
               Column("respons_p90_detik", _("Respons persentil 90 (detik)"), SECONDS)),
              [[p.node, p.node, p.calls, p.normal, p.non_actionable, p.pranks, pct(p.prank_ratio), p.incidents,
                p.dispatches, p.open_at_end, secs(p.response.median_seconds), secs(p.response.p90_seconds)]
               for p in r.per_posko]),
        Table("kasus_terbuka", translate("Kasus masih terbuka di akhir periode", lang),
              (Column("no_kasus", _("No. kasus"), KEY), Column("posko", _("Posko"), LABEL),
               Column("jenis", _("Jenis kejadian"), TEXT), Column("kecamatan", _("Kecamatan"), TEXT),
               Column("status", _("Status sekarang"), TEXT), Column("dicatat", _("Dicatat (WIB)"), TEXT)),
              [[o.case_no, o.node, pick(o.type_name_id, o.type_name_en, lang), kecamatan_label(o.kecamatan, lang),
                translate(o.status, lang), format_wib(o.recorded_at, "%d-%m-%Y %H:%M")] for o in r.open_cases]),
    ]

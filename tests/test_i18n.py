"""Indonesian by default, English on request, and no label without a translation."""

from __future__ import annotations

from edge.i18n import translate
from edge.i18n_extract import collect, missing


def test_every_ui_string_has_an_english_translation():
    assert len(collect()) > 100  # the extractor still finds the UI's strings
    assert missing("en") == []


def test_formatted_messages_are_translated_by_pattern():
    assert translate("Maksimal 200 karakter", "en") == "At most 200 characters"
    assert translate("Kasus {case_no} tercatat", "en", case_no="P-1") == "Case P-1 recorded"


def test_codes_have_indonesian_labels():
    assert translate("prank", "id") == "Iseng"
    assert translate("prank", "en") == "Prank"
    assert translate("en_route", "id") == "Berangkat"

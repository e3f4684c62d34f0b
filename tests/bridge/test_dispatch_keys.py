"""Dispatch keys from the regency PKI: posko and central can key every agency's dispatches,
a station only its own; a node never enrolled keys them with its own secret."""

from __future__ import annotations

import json

import pytest

from sync import dispatch_keys
from sync.pki import init_ca, install_bundle, issue_node, load_bundle


@pytest.fixture
def enrolled(tmp_path):
    pki = tmp_path / "pki"
    init_ca(pki, "Diskominfotik Test")
    nodes = {}
    for node_id, role, agency in (("central", "central", None), ("posko-a", "posko", None),
                                  ("damkar-1", "agency", "DAMKAR")):
        bundle = load_bundle(issue_node(pki, node_id, role, agency))
        install_bundle(bundle, tmp_path / node_id / "sync")
        nodes[node_id] = tmp_path / node_id
    return pki, nodes


def test_posko_and_station_share_the_agency_key_and_the_station_holds_nothing_else(enrolled):
    pki, nodes = enrolled
    posko_key = dispatch_keys.key_for(nodes["posko-a"], "DAMKAR")
    assert posko_key == dispatch_keys.key_for(nodes["damkar-1"], "damkar")
    assert posko_key == dispatch_keys.agency_key(dispatch_keys.master_key(pki), "DAMKAR")
    assert dispatch_keys.key_for(nodes["posko-a"], "POLRES") != posko_key
    with pytest.raises(dispatch_keys.NoDispatchKey):
        dispatch_keys.key_for(nodes["damkar-1"], "POLRES")
    station_file = json.loads((nodes["damkar-1"] / "sync" / dispatch_keys.NODE_FILE).read_text())
    assert "master" not in station_file
    assert (nodes["damkar-1"] / "sync" / dispatch_keys.NODE_FILE).stat().st_mode & 0o077 == 0


def test_two_regencies_do_not_share_keys(enrolled, tmp_path):
    _, nodes = enrolled
    other = tmp_path / "other-pki"
    init_ca(other, "Another regency")
    assert dispatch_keys.master_key(other) != dispatch_keys.master_key(tmp_path / "pki")


def test_a_node_never_enrolled_uses_its_own_secret(tmp_path):
    (tmp_path / "secret_key").write_text("abc")
    key = dispatch_keys.key_for(tmp_path, "DAMKAR")
    assert key == dispatch_keys.key_for(tmp_path, "DAMKAR") and len(key) == 32
    (tmp_path / "secret_key").write_text("xyz")
    assert dispatch_keys.key_for(tmp_path, "DAMKAR") != key


def test_a_corrupt_key_file_is_an_error_not_a_silent_fallback(enrolled):
    _, nodes = enrolled
    (nodes["posko-a"] / "sync" / dispatch_keys.NODE_FILE).write_text("{not json")
    with pytest.raises(dispatch_keys.NoDispatchKey):
        dispatch_keys.key_for(nodes["posko-a"], "DAMKAR")

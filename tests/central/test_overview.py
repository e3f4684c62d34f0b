"""Central's live overview: every open case of every posko on one board, node sync state, SOP breaches."""

from __future__ import annotations

from datetime import timedelta

from edge.models import Call, Dispatch, Incident, User
from edge.services import calls as call_svc
from edge.services import incidents as incident_svc
from edge.services.sop import TimerState
from edge.timeutil import utcnow
from sync.models import SyncPeer


def seed_case(posko: str, minutes_ago: float, *, itype: int = 1, desa: str = "Pematang Duku",
              kecamatan: str = "Bengkalis", lat: float | None = 1.466, lon: float | None = 102.11,
              agencies: tuple[str, ...] = ("DAMKAR",), sent_after: int = 60) -> Incident:
    """A case recorded through the real services, then moved into the past and handed to `posko`
    (as sync would deliver it): call rung `minutes_ago`, answered 10 s later, recorded 60 s later,
    agencies dispatched `sent_after` s after recording and not yet acknowledged."""
    user = User.get(User.username == "supervisor")
    call = call_svc.start_call(user, {"caller_number": "081277001122"})
    data = {"incident_type": str(itype), "desa": desa, "kecamatan": kecamatan}
    if lat is not None:
        data.update(latitude=str(lat), longitude=str(lon))
    inc = incident_svc.create_incident(user, data, call_id=call.id).incident
    if agencies:
        incident_svc.dispatch_agencies(user, inc.id, list(agencies))
    rung = utcnow() - timedelta(minutes=minutes_ago)
    recorded = rung + timedelta(seconds=70)
    Call.update(rung_at=rung, answered_at=rung + timedelta(seconds=10), node=posko).where(Call.id == call.id).execute()
    case_no = inc.case_no.replace("central", posko, 1)  # as the posko would have numbered it
    Incident.update(recorded_at=recorded, node=posko, case_no=case_no).where(Incident.id == inc.id).execute()
    Dispatch.update(sent_at=recorded + timedelta(seconds=sent_after), node=posko).where(
        Dispatch.incident == inc.id).execute()
    return Incident.get_by_id(inc.id)


def test_board_shows_every_posko_case_with_age_dispatches_and_breach(login):
    late = seed_case("posko-a", 30)  # Damkar unconfirmed for ~28 min: confirm step (5 min) breached
    fresh = seed_case("posko-b", 1, itype=1, kecamatan="Rupat", desa="Batu Panjang", lat=None, agencies=())
    html = login("pusat").get("/pusat/").get_data(as_text=True)
    assert f'data-case="{late.case_no}" data-posko="posko-a" data-breaches="' in html
    assert f'data-case="{fresh.case_no}" data-posko="posko-b" data-breaches="0"' in html
    row = html.split(f'data-case="{late.case_no}"')[1].split("</tr>")[0]
    assert 'data-agency="DAMKAR"' in row and "breach-flag" in row and "0:28" in row  # age h:mm since recorded
    assert 'data-step="confirm" data-state="red"' in row
    assert "Rupat" in html and "tanpa koordinat" in html


def test_breach_count_counts_timers_past_standard(login, app):
    seed_case("posko-a", 30)
    seed_case("posko-a", 2)  # contact done in 60 s, confirm waiting 1 min: nothing past standard
    from central.overview.service import BREACHED, build_overview

    ov = build_overview()
    expected = sum(1 for c in ov.cases for t in c.row.timers if t.state in (TimerState.RED, TimerState.LATE))
    assert ov.breach_count == expected >= 1 and ov.breached_cases == 1
    assert set(BREACHED) == {TimerState.RED, TimerState.LATE}
    html = login("supervisor").get("/pusat/baris").get_data(as_text=True)
    assert f'data-figure="breaches">{ov.breach_count}<' in html
    assert 'data-figure="open">2<' in html


def test_nodes_show_sync_state_backlog_and_last_contact(login):
    seed_case("posko-a", 5)
    contact = utcnow() - timedelta(minutes=3)
    SyncPeer.create(node="posko-b", online=False, last_received_at=contact)
    SyncPeer.create(node="damkar-1", online=True, last_acked_at=contact)
    html = login("pusat").get("/pusat/baris").get_data(as_text=True)
    nodes = html.split('id="overview-nodes"')[1]
    assert 'data-node="damkar-1" data-online="1"' in nodes
    assert 'data-node="posko-b" data-online="0"' in nodes
    assert 'data-node="posko-a" data-online="0"' in nodes and "belum pernah" in nodes  # seen only through its case
    assert 'data-figure="offline">2/3<' in html


def test_nodes_show_a_rejoin_in_progress_and_changes_held_back(login):
    from edge.services import set_setting
    from sync.models import SyncPending
    from sync.rejoin import RETURN_PREFIX

    SyncPeer.create(node="posko-a", online=True)
    SyncPeer.create(node="posko-b", online=True)
    set_setting(RETURN_PREFIX + "posko-a", '{"above": 10, "below": 1000010, "until_id": 99}')
    for seq in (1, 2):
        SyncPending.create(origin="posko-b", origin_seq=seq, via="posko-b", change="[]", reason="reused")
    nodes = login("pusat").get("/pusat/baris").get_data(as_text=True).split('id="overview-nodes"')[1]
    row_a = nodes.split('data-node="posko-a"')[1].split("</tr>")[0]
    row_b = nodes.split('data-node="posko-b"')[1].split("</tr>")[0]
    assert 'data-rejoining="1"' in row_a and "data-parked" not in row_a
    assert 'data-parked="2"' in row_b and "data-rejoining" not in row_b


def test_board_refreshes_itself_and_only_central_roles_see_it(login):
    html = login("pusat").get("/pusat/").get_data(as_text=True)
    assert 'hx-get="/pusat/baris"' in html and "data-poll" in html and "<script>" not in html
    for username in ("operator", "damkar"):
        assert login(username).get("/pusat/baris").status_code == 403


def test_map_cases_are_geojson_of_located_open_cases(login):
    late = seed_case("posko-a", 30, lat=1.47, lon=102.1)
    seed_case("posko-b", 1, lat=None)
    data = login("pusat").get("/pusat/peta/kasus.json").get_json()
    assert data["open_cases"] == 2 and data["breaches"] >= 1
    [feature] = data["features"]
    assert feature["geometry"]["coordinates"] == [102.1, 1.47]
    props = feature["properties"]
    assert props["case_no"] == late.case_no and props["posko"] == "posko-a" and props["breaches"] >= 1
    assert props["url"] == f"/incidents/{late.id}" and props["priority"] == late.priority

"""The whole 112 procedure as two people in a real browser: call-taker and Damkar dispatcher."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login_page

pytestmark = pytest.mark.browser


def take_fire_call_by_keyboard(page, shots) -> str:
    """Alt+N, then the intake form from the keyboard alone; returns the incident URL."""
    page.keyboard.press("Alt+n")
    page.wait_for_url(re.compile(r"/calls/"))
    expect(page.locator("#incident_type")).to_be_focused()
    page.keyboard.type("3")  # 3. Kebakaran …
    for value in ("Pak Rahman", "081277001122", "Bengkalis", "Senggoro", "Masjid Al-Ikhlas",
                  "Jl. Pramuka No. 7", "1.4671", "102.1102", "2"):
        page.keyboard.press("Tab")
        page.keyboard.type(value)
    page.keyboard.press("Tab")  # victims condition
    page.keyboard.type("L")  # Luka
    page.keyboard.press("Tab")
    page.keyboard.type("y")  # four-wheel access: ya
    page.keyboard.press("Tab")  # priority: keep the type's default
    page.keyboard.press("Tab")
    page.keyboard.type("Warga sudah memakai APAR")
    page.keyboard.press("Tab")
    page.keyboard.type("Rumah kayu terbakar, api menjalar ke rumah sebelah")
    page.screenshot(path=str(shots / "intake.png"), full_page=True)
    page.keyboard.press("Alt+s")
    page.wait_for_url(re.compile(r"/incidents/"))
    return page.url.split("#")[0]


def test_whole_procedure_call_taker_and_damkar(server, browser, shots):
    """Call-taker takes a fire call and dispatches; Damkar is alerted, acknowledges and
    finishes; the call-taker closes the case."""
    page = login_page(browser, server, "operator")
    expect(page).to_have_url(re.compile(r"/board$"))
    incident_url = take_fire_call_by_keyboard(page, shots)
    expect(page.locator("#incident-status")).to_have_attribute("data-status", "recorded")
    checked = page.locator("input[name=agencies]:checked")
    codes = sorted(checked.evaluate_all("els => els.map(e => e.value)"))
    assert codes == sorted(["DINKES", "DAMKAR", "DISHUB", "SATPOLPP", "POLRES", "PLN", "BPBD"])
    page.click("#send-dispatch")
    expect(page.locator("#incident-status")).to_have_attribute("data-status", "dispatched")
    expect(page.locator("tr[data-agency=DAMKAR]")).to_have_attribute("data-status", "sent")
    page.goto(server + "/board")
    row = page.locator("tr[data-case]").first
    expect(row).to_contain_text("Senggoro")
    expect(row.locator("[data-step=confirm]")).to_have_attribute("data-state", re.compile("green|amber|red"))
    page.screenshot(path=str(shots / "board.png"), full_page=True)

    # The Damkar dispatcher, on another machine: the alert, then each status.
    station = login_page(browser, server, "damkar")
    expect(station).to_have_url(re.compile(r"/agency/inbox"))
    expect(station.locator("[data-new-dispatches]")).to_have_attribute("data-new-dispatches", "1")
    expect(station.locator(".alert-banner")).to_be_visible()
    expect(station).to_have_title(re.compile(r"^\(1\) "))
    card = station.locator("article.inbox-item.new").first
    expect(card).to_contain_text("Senggoro")
    station.screenshot(path=str(shots / "agency-inbox.png"), full_page=True)
    card.locator("button[data-action=acknowledged]").click()
    expect(station.locator("[data-new-dispatches]")).to_have_attribute("data-new-dispatches", "0")
    card = station.locator("article.inbox-item[data-status=acknowledged]").first
    card.locator("input[name=crew_count]").fill("6")
    card.locator("input[name=equipment]").fill("1 mobil pemadam, 1 tangki air")
    card.locator("button[data-action=prepared]").click()
    for status in ("en_route", "on_scene"):
        station.locator(f"button[data-action={status}]").first.click()
        expect(station.locator("article.inbox-item").first).to_have_attribute("data-status", status)
    finish = station.locator("form.act-finished").first
    finish.locator("textarea, input[name=report]").first.fill("Api padam pukul 15.40, 2 rumah rusak")
    finish.locator("button[data-action=finished]").click()

    # Back at the posko: the timeline shows the agency's steps; the call-taker closes.
    page.goto(incident_url)
    expect(page.locator("tr[data-agency=DAMKAR]")).to_have_attribute("data-status", "finished")
    for kind in ("dispatch.acknowledged", "dispatch.prepared", "dispatch.en_route", "dispatch.on_scene",
                 "dispatch.finished"):
        expect(page.locator(f"#timeline li[data-kind='{kind}']")).to_have_count(1)
    page.fill("textarea[name=final_report]", "Kebakaran padam, korban dirawat di RSUD Bengkalis")
    page.click("#close button[type=submit]")
    expect(page).to_have_url(re.compile(r"/board$"))
    page.goto(server + "/archive?q=Senggoro")
    expect(page.locator("#archive-results")).to_contain_text("Kebakaran")


def test_prank_call_in_one_action(server, browser):
    page = login_page(browser, server, "operator")
    page.keyboard.press("Alt+n")
    page.wait_for_url(re.compile(r"/calls/"))
    page.keyboard.press("Alt+p")
    page.wait_for_url(re.compile(r"/board$"))
    expect(page.locator(".flash-info")).to_contain_text("Iseng")

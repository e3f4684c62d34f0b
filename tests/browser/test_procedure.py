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


def test_call_taker_records_and_dispatches_fire(server, browser, shots):
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
    assert incident_url.startswith(server)


def test_prank_call_in_one_action(server, browser):
    page = login_page(browser, server, "operator")
    page.keyboard.press("Alt+n")
    page.wait_for_url(re.compile(r"/calls/"))
    page.keyboard.press("Alt+p")
    page.wait_for_url(re.compile(r"/board$"))
    expect(page.locator(".flash-info")).to_contain_text("Iseng")

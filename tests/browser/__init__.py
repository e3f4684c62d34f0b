"""Browser tests: Playwright driving Debian's Chromium against a real `siaga112 serve`."""

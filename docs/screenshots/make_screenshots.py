"""Screenshots of the main pages at 1280 px and 390 px (a phone), for the README.

    make run                                               # the demo, in one terminal
    .venv/bin/python docs/screenshots/make_screenshots.py  # in another (--url to point elsewhere)

Signs in as the demo users (``seed_demo --with-demo-users``) with Playwright driving Debian's
Chromium (/usr/bin/chromium) and writes ``<page>-1280.png`` and ``<page>-390.png`` beside this
file: the visible window only (not the whole page), so the files stay small."""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
PASSWORDS = {"staff": "clearance-staff", "auditor": "clearance-auditor"}
WIDTHS = {1280: 900, 390: 844}
# (file name, role, path)
PAGES = [
    ("dashboard", "staff", "/"),
    ("releases", "staff", "/releases/"),
    ("release", "staff", "/releases/frontier-2/"),
    ("release-suspended", "staff", "/releases/atlas-1/"),
    ("requests", "staff", "/requests/"),
    ("allowlist", "staff", "/allowlist/?release=atlas-1-mini"),
    ("audit", "auditor", "/audit/"),
    ("reminders", "auditor", "/reminders/"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        for width, height in WIDTHS.items():
            contexts = {}
            for name, role, path in PAGES:
                if role not in contexts:
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    page.goto(f"{base}/login/")
                    page.fill("#id_username", role)
                    page.fill("#id_password", PASSWORDS[role])
                    page.click("button[type=submit]")
                    page.wait_for_url(f"{base}/")
                    contexts[role] = page
                page = contexts[role]
                page.goto(f"{base}{path}")
                out = HERE / f"{name}-{width}.png"
                page.screenshot(path=str(out))
                print(out.relative_to(HERE.parent.parent))
            for page in contexts.values():
                page.context.close()
        browser.close()


if __name__ == "__main__":
    main()

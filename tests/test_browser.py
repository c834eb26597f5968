"""Open the built site in a real browser: Debian's headless Chromium, driven by Selenium.

The site is served on 127.0.0.1 by a thread of this process. The test skips, saying
why, where Chromium or its driver is not installed (``apt-get install chromium
chromium-driver``; ``.ci/run`` does it) or where the site is not built.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sitecheck import SITE

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
CHAPTERS = sorted(p.stem for p in (ROOT / "book" / "en").glob("*.md")
                  if "kernelspec:" in p.read_text(encoding="utf-8")[:2000])

if not (SITE / "index.html").exists():
    if os.environ.get("EBM_REQUIRE_SITE") == "1":
        raise RuntimeError(f"{SITE} is missing: run `make book` before these tests")
    pytest.skip("the site is not built: run `make book` first", allow_module_level=True)
if not (CHROMIUM and DRIVER):
    pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base_url():
    handler = functools.partial(_Quiet, directory=str(SITE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="ebm-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def loaded_figures(driver) -> tuple[int, list[str]]:
    """How many figures the article shows, and the ones that failed to load."""
    images = driver.execute_script(
        "return Array.from(document.querySelectorAll('article img'))"
        ".map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0]);")
    return len(images), [src for src, ok in images if not ok]


def wait_ready(driver):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


@pytest.mark.parametrize("page", CHAPTERS)
def test_switcher_leads_to_the_twin_and_figures_load(browser, base_url, page):
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/en/{page}.html")
    wait_ready(browser)
    assert browser.execute_script("return document.documentElement.lang") == "en"
    count, broken = loaded_figures(browser)
    assert count > 0 and not broken, f"{count} figures, broken: {broken}"

    browser.find_element(By.CSS_SELECTOR, "a.ebm-lang-switcher").click()
    wait_ready(browser)
    assert browser.current_url == f"{base_url}/fr/{page}.html"
    assert browser.execute_script("return document.documentElement.lang") == "fr"
    count_fr, broken = loaded_figures(browser)
    assert count_fr == count and not broken, f"{count_fr} figures, broken: {broken}"

    # exercise feedback is stored in both languages: the French page shows the French one
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('.ebm-feedback-msg'))"
        ".filter(e => getComputedStyle(e).display !== 'none').map(e => e.lang);")
    assert shown and set(shown) == {"fr"}, shown

    browser.find_element(By.CSS_SELECTOR, "a.ebm-lang-switcher").click()
    wait_ready(browser)
    assert browser.current_url == f"{base_url}/en/{page}.html"


def test_landing_page_offers_both_editions(browser, base_url):
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/")
    wait_ready(browser)
    browser.find_element(By.CSS_SELECTOR, 'a[hreflang="fr"]').click()
    wait_ready(browser)
    assert browser.current_url == f"{base_url}/fr/intro.html"
    assert browser.execute_script("return document.documentElement.lang") == "fr"

"""Open the built site in a real browser: Debian's headless Chromium, driven by Selenium.

The site is served on 127.0.0.1 by a thread of this process, and Chromium's network is
cut (every host name but 127.0.0.1 fails to resolve, and any proxied request goes to a
closed port): what a page needs must come with the site. The test skips, saying why,
where Chromium or its driver is not installed (``apt-get install chromium
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
from sitecheck import SITE as BUILT_SITE

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("EBM_SITE") or BUILT_SITE)  # another copy of the site to check
LANGS = ("en", "fr")
# with these, Chromium reaches 127.0.0.1 and nothing else
NO_NETWORK = ("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
              "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=127.0.0.1")
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


def _serve(directory: Path):
    handler = functools.partial(_Quiet, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def base_url():
    yield from _serve(SITE)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="ebm-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                 f"--user-data-dir={profile}", *NO_NETWORK):
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


# --------------------------------------------------------------------------------------------------
# Formulas: typeset by the MathJax served with the site, with no network
# --------------------------------------------------------------------------------------------------

_MATHS_STATE = r"""
const done = arguments[arguments.length - 1];
const t0 = Date.now();
function report(status) {
  // text a reader sees that still holds a TeX delimiter (code and typeset maths excepted)
  const skip = 'script, style, pre, code, textarea, .highlight, mjx-container';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (el && el.closest(skip)) continue;
    const m = n.data.search(/\\\(|\\\[|\$\$/);
    if (m >= 0) raw.push(n.data.substr(Math.max(0, m - 20), 60).trim());
  }
  // the maths wrappers Sphinx writes (span.math, div.math) that MathJax left untypeset
  const untypeset = Array.from(document.querySelectorAll('span.math, div.math'))
    .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60));
  const errors = Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]'))
    .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 60));
  // each formula's MathML: an <merror>, or a macro MathJax did not know (its noundefined
  // package writes the name in red), with the TeX it came from
  const undefinedMacros = [];
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.document && mj.startup.toMML) {
    for (const item of mj.startup.document.math) {
      const mml = mj.startup.toMML(item.root);
      if (/<merror/.test(mml)) errors.push(item.math);
      if (/<mtext[^>]*mathcolor="red"/.test(mml)) undefinedMacros.push(item.math);
    }
  }
  const failedFonts = Array.from(document.fonts).filter(f => f.status === 'error')
    .map(f => f.family);
  done({status, raw, untypeset, errors, undefinedMacros, failedFonts,
        containers: document.querySelectorAll('mjx-container').length});
}
(function wait() {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    mj.startup.promise.then(() => document.fonts.ready).then(() => report('typeset'),
                                                             e => report('failed: ' + e));
  } else if (Date.now() - t0 > 3000) {  // deferred scripts ran before 'complete': 3 s is ample
    report('MathJax did not load');
  } else {
    setTimeout(wait, 100);
  }
})();
"""


def maths_problems(driver) -> list[str]:
    """What is wrong with the formulas of the open page (empty: all typeset).

    Waits for MathJax to finish (or, once the page is loaded, 3 s for it to appear), then
    looks for TeX delimiters left in the text, maths wrappers without typeset maths, MathJax
    error nodes, macros MathJax did not know, fonts that failed to load, and a page with no
    typeset maths.
    """
    driver.set_script_timeout(60)
    state = driver.execute_async_script(_MATHS_STATE)
    problems = [] if state["status"] == "typeset" else [state["status"]]
    if not state["containers"]:
        problems.append("no typeset formula (no mjx-container)")
    for key, what in (("raw", "raw TeX in the text"), ("untypeset", "untypeset maths"),
                      ("errors", "MathJax error"), ("undefinedMacros", "undefined macro"),
                      ("failedFonts", "font failed to load")):
        problems += [f"{what}: {item!r}" for item in state[key][:5]]
    return problems


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", CHAPTERS)
def test_formulas_are_typeset_offline(browser, base_url, lang, page):
    browser.get(f"{base_url}/{lang}/{page}.html")
    wait_ready(browser)
    assert maths_problems(browser) == []


_BROKEN_PAGES = {
    # MathJax from a CDN, which the cut network cannot reach
    "cdn.html": '<script defer src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js">'
                '</script><p>Energy <span class="math">\\(E(y) = \\|y\\|^2\\)</span>.</p>',
    # no MathJax at all
    "none.html": '<p>Energy <span class="math">\\(E(y)\\)</span> and</p>'
                 '<div class="math">\\[z = \\mu(y)\\]</div>',
    # the local MathJax, a TeX error (double exponent) and an unknown macro
    "error.html": '<script defer src="en/_static/mathjax/tex-mml-chtml.js"></script>'
                  '<p><span class="math">\\(x^1^2\\)</span> and '
                  '<span class="math">\\(\\nosuchmacro x\\)</span></p>',
    "good.html": '<script defer src="en/_static/mathjax/tex-mml-chtml.js"></script>'
                 '<p>Energy <span class="math">\\(E(y) = \\|y\\|^2\\)</span>.</p>',
}


def test_maths_check_fails_on_broken_pages(browser, tmp_path):
    """The check above, shown failing: MathJax from a CDN, no MathJax, a TeX error."""
    (tmp_path / "en").symlink_to(SITE / "en", target_is_directory=True)
    for name, body in _BROKEN_PAGES.items():
        (tmp_path / name).write_text(f"<!doctype html><html><body>{body}</body></html>")
    server = _serve(tmp_path)
    url = next(server)
    try:
        found = {}
        for name in _BROKEN_PAGES:
            browser.get(f"{url}/{name}")
            wait_ready(browser)
            found[name] = maths_problems(browser)
    finally:
        next(server, None)
    assert found["good.html"] == []
    for name in ("cdn.html", "none.html"):
        assert "MathJax did not load" in found[name], found[name]
        assert any(p.startswith("raw TeX") for p in found[name]), found[name]
    assert any(p.startswith("MathJax error") for p in found["error.html"]), found["error.html"]
    assert any("nosuchmacro" in p for p in found["error.html"]), found["error.html"]

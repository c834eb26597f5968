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


# --------------------------------------------------------------------------------------------------
# Search, download, light/dark switch, animations, sliders, screenshots: all offline
# --------------------------------------------------------------------------------------------------

PAGES = sorted(p.stem for p in (SITE / "en").glob("*.html"))  # every page of an edition
SCREENSHOTS = ROOT / "_build" / "screenshots"
# a word the prose of each edition uses, and that search must find in a chapter
SEARCH_WORDS = [("en", "shrinkage"), ("fr", "rétrécissement"), ("fr", "parcimonieux")]


def wait_for(driver, condition, timeout=20):
    """Wait until ``condition(driver)`` is truthy (its value) or fail saying what timed out."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def search_results(driver, base_url: str, lang: str, word: str) -> list[str]:
    """The pages the edition's search page lists for ``word`` (waits for Sphinx to finish)."""
    from urllib.parse import quote

    driver.get(f"{base_url}/{lang}/search.html?q={quote(word)}")
    wait_ready(driver)
    # Sphinx writes a summary paragraph once the search is over (found or not)
    wait_for(driver, lambda d: d.execute_script(
        "const s = document.querySelector('#search-results .search-summary, "
        "#search-results p'); return !!(s && s.textContent.trim());"), timeout=30)
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#search-results ul.search li a'))"
        ".map(a => a.href);")


@pytest.mark.parametrize(("lang", "word"), SEARCH_WORDS)
def test_search_finds_a_word_of_the_edition(browser, base_url, lang, word):
    hits = search_results(browser, base_url, lang, word)
    chapters = {f"{base_url}/{lang}/{page}.html" for page in CHAPTERS}
    assert any(h.split("#")[0].split("?")[0] in chapters for h in hits), hits


def download_problems(driver, page_url: str) -> list[str]:
    """What is wrong with the open page's notebook download (empty: it works)."""
    import json
    import urllib.request

    driver.get(page_url)
    wait_ready(driver)
    links = driver.execute_script(
        "return Array.from(document.querySelectorAll('.dropdown-download-buttons a'))"
        ".map(a => a.href).filter(h => h.endsWith('.ipynb'));")
    if not links:
        return ["the download button offers no .ipynb"]
    problems = []
    for link in links:
        try:
            with urllib.request.urlopen(link, timeout=10) as reply:
                status, body = reply.status, reply.read()
        except OSError as err:
            problems.append(f"{link}: {err}")
            continue
        try:
            notebook = json.loads(body)
        except ValueError:
            problems.append(f"{link}: not JSON")
            continue
        if status != 200 or not isinstance(notebook.get("cells"), list) or "nbformat" not in notebook:
            problems.append(f"{link}: HTTP {status}, not a notebook")
    return problems


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", CHAPTERS)
def test_download_button_offers_the_notebook(browser, base_url, lang, page):
    assert download_problems(browser, f"{base_url}/{lang}/{page}.html") == []


_THEME_STATE = ("const h = document.documentElement;"
                "return [h.dataset.theme || '', h.dataset.mode || '',"
                " getComputedStyle(document.body).backgroundColor];")


def theme_switch_problems(driver, page_url: str) -> list[str]:
    """Click the theme button until the theme changes: what is wrong (empty: it works)."""
    from selenium.common.exceptions import NoSuchElementException
    from selenium.webdriver.common.by import By

    driver.get(page_url)
    wait_ready(driver)
    driver.execute_script("localStorage.clear();")
    before = driver.execute_script(_THEME_STATE)
    try:
        button = driver.find_element(By.CSS_SELECTOR, ".theme-switch-button")
    except NoSuchElementException:
        return ["no theme button"]
    for _ in range(3):  # the button cycles through light, dark and auto
        if not button.is_displayed():
            return ["the theme button is hidden"]
        button.click()
        after = driver.execute_script(_THEME_STATE)
        if after[0] != before[0]:
            break
    else:
        return [f"the theme stays {before[0]!r}"]
    if after[2] == before[2]:
        return [f"the background stays {before[2]} in the {after[0]} theme"]
    return []


@pytest.mark.parametrize("lang", LANGS)
def test_light_dark_switch_changes_the_theme(browser, base_url, lang):
    assert theme_switch_problems(browser, f"{base_url}/{lang}/intro.html") == []


def animation_problems(driver, page_url: str, timeout: float = 10) -> list[str]:
    """Press play on each matplotlib animation: does its frame change? (empty: yes)"""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By

    driver.get(page_url)
    wait_ready(driver)
    players = driver.find_elements(By.CSS_SELECTOR, ".animation")
    if not players:
        return ["no animation player"]
    problems = []
    for n, player in enumerate(players):
        image = player.find_element(By.CSS_SELECTOR, "img")
        first = image.get_attribute("src")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", player)
        player.find_element(By.CSS_SELECTOR, "button[title='Play']").click()
        try:
            wait_for(driver, lambda d, image=image, first=first: image.get_attribute("src") != first,
                     timeout=timeout)
        except TimeoutException:
            problems.append(f"animation {n}: the frame does not change after Play")
        player.find_element(By.CSS_SELECTOR, "button[title='Pause']").click()
    return problems


@pytest.mark.parametrize("lang", LANGS)
def test_animations_play(browser, base_url, lang):
    assert animation_problems(browser, f"{base_url}/{lang}/ista-fista.html") == []


_WIDGET_STATE = r"""
const views = Array.from(document.querySelectorAll(
  'script[type="application/vnd.jupyter.widget-view+json"]'));
return views.map(s => {
  const box = s.parentElement;
  const text = box.innerText.trim();
  return {rendered: !!box.querySelector('.widget-slider, .jupyter-widgets, .lm-Widget'),
          slider: !!box.querySelector('.widget-slider, input[type=range], .noUi-target, .slider'),
          loading: /loading/i.test(text), text: text.slice(0, 60)};
});
"""


def widget_problems(driver, page_url: str, timeout: float = 20) -> list[str]:
    """Each widget of the page renders with a slider, or the page has its static figure."""
    from selenium.common.exceptions import TimeoutException

    driver.get(page_url)
    wait_ready(driver)
    try:  # the embed manager renders the widgets after load
        wait_for(driver, lambda d: all(v["rendered"] for v in d.execute_script(_WIDGET_STATE)),
                 timeout=timeout)
    except TimeoutException:
        pass
    views = driver.execute_script(_WIDGET_STATE)
    if not views:
        return ["no widget on the page"]
    problems = []
    for n, view in enumerate(views):
        if view["loading"]:
            problems.append(f"widget {n} shows a loading text: {view['text']!r}")
        if not (view["rendered"] and view["slider"]):
            problems.append(f"widget {n} is an empty box: {view['text']!r}")
    return problems


@pytest.mark.parametrize("lang", LANGS)
def test_sliders_render(browser, base_url, lang):
    assert widget_problems(browser, f"{base_url}/{lang}/vae.html") == []


def save_full_page(driver, path: Path):
    """A PNG of the whole page, not only the window (Chromium's DevTools protocol)."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip, "optimizeForSpeed": True})
    path.write_bytes(base64.b64decode(shot["data"]))


@pytest.mark.parametrize("lang", LANGS)
def test_screenshot_of_every_page_in_each_theme(browser, base_url, lang):
    """For a person to look at: _build/screenshots/<lang>-<page>-<theme>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for page in PAGES:
        browser.get(f"{base_url}/{lang}/{page}.html")
        wait_ready(browser)
        for theme in ("light", "dark"):
            browser.execute_script(
                "document.documentElement.dataset.theme = arguments[0];"
                "document.documentElement.dataset.mode = arguments[0];", theme)
            path = SCREENSHOTS / f"{lang}-{page}-{theme}.png"
            save_full_page(browser, path)
            assert path.stat().st_size > 5000, path


def test_new_checks_fail_on_broken_pages(browser, tmp_path):
    """The checks above, shown failing on copies of a page with a part removed or broken."""
    import re

    page = (SITE / "en" / "ista-fista.html").read_text(encoding="utf-8")
    (tmp_path / "_static").symlink_to(SITE / "en" / "_static", target_is_directory=True)
    (tmp_path / "_images").symlink_to(SITE / "en" / "_images", target_is_directory=True)
    broken = {
        "no-theme.html": re.sub(r'<button[^>]*theme-switch-button.*?</button>', "", page,
                                flags=re.S),
        "no-download.html": page.replace("_sources/ista-fista.ipynb", "_sources/missing.ipynb"),
        "no-animation.html": page.replace(".play_animation()", ".pause_animation()"),
        # the widget manager not loaded: the slider's box stays empty
        "no-widgets.html": re.sub(r'<script src="_static/widgets/embed-amd.js[^"]*"></script>', "",
                                  (SITE / "en" / "vae.html").read_text(encoding="utf-8")),
    }
    assert broken["no-widgets.html"].count("embed-amd.js") == 0
    for name, text in broken.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    server = _serve(tmp_path)
    url = next(server)
    try:
        assert theme_switch_problems(browser, f"{url}/no-theme.html") == ["no theme button"]
        missing = download_problems(browser, f"{url}/no-download.html")
        assert missing and "404" in missing[0], missing
        stuck = animation_problems(browser, f"{url}/no-animation.html", timeout=2)
        assert stuck and "does not change" in stuck[0], stuck
        empty = widget_problems(browser, f"{url}/no-widgets.html", timeout=3)
        assert empty and "empty box" in empty[0], empty
    finally:
        next(server, None)

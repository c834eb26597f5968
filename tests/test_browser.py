"""Open the built site in a real browser: Debian's headless Chromium, driven by Selenium.

The site is served on 127.0.0.1 by a thread of this process, and Chromium's network is
cut (every host name but 127.0.0.1 fails to resolve, and any proxied request goes to a
closed port): what a page needs must come with the site. The test skips, saying why,
where Chromium or its driver is not installed (``apt-get install chromium
chromium-driver``; ``.ci/run`` does it) or where the site is not built.

Each page is opened once for most checks (:func:`page_audit`): its formulas, its download
button, a screenshot in each theme, an axe-core audit in each theme (axe-core 4.14.1, from
the npm registry, sha512-checked and cached in ``_build/test-assets``: see
``_ext/offline_assets.py``), its figures' contrast in the dark theme, the alternative text
of every image, and its sliders.
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

# a site test: it reads the built site (`make test` runs the `site` tests after the build)
pytestmark = pytest.mark.site

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
def test_formulas_are_typeset_offline(browser, base_url, axe_source, lang, page):
    # checked on the page's one visit, with the audit below (page_audit)
    assert page_audit(browser, base_url, axe_source, lang, page)["maths"] == []


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


def download_problems(driver, page_url: str | None = None) -> list[str]:
    """What is wrong with the notebook download of ``page_url``, or of the open page
    (empty: it works)."""
    import json
    import urllib.request

    if page_url:
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
def test_download_button_offers_the_notebook(browser, base_url, axe_source, lang, page):
    assert page_audit(browser, base_url, axe_source, lang, page)["download"] == []


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


# matplotlib's to_jshtml player: −, |<, <, <| (backwards), pause, play, >, >|, +
PAUSE, PLAY = ".anim-buttons button:nth-of-type(5)", ".anim-buttons button:nth-of-type(6)"


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
        # the player's buttons by place (their titles are in the page's language)
        player.find_element(By.CSS_SELECTOR, PLAY).click()
        try:
            wait_for(driver, lambda d, image=image, first=first: image.get_attribute("src") != first,
                     timeout=timeout)
        except TimeoutException:
            problems.append(f"animation {n}: the frame does not change after Play")
        player.find_element(By.CSS_SELECTOR, PAUSE).click()
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


def widget_problems(driver, page_url: str | None = None, timeout: float = 20) -> list[str]:
    """Each widget of the page (``page_url``, or the open page) renders with a slider: no empty
    box, no "loading" text."""
    from selenium.common.exceptions import TimeoutException

    if page_url:
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


def save_full_page(driver, path: Path):
    """A PNG of the whole page, not only the window (Chromium's DevTools protocol)."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip, "optimizeForSpeed": True})
    path.write_bytes(base64.b64decode(shot["data"]))


# --------------------------------------------------------------------------------------------------
# Sliders: moving one redraws its figure, or the page shows the static small multiple instead
# --------------------------------------------------------------------------------------------------

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SLIDER_PAGES = [p for p in CHAPTERS
                if WIDGET_VIEW in (SITE / "en" / f"{p}.html").read_text(encoding="utf-8")]

_SLIDERS = r"""
const top = document.querySelector('article section');
function chapterSection(el) {  // the section (##) that holds el
  let s = el.closest('section');
  while (s && s.parentElement.closest('section') && s.parentElement.closest('section') !== top) {
    s = s.parentElement.closest('section');
  }
  return s || top;
}
return Array.from(document.querySelectorAll('.ebm-widget')).filter(w => w.querySelector('.widget-slider'))
  .map(w => {
    const img = w.querySelector('img');
    const readout = w.querySelector('.widget-readout');
    // the static figures before the widget in its section, or else in the section before
    // (a "Try it" section that holds only the slider follows the small multiple's)
    const section = chapterSection(w);
    const figures = s => s ? Array.from(s.querySelectorAll('img')).filter(i =>
      !i.closest('.ebm-widget') && i.complete && i.naturalWidth > 0 &&
      (w.compareDocumentPosition(i) & Node.DOCUMENT_POSITION_PRECEDING)) : [];
    let statics = figures(section);
    if (!statics.length) {
      let before = section.previousElementSibling;
      while (before && before.tagName !== 'SECTION') before = before.previousElementSibling;
      statics = figures(before);
    }
    const note = w.nextElementSibling;
    return {src: img ? img.src : '', value: readout ? readout.textContent.trim() : '',
            statics: statics.length,
            note: !!(note && note.classList.contains('ebm-live-only') && note.textContent.trim())};
  });
"""


def slider_problems(driver, page_url: str | None = None, timeout: float = 3) -> list[str]:
    """Move each slider of the page (``page_url``, or the open page): an arrow key on its
    handle, then a click on its track.

    Today's site has no kernel behind its widgets: a slider cannot redraw its figure, so the
    build disables it (it stays at the value its figure was drawn for), says under it that
    it works in a live notebook, and the chapter shows the same family as a static small
    multiple. This accepts either: the figure changes, or the slider does not move, the note
    is there and a static figure precedes the widget in its section (or, for a section that
    holds only the slider, in the section before). Never an empty
    box or a "loading" text (:func:`widget_problems`).
    """
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    problems = widget_problems(driver, page_url)
    before = driver.execute_script(_SLIDERS)
    if not before:
        return [*problems, "no slider widget on the page"]
    widgets = [w for w in driver.find_elements(By.CSS_SELECTOR, ".ebm-widget")
               if w.find_elements(By.CSS_SELECTOR, ".widget-slider")]
    for widget in widgets:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", widget)
        for move in ("key", "click"):
            try:
                if move == "key":
                    widget.find_element(By.CSS_SELECTOR, ".noUi-handle").send_keys(Keys.ARROW_RIGHT)
                else:
                    track = widget.find_element(By.CSS_SELECTOR, ".noUi-target")
                    ActionChains(driver).move_to_element_with_offset(
                        track, int(track.size["width"] * 0.4), 0).click().perform()
            except WebDriverException:  # a disabled slider takes no key, no click
                pass
    after = driver.execute_script(_SLIDERS)
    if any(a["value"] != b["value"] for a, b in zip(after, before, strict=True)):
        try:  # a slider moved: give its figure the time to be redrawn
            wait_for(driver, lambda d: any(a["src"] != b["src"] for a, b in zip(
                d.execute_script(_SLIDERS), before, strict=False)), timeout=timeout)
        except TimeoutException:
            pass
        after = driver.execute_script(_SLIDERS)
    for n, (b, a) in enumerate(zip(before, after, strict=True)):
        if not b["src"]:
            problems.append(f"slider {n}: no figure")
        if a["src"] != b["src"]:
            continue  # moving it redrew the figure
        if a["value"] != b["value"]:
            problems.append(f"slider {n} moves ({b['value']} → {a['value']}) but its figure "
                            "stays: on a page with no kernel it must not offer what it cannot do")
        if not b["note"]:
            problems.append(f"slider {n} cannot redraw its figure and no note under it says so")
        if not b["statics"]:
            problems.append(f"slider {n} cannot redraw its figure and its section shows no static "
                            "figure (small multiple) before it")
    return problems


# --------------------------------------------------------------------------------------------------
# Every page in each theme: a screenshot, the axe-core audit, figures in the dark theme
# --------------------------------------------------------------------------------------------------

IMPACTS = ("serious", "critical")  # the violations that fail the audit
#: The rules that depend on colours, the only ones the dark theme can change: the other rules
#: see the same page in both themes, and run once, in the light theme.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]
#: axe-core rules left out, each with why. None: every violation found was fixed in the site.
AXE_EXCLUDED: dict[str, str] = {}
MIN_INK_CONTRAST = 4.5  # WCAG 2 for text: a figure's labels are text
AUDITED = [p for p in PAGES if 'http-equiv="Refresh"' not in
           (SITE / "en" / f"{p}.html").read_text(encoding="utf-8")[:200]]  # not a redirect

_SETTLE = r"""
const done = arguments[arguments.length - 1];
const t0 = Date.now();
// no CSS transitions: the colours measured right after a change of theme are the final ones
const style = document.createElement('style');
style.textContent = '*, *::before, *::after { transition: none !important; }';
document.head.appendChild(style);
function widgetsDrawn() {  // each widget has its figure
  return Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'))
    .every(s => { const img = s.parentElement.querySelector('img');
                  return img && img.complete && img.naturalWidth > 0; });
}
(function wait() {
  const mj = window.MathJax;
  const maths = !document.querySelector('span.math, div.math') || (mj && mj.startup && mj.startup.promise);
  if ((maths && widgetsDrawn()) || Date.now() - t0 > 20000) {
    Promise.resolve(mj && mj.startup ? mj.startup.promise : null).then(() => document.fonts.ready)
      .then(() => done(true), () => done(false));
  } else {
    setTimeout(wait, 100);
  }
})();
"""
_AXE_RUN = r"""
const [options, done] = [arguments[0], arguments[arguments.length - 1]];
axe.run(document, options).then(
  r => done(r.violations.map(v => ({rule: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160),
                              why: (n.failureSummary || '').replace(/\s+/g, ' ').slice(0, 300)}))}))),
  e => done([{rule: 'axe-core', impact: 'critical', help: 'axe.run failed: ' + e, nodes: []}]));
"""
_IMAGES = ("return Array.from(document.querySelectorAll('img')).map(i => [i.getAttribute('alt'),"
           " (i.currentSrc || i.src || '').slice(0, 200), !!i.closest('article')]);")
_FIGURE_BOXES = r"""
function shown(i) {  // the figures a reader sees: not clipped away (a collapsed solution)
  const r = i.getBoundingClientRect();
  if (!(i.complete && i.naturalWidth > 0 && r.width >= 40 && r.height >= 40)) return false;
  if (i.checkVisibility && !i.checkVisibility({opacityProperty: true, visibilityProperty: true})) {
    return false;
  }
  let [x0, y0, x1, y1] = [r.left, r.top, r.right, r.bottom];
  for (let e = i.parentElement; e && e !== document.body; e = e.parentElement) {
    if (getComputedStyle(e).overflow !== 'visible') {
      const q = e.getBoundingClientRect();
      [x0, y0, x1, y1] = [Math.max(x0, q.left), Math.max(y0, q.top), Math.min(x1, q.right),
                          Math.min(y1, q.bottom)];
    }
  }
  return x1 > x0 && y1 > y0 && (x1 - x0) * (y1 - y0) >= 0.9 * r.width * r.height;
}
return Array.from(document.querySelectorAll('article img')).filter(shown).map(i => {
  const r = i.getBoundingClientRect();
  return {element: i, y: Math.round(r.top + window.scrollY),
          what: (i.alt || i.currentSrc || i.src).slice(0, 60)}; });
"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core, pinned and sha512-checked, cached in _build/test-assets (npm the first time)."""
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        import offline_assets
    finally:
        sys.path.remove(str(ROOT / "_ext"))
    return offline_assets.axe_core(ROOT / "_build" / "test-assets").read_text(encoding="utf-8")


def set_theme(driver, theme: str) -> None:
    driver.execute_script("document.documentElement.dataset.theme = arguments[0];"
                          "document.documentElement.dataset.mode = arguments[0];"
                          "getComputedStyle(document.body).color;", theme)


def axe_violations(driver, rules: list[str] | None = None) -> list[str]:
    """The serious and critical violations axe-core (already injected) finds on the open page:
    its rule, impact and help, then the element (CSS path, HTML) and what to fix."""
    options: dict = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    if AXE_EXCLUDED:
        options["rules"] = {rule: {"enabled": False} for rule in AXE_EXCLUDED}
    found = driver.execute_async_script(_AXE_RUN, options)
    return [f"{v['impact']} {v['rule']} ({v['help']}): {n['target']} {n['html']!r}: {n['why']}"
            for v in found if v["impact"] in IMPACTS
            for n in v["nodes"] or [{"target": "", "html": "", "why": ""}]]


def ink_contrast(pixels) -> float:
    """The contrast ratio (WCAG) between what is drawn behind a figure, the median colour of
    its outer ring of pixels (the backdrop a transparent PNG shows through), and the figure's
    dark ink, its darkest 1 % of pixels."""
    import numpy as np

    c = np.asarray(pixels.convert("RGB"), dtype=float) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lum = c @ np.array([0.2126, 0.7152, 0.0722])
    ring = np.concatenate([lum[:2].ravel(), lum[-2:].ravel(), lum[:, :2].ravel(), lum[:, -2:].ravel()])
    backdrop, ink = float(np.median(ring)), float(np.percentile(lum, 1))
    return (max(backdrop, ink) + 0.05) / (min(backdrop, ink) + 0.05)


def dark_figure_problems(driver) -> list[str]:
    """Figures of the open page (in the dark theme) whose dark ink is not readable against
    what is drawn behind them. Each figure is captured on its own, as the browser paints it
    (its backdrop included), so that no page reflow between measuring and capturing can move
    the crop off the figure."""
    import io

    from PIL import Image as PILImage

    problems = []
    for box in driver.execute_script(_FIGURE_BOXES):
        # in the middle of the window, clear of the theme's sticky header
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box["element"])
        with PILImage.open(io.BytesIO(box["element"].screenshot_as_png)) as crop:
            ratio = ink_contrast(crop)
        if ratio < MIN_INK_CONTRAST:
            problems.append(f"{box['what']!r} at y = {box['y']}: its ink has a contrast of "
                            f"{ratio:.2f} with its backdrop (at least {MIN_INK_CONTRAST})")
    return problems


def audit(driver, page_url: str, axe: str, shots: str) -> dict:
    """Open a page once: its formulas (:func:`maths_problems`), its download button
    (:func:`download_problems`), screenshots in both themes (``<shots>-<theme>.png``), the
    axe-core audit (every rule in the light theme, the colour rules in the dark one: one injection,
    one run per theme), the dark figures' contrast, every image's alternative text, and
    what its sliders do when moved (:func:`slider_problems`; None: no slider)."""
    from sitecheck import Image, alt_problem

    driver.get(page_url)
    wait_ready(driver)
    # the checks of the formulas and of the download button, on this same visit
    has_maths = driver.execute_script("return !!document.querySelector('span.math, div.math');")
    result = {"maths": maths_problems(driver) if has_maths else ["no formula on the page"],
              "download": download_problems(driver),
              "axe": [], "figures": [], "alts": [], "shots": []}
    driver.set_script_timeout(120)
    driver.execute_async_script(_SETTLE)
    driver.execute_script(axe)
    for theme in ("light", "dark"):
        set_theme(driver, theme)
        result["axe"] += [f"{theme}: {v}" for v in
                          axe_violations(driver, None if theme == "light" else COLOUR_RULES)]
        path = Path(f"{shots}-{theme}.png")
        save_full_page(driver, path)
        result["shots"].append(path)
        if theme == "dark":
            result["figures"] = dark_figure_problems(driver)
    images = [Image(*i) for i in driver.execute_script(_IMAGES)]
    result["alts"] = [p for p in map(alt_problem, images) if p]
    # last, as it moves the sliders: on the page already loaded, widgets drawn
    has_sliders = driver.execute_script("return !!document.querySelector('.widget-slider');")
    result["sliders"] = slider_problems(driver, timeout=3) if has_sliders else None
    return result


_AUDITS: dict[tuple[str, str], dict] = {}


def page_audit(driver, base_url: str, axe: str, lang: str, page: str) -> dict:
    """:func:`audit` of a page of the built site, once for the tests that read it."""
    if (lang, page) not in _AUDITS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        _AUDITS[lang, page] = audit(driver, f"{base_url}/{lang}/{page}.html", axe,
                                    str(SCREENSHOTS / f"{lang}-{page}"))
    return _AUDITS[lang, page]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", AUDITED)
def test_screenshot_of_every_page_in_each_theme(browser, base_url, axe_source, lang, page):
    """For a person to look at: _build/screenshots/<lang>-<page>-<theme>.png."""
    for path in page_audit(browser, base_url, axe_source, lang, page)["shots"]:
        assert path.stat().st_size > 5000, path


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", AUDITED)
def test_axe_finds_no_serious_violation(browser, base_url, axe_source, lang, page):
    """axe-core (offline, pinned) on every page, light and dark: nothing serious or critical."""
    found = page_audit(browser, base_url, axe_source, lang, page)["axe"]
    assert not found, f"{lang}/{page}.html:\n" + "\n".join(found)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", SLIDER_PAGES)
def test_sliders_redraw_or_the_page_shows_the_small_multiple(browser, base_url, axe_source, lang,
                                                             page):
    found = page_audit(browser, base_url, axe_source, lang, page)["sliders"]
    assert found == [], f"{lang}/{page}.html: {found}"


def test_axe_finds_no_serious_violation_on_the_landing_page(browser, base_url, axe_source):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = audit(browser, f"{base_url}/index.html", axe_source, str(SCREENSHOTS / "landing"))["axe"]
    assert not found, "index.html:\n" + "\n".join(found)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", CHAPTERS)
def test_figures_are_readable_in_the_dark_theme(browser, base_url, axe_source, lang, page):
    found = page_audit(browser, base_url, axe_source, lang, page)["figures"]
    assert not found, f"{lang}/{page}.html, dark theme:\n" + "\n".join(found)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", CHAPTERS)
def test_every_image_in_the_browser_has_alternative_text(browser, base_url, axe_source, lang, page):
    """As tests/test_site.py checks the HTML, here the images the browser draws too: a slider
    widget's figure (its text comes from the cell, through _static/ebm-a11y.js)."""
    found = page_audit(browser, base_url, axe_source, lang, page)["alts"]
    assert not found, f"{lang}/{page}.html:\n" + "\n".join(found)


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


def _transparent_copy(png: Path, out: Path) -> None:
    """``png`` with its white background made transparent, as matplotlib saves a figure with
    ``transparent=True``."""
    import numpy as np
    from PIL import Image as PILImage

    with PILImage.open(png) as image:
        rgba = np.array(image.convert("RGBA"))
    rgba[..., 3] = np.where((rgba[..., :3] > 245).all(axis=-1), 0, rgba[..., 3])
    PILImage.fromarray(rgba).save(out)


def test_accessibility_checks_fail_on_broken_pages(browser, axe_source, tmp_path):
    """The audit, the dark-theme figures, the images drawn in the browser and the sliders,
    each shown failing on a copy of a chapter with a part removed or broken."""
    import re

    page = (SITE / "en" / "ista-fista.html").read_text(encoding="utf-8")
    for folder in ("_static", "_images"):
        (tmp_path / folder).symlink_to(SITE / "en" / folder, target_is_directory=True)
    first_figure = re.search(r'<img alt="[^"]*" src="(_images/[^"]+)"', page)
    # the first figure with a transparent background, as matplotlib's transparent=True saves it
    _transparent_copy(SITE / "en" / first_figure.group(1), tmp_path / "transparent.png")
    transparent = page.replace(first_figure.group(1), "transparent.png", 1)
    second_figure = re.findall(r'<img alt="[^"]*" src="_images/', page)[1]
    note = re.search(r'<p class="ebm-live-only">.*?</p>', page, re.S).group(0)
    broken = {
        # one copy, broken in several ways: a figure with no alternative text, the animation's
        # slider with no label, the slider widget's figure with no text to take; the
        # transparent figure with no backdrop (the site's stylesheet gone, and the theme's
        # backdrops too); the slider offered as if it worked, with no note
        "broken.html": re.sub(r'(<input id="_anim_slider\w+") aria-label="[^"]*"', r"\1", re.sub(
            r'<link rel="stylesheet" type="text/css" href="_static/ebm\.css[^>]*>', "",
            transparent.replace(second_figure, '<img src="_images/', 1)))
            .replace(" data-ebm-alt=", " data-no-alt=")
            .replace("</head>", "<style>html[data-theme=dark] .bd-content img, html[data-theme="
                     "dark] .bd-content .widget-subarea {background: none !important; padding: 0 "
                     "!important}</style></head>")
            .replace('"disabled": true', '"disabled": false').replace(note, ""),
        # the transparent figure as the site shows it: on a white backdrop (passes)
        "transparent.html": transparent,
        # no static figure on the page (the small multiple and every other one removed)
        "no-static.html": re.sub(r'<img (alt="[^"]*" )?src="_images/[^>]*>|<img id="_anim_img[^>]*>',
                                 "", page),
    }
    assert "ebm.css" not in broken["broken.html"] and '"disabled": false' in broken["broken.html"]
    assert "transparent.png" in broken["broken.html"]
    for name, text in broken.items():
        assert text != page, name
        (tmp_path / name).write_text(text, encoding="utf-8")
    server = _serve(tmp_path)
    url = next(server)
    try:
        found = audit(browser, f"{url}/broken.html", axe_source, str(tmp_path / "broken"))
        axe = "\n".join(found["axe"])
        assert "light: critical image-alt" in axe and "light: critical label" in axe, axe
        assert "dark: serious color-contrast" in axe, axe
        assert any("data:image/png" in p and "no alternative text" in p for p in found["alts"]), found
        assert any("_images/" in p and "no alternative text" in p for p in found["alts"]), found
        assert len(found["figures"]) == 1 and "contrast of 1.1" in found["figures"][0], found
        live = found["sliders"]
        assert any("moves" in p and "but its figure stays" in p for p in live), live
        assert any("no note" in p for p in live), live
        shown = audit(browser, f"{url}/transparent.html", axe_source, str(tmp_path / "transparent"))
        assert shown["figures"] == [], shown["figures"]
        static = slider_problems(browser, f"{url}/no-static.html")
        assert any("no static figure" in p for p in static), static
    finally:
        next(server, None)

"""The scripts a page needs, served with the site, so that it reads with no network.

``prepare()`` fills ``_build/offline-assets/static/`` (added to ``html_static_path`` by
``_ext/build_site.py``, so it lands in each edition's ``_static/``):

- ``mathjax/``: MathJax 3.2.2 from the PyPI package ``sphinx-mathjax-offline`` (in
  requirements.txt; only its files are used, not its Sphinx extension, which would copy
  24 MB into each edition). ``mathjax_path`` in ``_config.yml`` points at it.
- ``widgets/``: require.js and the ipywidgets HTML manager (``embed-amd.js`` with the
  Font Awesome fonts it refers to), from the npm packages ``requirejs`` and
  ``@jupyter-widgets/html-manager``, fetched with ``npm pack`` (the tarball only, no
  dependency tree) and checked against the sha512 pinned below. ``nb_ipywidgets_js`` in
  ``_config.yml`` points at them.

Nothing is downloaded when the folder is already there for these versions, so incremental
builds need no network at all.

``axe_core()`` does the same for the browser test's accessibility audit: axe-core, pinned
and sha512-checked, cached in ``_build/test-assets/`` (it is not served with the site).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

MATHJAX_DIST = ("sphinx-mathjax-offline", "0.0.2")  # ships MathJax 3.2.2
# npm package, version, sha512 of the tarball (``npm view <pkg>@<version> dist.integrity``)
# and the files of the tarball to serve (folder -> names, or endings starting with a dot)
NPM = {
    "requirejs": ("2.3.8", "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP"
                  "17c+Jd5otXKGNehIonFlyQXSowL6Mw==", {"package": ("require.js",)}),
    # 1.0.x is the manager of ipywidgets 8 (controls 2.0 models)
    "@jupyter-widgets/html-manager": (
        "1.0.15", "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SAB"
        "eNz1yp47bCrJ3CQA==", {"package/dist": ("embed-amd.js", ".woff2", ".woff")}),
}
# MathJax: the one combined component the pages load, plus what it loads on demand (TeX
# packages through autoload, the CHTML fonts, the menu and its accessibility tools)
MATHJAX_KEEP = ("tex-mml-chtml.js", "input/tex/extensions", "output/chtml", "ui", "a11y",
                "sre", "adaptors")


def _stamp() -> str:
    return json.dumps({"mathjax": MATHJAX_DIST, "npm": {k: v[:2] for k, v in NPM.items()},
                       "keep": MATHJAX_KEEP, "require_config": REQUIRE_CONFIG}, sort_keys=True)


def _copy_mathjax(dest: Path) -> None:
    name, version = MATHJAX_DIST
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"{name}=={version} is not installed: run `make book` (or "
                         f"`pip install -r requirements.txt`)") from None
    if dist.version != version:
        raise SystemExit(f"{name} {dist.version} is installed, {version} is pinned")
    src = Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))
    for part in MATHJAX_KEEP:
        if (src / part).is_dir():
            shutil.copytree(src / part, dest / part)
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / part, dest / part)


def _npm_pack(package: str, version: str, integrity: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to fetch require.js and the ipywidgets HTML manager "
                         "(apt-get install npm)")
    out = subprocess.run([npm, "pack", f"{package}@{version}", "--json", "--silent",
                          "--pack-destination", str(into)],
                         check=True, capture_output=True, text=True).stdout
    tarball = into / json.loads(out)[0]["filename"]
    algo, digest = integrity.split("-", 1)
    got = base64.b64encode(hashlib.new(algo, tarball.read_bytes()).digest()).decode()
    if got != digest:
        raise SystemExit(f"{package}@{version}: the tarball's {algo} is {got}, not {digest}")
    return tarball


# The accessibility engine of tests/test_browser.py (not part of the site): npm package,
# version, sha512 of its tarball (``npm view axe-core@<version> dist.integrity``).
AXE_CORE = ("axe-core", "4.14.1", "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu"
                                  "5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==")


def axe_core(folder: Path) -> Path:
    """``folder/axe-core-<version>/axe.min.js``, fetched with ``npm pack`` and checked
    against the pinned sha512 the first time, then reused with no network."""
    package, version, integrity = AXE_CORE
    target = folder / f"{package}-{version}" / "axe.min.js"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = _npm_pack(package, version, integrity, Path(tmp))
        with tarfile.open(tarball) as tar:
            data = tar.extractfile("package/axe.min.js").read()
    partial = target.with_name(target.name + ".tmp")
    partial.write_bytes(data)
    partial.replace(target)
    return target


# Loaded between require.js and embed-amd.js: the widget manager finds its Font Awesome fonts
# next to the URL of its AMD module, which require.js would put under the page's folder
# (``<page folder>/@jupyter-widgets/html-manager/dist/``); map it to this folder instead.
REQUIRE_CONFIG = """\
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  window.require.config({paths: {"@jupyter-widgets/html-manager/dist": here.slice(0, -1)}});
})();
"""


def _copy_npm(dest: Path) -> None:
    dest.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        for package, (version, integrity, wanted) in NPM.items():
            tarball = _npm_pack(package, version, integrity, Path(tmp))
            with tarfile.open(tarball) as tar:
                for member in tar.getmembers():
                    folder, _, base = member.name.rpartition("/")
                    ends = wanted.get(folder, ())
                    if member.isfile() and any(base == e or (e.startswith(".") and
                                               base.endswith(e)) for e in ends):
                        data = tar.extractfile(member).read()
                        (dest / base).write_bytes(data)
        (dest / "require-config.js").write_text(REQUIRE_CONFIG)
        missing = [n for n in ("require.js", "embed-amd.js") if not (dest / n).exists()]
        if missing:
            raise SystemExit(f"not in the npm packages: {missing}")

# Resources that code-cell outputs ask for from a CDN, and what the built pages use instead.
# matplotlib's ``FuncAnimation.to_jshtml()`` player links Font Awesome 4.4 for its buttons'
# ``<i class="fa fa-play">`` icons: the theme's own Font Awesome 6 script already draws those
# (it knows the 4.x names), so the link is dropped.
CDN_IN_OUTPUTS = {
    re.compile(r'<link rel="stylesheet"\s*href="https://maxcdn\.bootstrapcdn\.com/'
               r'font-awesome/4\.4\.0/css/font-awesome\.min\.css">'): "",
}


def localize_pages(site: Path) -> int:
    """Replace, in every built page under ``site``, the CDN resources that code-cell outputs
    ask for (``CDN_IN_OUTPUTS``). Returns how many were replaced."""
    count = 0
    for page in site.rglob("*.html"):
        if "_static" in page.parts:
            continue
        html = page.read_text(encoding="utf-8")
        new = html
        for pattern, replacement in CDN_IN_OUTPUTS.items():
            new, n = pattern.subn(replacement, new)
            count += n
        if new != html:
            page.write_text(new, encoding="utf-8")
    return count


def prepare(folder: Path) -> Path:
    """Fill ``folder/static`` with ``mathjax/`` and ``widgets/`` unless already there.

    Returns ``folder/static``, the folder to add to ``html_static_path``.
    """
    stamp = folder / "versions.json"
    if stamp.exists() and stamp.read_text() == _stamp():
        return folder / "static"
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "static").mkdir(parents=True)
    _copy_mathjax(tmp / "static" / "mathjax")
    _copy_npm(tmp / "static" / "widgets")
    (tmp / "versions.json").write_text(_stamp())
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)
    return folder / "static"


if __name__ == "__main__":
    import sys

    print(prepare(Path(sys.argv[1]) if len(sys.argv) > 1 else
                  Path(__file__).resolve().parent.parent / "_build" / "offline-assets"))

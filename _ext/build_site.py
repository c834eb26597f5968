"""Build both editions and assemble the site: ``_build/site/{index.html, en/, fr/}``.

    python _ext/build_site.py            # incremental, warnings are errors
    python _ext/build_site.py --all      # rebuild every page (still uses the execution cache)

Each edition's configuration is ``_config.yml`` with the overrides of
``_config.<lang>.yml`` (if any) merged in, written to ``_build/config/``. The repository's
URL (``repository.url``) and the site's address (``html.baseurl``) are set once there, for
both editions: see :func:`edition_config` (the publishing workflow checks them with
``--check-urls SITE_URL REPOSITORY_URL``). Both read ``_toc.yml``. Warnings are errors
(``-W -n --keep-going``), so a missing translation, a broken link or a notebook that raises
fails the build. The scripts that pages load (MathJax, require.js, the widget manager) are
served with the site, so that it reads with no network: see ``_ext/offline_assets.py``.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import offline_assets

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
SITE = BUILD / "site"
LANGS = ("en", "fr")


def merge(base: dict, over: dict) -> dict:
    """Deep-merge ``over`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


def site_settings(config: dict) -> tuple[str, str]:
    """The two settings that a fork changes, each set once in ``_config.yml``: the
    repository's URL (``repository.url``) and the site's address (``html.baseurl``, the
    folder that holds ``index.html``, ``en/`` and ``fr/``; empty for a site that is only
    read from disk). Returns them checked, the address ending with ``/``."""
    repo = str((config.get("repository") or {}).get("url") or "").rstrip("/")
    # GitHub: Colab, the notebooks' install cell and the workflow need it; no .git suffix
    # (the introduction's `cd <name>` is the URL's last part).
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w-]+(\.[\w-]+)*", repo) or repo.endswith(".git"):
        raise SystemExit(f"_config.yml: repository.url: expected https://github.com/<owner>/<name> "
                         f"(no .git), received {repo!r}")
    site = str((config.get("html") or {}).get("baseurl") or "")
    if site and not re.fullmatch(r"https?://[^\s\"'<>]+", site):
        raise SystemExit(f"_config.yml: html.baseurl: expected the site's address "
                         f"(https://<owner>.github.io/<repository>/) or nothing, received {site!r}")
    return repo, (site.rstrip("/") + "/" if site else "")


def edition_config(lang: str, config: dict, overrides: dict | None = None) -> dict:
    """The configuration of one edition: ``config`` (``_config.yml``) with ``overrides``
    (``_config.<lang>.yml``) merged in, and what follows from the two site settings.

    * ``html.baseurl`` becomes the edition's address, ``<site>/<lang>/``, so that each page
      carries its canonical URL; ``ebm_site_url`` (the site's) gives the bilingual
      extension absolute ``hreflang`` links;
    * ``repository_url`` and ``repository_name`` become MyST substitutions (the
      introduction's ``git clone`` lines use them, in code blocks through
      ``_ext/bilingual.py``);
    * paths that Jupyter Book would resolve against different folders (the config file's for
      local extensions, the working folder's for the execution cache) are made absolute.
    """
    config = merge(copy.deepcopy(config), overrides or {})
    repo, site = site_settings(config)
    config.setdefault("html", {})["baseurl"] = f"{site}{lang}/" if site else ""
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["ebm_site_url"] = site
    parse = config.setdefault("parse", {})
    parse["myst_substitutions"] = {**(parse.get("myst_substitutions") or {}),
                                   "repository_url": repo,
                                   "repository_name": repo.rsplit("/", 1)[-1]}
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in local.items():
        local[name] = str((ROOT / folder).resolve())
    execute = config.setdefault("execute", {})
    execute["cache"] = str((ROOT / execute.get("cache", "_build/.jupyter_cache")).resolve())
    return config


def load_config(root: Path = ROOT, lang: str | None = None) -> tuple[dict, dict]:
    """``_config.yml`` and the edition's ``_config.<lang>.yml`` (empty when missing)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    path = root / f"_config.{lang}.yml"
    overrides = yaml.safe_load(path.read_text(encoding="utf-8")) if lang and path.exists() else {}
    return config, overrides or {}


def config_for(lang: str) -> Path:
    """Write the edition's configuration (:func:`edition_config`) to ``_build/config``."""
    config = edition_config(lang, *load_config(ROOT, lang))
    # MathJax, require.js and the widget manager, served from each edition's _static
    sphinx_config = config["sphinx"]["config"]
    sphinx_config["html_static_path"] = [*sphinx_config.get("html_static_path", []),
                                         str(offline_assets.prepare(BUILD / "offline-assets"))]
    path = BUILD / "config" / f"_config.{lang}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def url_mismatches(config: dict, pages_url: str, repository_url: str) -> list[str]:
    """What the two site settings of ``config`` get wrong for a site published at
    ``pages_url`` from ``repository_url`` (the publishing workflow's check)."""
    repo, site = site_settings(config)
    problems = []
    if repo.lower() != repository_url.rstrip("/").lower():
        problems.append(f"repository.url is {repo!r} but the site is built from "
                        f"{repository_url!r}")
    if site.rstrip("/").lower() != pages_url.rstrip("/").lower():
        problems.append(f"html.baseurl is {site!r} but GitHub Pages publishes the site at "
                        f"{pages_url!r}")
    return problems


def build(lang: str, all_pages: bool) -> float:
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT / "book" / lang),
           "--config", str(config_for(lang)), "--toc", str(ROOT / "_toc.yml"),
           "--path-output", str(BUILD / lang), "-W", "-n", "--keep-going"]
    if all_pages:
        cmd.append("--all")
    start = time.perf_counter()
    print(f"\n=== building the {lang} edition ===", flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - start


def assemble() -> None:
    """Copy both editions and the landing page into one folder, ready to publish."""
    tmp = BUILD / "site.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for lang in LANGS:
        shutil.copytree(BUILD / lang / "_build" / "html", tmp / lang)
    shutil.copy2(ROOT / "book" / "index.html", tmp / "index.html")
    offline_assets.localize_pages(tmp)  # CDN links that code-cell outputs carry
    (tmp / ".nojekyll").touch()  # keep folders starting with _ (_static, _sources) on Pages
    shutil.rmtree(SITE, ignore_errors=True)
    tmp.replace(SITE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="rebuild every page")
    parser.add_argument("--check-urls", nargs=2, metavar=("SITE_URL", "REPOSITORY_URL"),
                        help="only check that _config.yml's two site settings are these "
                             "(the publishing workflow's check; README: Publish a fork)")
    args = parser.parse_args()
    if args.check_urls:
        problems = url_mismatches(load_config(ROOT)[0], *args.check_urls)
        for problem in problems:
            print(f"::error file=_config.yml::{problem}: set it in _config.yml "
                  "(README: Publish a fork)")
        sys.exit(1 if problems else 0)
    times = {lang: build(lang, args.all) for lang in LANGS}
    assemble()
    print("\n" + "  ".join(f"{lang}: {t:.1f} s" for lang, t in times.items()))
    print(f"site: {SITE / 'index.html'}")


if __name__ == "__main__":
    main()

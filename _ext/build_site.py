"""Build both editions and assemble the site: ``_build/site/{index.html, en/, fr/}``.

    python _ext/build_site.py            # incremental, warnings are errors
    python _ext/build_site.py --all      # rebuild every page (still uses the execution cache)

Each edition's configuration is ``_config.yml`` with the overrides of
``_config.<lang>.yml`` (if any) merged in, written to ``_build/config/``.
Both read ``_toc.yml``. Warnings are errors (``-W -n --keep-going``), so a missing
translation, a broken link or a notebook that raises fails the build. The scripts that
pages load (MathJax, require.js, the widget manager) are served with the site, so that it
reads with no network: see ``_ext/offline_assets.py``.
"""

from __future__ import annotations

import argparse
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


def config_for(lang: str) -> Path:
    """Write the edition's configuration: ``_config.yml`` with its overrides merged in.

    Paths that Jupyter Book would resolve against different folders (the config file's for
    local extensions, the working folder's for the execution cache) are made absolute.
    """
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    overrides = ROOT / f"_config.{lang}.yml"
    if overrides.exists():
        config = merge(config, yaml.safe_load(overrides.read_text(encoding="utf-8")))
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in local.items():
        local[name] = str((ROOT / folder).resolve())
    # MathJax, require.js and the widget manager, served from each edition's _static
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["html_static_path"] = [*sphinx_config.get("html_static_path", []),
                                         str(offline_assets.prepare(BUILD / "offline-assets"))]
    execute = config.setdefault("execute", {})
    execute["cache"] = str((ROOT / execute.get("cache", "_build/.jupyter_cache")).resolve())
    path = BUILD / "config" / f"_config.{lang}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


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
    args = parser.parse_args()
    times = {lang: build(lang, args.all) for lang in LANGS}
    assemble()
    print("\n" + "  ".join(f"{lang}: {t:.1f} s" for lang, t in times.items()))
    print(f"site: {SITE / 'index.html'}")


if __name__ == "__main__":
    main()

"""pytest setup for the notebook run; the tests' fixtures live in tests/conftest.py.

With ``--nbval-lax``, the MyST-markdown notebooks under ``book/`` are collected as
notebooks: nbval reads them through jupytext (this relies on nbval 0.11's ``IPyNbFile``,
hence the pin in requirements.txt).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent


def _is_text_notebook(path: Path) -> bool:
    """A MyST-markdown page is a notebook when its front matter names a kernel."""
    if path.suffix != ".md" or ROOT / "book" not in path.parents:
        return False
    head = path.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and "kernelspec:" in head


def pytest_collect_file(file_path: Path, parent):
    config = parent.config
    if not getattr(config.option, "nbval_lax", False) and not getattr(config.option, "nbval", False):
        return None
    if not _is_text_notebook(file_path):
        return None
    import jupytext
    import nbformat
    from nbval import plugin

    class _Reader:
        """nbformat, except that ``read`` understands MyST markdown through jupytext."""

        def __getattr__(self, name):
            return getattr(nbformat, name)

        @staticmethod
        def read(path, as_version=4):
            if str(path).endswith(".md"):
                return jupytext.read(path)
            return nbformat.read(path, as_version=as_version)

    plugin.nbformat = _Reader()
    return plugin.IPyNbFile.from_parent(parent, path=file_path)

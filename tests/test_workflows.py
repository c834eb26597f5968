"""The GitHub workflows: linted by actionlint (with shellcheck on their `run:` scripts), and
shaped as the README says (CI runs .ci/run; the Pages workflow publishes _build/site from main).

actionlint and shellcheck are installed into .venv from the package registry
(requirements.txt); the test fails, rather than skips, when they are missing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not path:
        pytest.fail(f"`{name}` is not installed: run `make test` (it installs requirements.txt)")
    return str(path)


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    """Run actionlint on ``files``; shellcheck checks the `run:` scripts, pyflakes is off."""
    cmd = [tool("actionlint"), "-no-color", "-oneline", f"-shellcheck={tool('shellcheck')}",
           "-pyflakes=", *map(str, files)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads `on:` as True
    return workflow


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def uses(job: dict) -> list[str]:
    return [s["uses"].split("@")[0] for s in steps(job) if "uses" in s]


def test_both_workflows_exist():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["ci.yml", "pages.yml"]


def test_workflows_pass_actionlint():
    result = actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_actionlint_fails_on_a_broken_workflow(tmp_path):
    """A copy of ci.yml with an unknown context, a bad `runs-on` and an unquoted variable."""
    text = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    broken = (text.replace("ci-${{ github.ref }}", "ci-${{ github.refs }}")
              .replace("runs-on: ubuntu-latest", "runs-on: ubuntu-lastest")
              .replace('"$CHROMEWEBDRIVER/chromedriver"', "$CHROMEWEBDRIVER/chromedriver"))
    assert broken.count("lastest") == 1 and "github.refs" in broken
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    copy = tmp_path / ".github" / "workflows" / "ci.yml"
    copy.write_text(broken, encoding="utf-8")
    result = actionlint(copy)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert '"refs"' in out and "ubuntu-lastest" in out and "SC2086" in out, out


def test_ci_runs_the_ci_script_on_push_and_pull_request():
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    (job,) = ci["jobs"].values()
    assert job["runs-on"].startswith("ubuntu")
    python = next(s for s in steps(job) if s.get("uses", "").startswith("actions/setup-python@"))
    assert str(python["with"]["python-version"]) == "3.11" and python["with"]["cache"] == "pip"
    assert any(s.get("run", "").strip() == "bash .ci/run" for s in steps(job))


def test_pages_builds_the_site_and_deploys_it_from_main():
    pages = load("pages.yml")
    assert pages["on"]["push"]["branches"] == ["main"]
    assert pages["concurrency"]["group"] and pages["concurrency"]["cancel-in-progress"] is False
    build, deploy = pages["jobs"]["build"], pages["jobs"]["deploy"]
    assert any(s.get("run", "").strip() == "make book" for s in steps(build))
    needed = {"actions/checkout", "actions/configure-pages", "actions/upload-pages-artifact"}
    assert needed <= set(uses(build))
    upload = next(s for s in steps(build) if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/site"
    assert deploy["needs"] == "build" and uses(deploy) == ["actions/deploy-pages"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert pages["permissions"] == {"contents": "read"}
    # Colab opens the notebooks from the branch its buttons name, not from Pages
    push = next(s for s in steps(build) if "ebm_site_branch" in s.get("run", ""))
    assert "_sources/*.ipynb" in push["run"] and "git push" in push["run"]
    assert build["permissions"] == {"contents": "write"}

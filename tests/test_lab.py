"""The student's path: `make lab` opens a chapter in JupyterLab, and its exercises answer.

The test starts the same server as `make lab` (``jupyter lab --notebook-dir=book``), headless
on 127.0.0.1 (a free port, a token, ``--no-browser``, temporary runtime and config folders),
and talks to it as JupyterLab's page does:

* ``GET /api/contents/<lang>/ista-fista.md?type=notebook`` must return the MyST chapter as a
  notebook (jupytext's contents manager), with the cells of the file;
* ``POST /api/sessions`` starts the project's kernel (the ``.venv`` interpreter) in the
  chapter's folder;
* through the kernel's websocket, it runs the chapter's import cell, then the ``shrink``
  exercise cell as the page gives it, with a wrong answer, and with the solution, and checks
  that the checker's verdict is the expected one and is said in the chapter's language.

Everything has a time limit; the server and its kernels are shut down at the end. It skips,
saying why, where JupyterLab is not installed (``EBM_REQUIRE_LAB=1`` makes that an error).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTER = "ista-fista.md"

for _module in ("jupyterlab", "jupyter_server", "jupytext", "websocket"):
    try:
        __import__(_module)
    except ImportError:
        if os.environ.get("EBM_REQUIRE_LAB") == "1":
            raise
        pytest.skip(f"{_module} is not installed: `make lab` installs JupyterLab and jupytext",
                    allow_module_level=True)

import websocket  # noqa: E402  (websocket-client, after the skip above)

START_TIMEOUT = 90     # s for the server to answer
HTTP_TIMEOUT = 30      # s for one REST call
CELL_TIMEOUT = 180     # s for one cell (the import cell loads torch)
STOP_TIMEOUT = 20      # s for the server to exit once asked

# What the shrinkage checker says, in each language (ebmlib.checks.check_prox_l1 and _invoke).
SAYS = {
    "en": {"todo": "Not implemented yet", "wrong": "hard thresholding", "right": "Right:"},
    "fr": {"todo": "Pas encore implémenté", "wrong": "seuillage dur", "right": "Juste :"},
}
HARD_THRESHOLD = "    return torch.where(v.abs() > theta, v, torch.zeros_like(v))"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server started for the test, and a tiny client for its REST API."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "lab.log"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("JUPYTER") and k != "EBMLIB_LANG"}
        env.update(JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"),
                   JUPYTER_DATA_DIR=str(tmp / "data"), JUPYTER_PLATFORM_DIRS="1",
                   PYTHONUNBUFFERED="1")
        for key in ("runtime", "config", "data"):
            (tmp / key).mkdir()
        # As `make lab` does (there in .venv/etc/jupyter): .md files open as notebooks. For the
        # test only: no autosave (the chapter must not be rewritten), every cell in the page.
        settings = tmp / "config" / "labconfig" / "default_setting_overrides.json"
        settings.parent.mkdir()
        settings.write_text(json.dumps({
            "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
            "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}))
        subprocess.run([str(Path(sys.executable).parent / "jupytext-config"),
                        "--settings-file", str(settings), "set-default-viewer", "markdown", "myst"],
                       check=True, timeout=HTTP_TIMEOUT, capture_output=True)
        self.log = open(self.log_path, "w", encoding="utf-8")  # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", f"--notebook-dir={BOOK}",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
             "--LabApp.expose_app_in_browser=True",
             *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, n: int = 4000) -> str:
        self.log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-n:]

    def request(self, method: str, path: str, body: dict | None = None,
                timeout: float = HTTP_TIMEOUT) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read().decode()
        return json.loads(text) if text else {}

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.request("GET", "/api/status", timeout=5)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        pytest.fail(f"jupyter lab did not answer within {START_TIMEOUT} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:  # the server shuts its kernels down, then exits
                self.request("POST", "/api/shutdown", timeout=5)
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(5)
        try:  # kernels are in the server's process group: none may outlive the test
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()


class Kernel:
    """Runs code through a kernel's websocket, as JupyterLab's page does."""

    def __init__(self, lab: Lab, kernel_id: str) -> None:
        self.session = uuid.uuid4().hex
        ws_url = (f"ws://127.0.0.1:{lab.port}/api/kernels/{kernel_id}/channels"
                  f"?session_id={self.session}")
        self.ws = websocket.create_connection(
            ws_url, header=[f"Authorization: token {lab.token}"], timeout=HTTP_TIMEOUT)

    def close(self) -> None:
        self.ws.close()

    def run(self, code: str, timeout: float = CELL_TIMEOUT) -> dict:
        """Execute ``code``; return its reply status, outputs (nbformat-like) and error."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                       "session": self.session, "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
        outputs: list[dict] = []
        reply = None
        idle = False
        deadline = time.monotonic() + timeout
        while not (reply and idle):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the cell did not finish within {timeout} s:\n{code[:300]}")
            self.ws.settimeout(min(left, HTTP_TIMEOUT))
            try:
                frame = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            if isinstance(frame, bytes):  # binary frames carry widget buffers: not needed
                continue
            msg = json.loads(frame)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "execute_reply":
                reply = content
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
            elif kind in ("stream", "execute_result", "display_data", "error"):
                outputs.append({"output_type": kind, **content})
        return {"status": reply["status"], "outputs": outputs,
                "error": f"{reply.get('ename')}: {reply.get('evalue')}"
                if reply["status"] != "ok" else None}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _result(run: dict) -> tuple[str, str]:
    """(text/plain, text/html) of a cell's result: the checker's Feedback."""
    assert run["status"] == "ok", run["error"]
    results = [o for o in run["outputs"] if o["output_type"] == "execute_result"]
    assert results, f"the cell shows no result: {run['outputs']}"
    data = results[-1]["data"]
    return data.get("text/plain", ""), data.get("text/html", "")


def _shown(html: str) -> dict[str, str]:
    """The feedback's messages by language, the hidden ones marked with a leading '-'."""
    spans = re.findall(r'<span class="ebm-feedback-msg" lang="(\w+)"([^>]*)>(.*?)</span>', html)
    return {lang: ("-" if "display:none" in attrs else "") + text for lang, attrs, text in spans}


def _says(run: dict, lang: str, what: str) -> None:
    """The checker's verdict is ``what`` and it speaks ``lang``, in plain text and in HTML."""
    other = "en" if lang == "fr" else "fr"
    text, html = _result(run)
    assert SAYS[lang][what] in text, f"expected {what!r} in {lang}, the kernel says: {text}"
    assert SAYS[other][what] not in text, f"the feedback is not in {lang}: {text}"
    shown = _shown(html)
    assert not shown.get(lang, "-").startswith("-"), f"the {lang} message is hidden: {html}"
    assert shown.get(other, "-").startswith("-"), f"the {other} message is shown: {html}"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_chapter_opens_and_its_exercise_answers_in_its_language(lab, lang):
    import jupytext

    path = f"{lang}/{CHAPTER}"
    model = lab.request("GET", f"/api/contents/{path}?type=notebook&content=1")
    assert model["type"] == "notebook", model["type"]
    cells = model["content"]["cells"]
    on_disk = jupytext.read(BOOK / lang / CHAPTER)
    assert [c["cell_type"] for c in cells] == [c.cell_type for c in on_disk.cells]
    assert model["content"]["metadata"]["kernelspec"]["name"] == "python3"
    code = [_source(c) for c in cells if c["cell_type"] == "code"]
    imports = next(s for s in code if "from ebmlib.checks import" in s)
    exercise = next(s for s in code if "def my_shrink" in s and "raise NotImplementedError" in s)
    solution = next(s for s in code if "def my_shrink" in s and "NotImplementedError" not in s)
    assert exercise.rstrip().endswith("check_prox_l1(my_shrink)"), exercise
    wrong = exercise.replace("    raise NotImplementedError", HARD_THRESHOLD)

    session = lab.request("POST", "/api/sessions", {
        "path": path, "name": CHAPTER, "type": "notebook", "kernel": {"name": "python3"}})
    kernel = Kernel(lab, session["kernel"]["id"])
    try:
        where = kernel.run("import os, sys\nprint(os.getcwd()); print(sys.prefix)")
        assert where["status"] == "ok", where["error"]
        printed = "".join(o["text"] for o in where["outputs"] if o["output_type"] == "stream")
        assert printed.split("\n")[:2] == [str(BOOK / lang), sys.prefix], \
            f"the kernel is not the project's, in the chapter's folder: {printed}"

        ran = kernel.run(imports)
        assert ran["status"] == "ok", f"the import cell failed: {ran['error']}\n{lab.log_tail()}"
        _says(kernel.run(exercise), lang, "todo")   # the cell as the page gives it
        _says(kernel.run(wrong), lang, "wrong")     # a known mistake is named
        _says(kernel.run(solution), lang, "right")  # the solution passes
    finally:
        kernel.close()
        lab.request("DELETE", f"/api/sessions/{session['id']}")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

# JavaScript run in JupyterLab's page (``--LabApp.expose_app_in_browser`` gives window.jupyterapp).
JS_NOTEBOOK = """
const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!w || !w.hasClass('jp-NotebookPanel') || !w.context.isReady) return null;
const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
return {path: w.context.path, kernel: kernel ? kernel.name : null,
        status: kernel ? kernel.status : null,
        cells: w.content.widgets.map(c => [c.model.type, c.model.sharedModel.getSource()])};
"""
JS_RUN = """
const w = window.jupyterapp.shell.currentWidget;
w.content.activeCellIndex = arguments[0];
window.jupyterapp.commands.execute('notebook:run-cell');
"""
JS_CELL = """
const w = window.jupyterapp.shell.currentWidget, cell = w.content.widgets[arguments[0]];
const kernel = w.sessionContext.session.kernel;
return {count: cell.model.executionCount, status: kernel.status,
        errors: Array.from(cell.node.querySelectorAll('.jp-OutputArea-output'))
                  .filter(o => o.dataset.mimeType === 'application/vnd.jupyter.stderr')
                  .map(o => o.innerText),
        shown: Array.from(cell.node.querySelectorAll('.ebm-feedback-msg'))
                  .filter(s => s.offsetParent !== null).map(s => [s.lang, s.innerText])};
"""


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM and DRIVER):
        pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,1000", f"--user-data-dir={tmp_path}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(HTTP_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, script, until, timeout, *args, what=""):
    """Poll ``script`` in the page until ``until(result)``; fail with the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = driver.execute_script(script, *args)
        if until(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not done within {timeout} s; the page says {result}")
        time.sleep(0.25)


def test_jupyterlab_page_opens_the_chapter_and_runs_its_exercise(lab, browser):
    """In JupyterLab's own page, the French chapter opens as a notebook and its exercise answers."""
    browser.get(f"{lab.url}/lab/tree/fr/{CHAPTER}?token={lab.token}")
    nb = _wait(browser, JS_NOTEBOOK, lambda r: r and r["status"] == "idle", START_TIMEOUT,
               what=f"fr/{CHAPTER} open as a notebook with an idle kernel")
    try:
        assert nb["path"] == f"fr/{CHAPTER}" and nb["kernel"] == "python3", nb
        sources = [src if kind == "code" else "" for kind, src in nb["cells"]]
        steps = [  # (cell index, what its feedback must say); the import cell says nothing
            (next(i for i, s in enumerate(sources) if "from ebmlib.checks import" in s), None),
            (next(i for i, s in enumerate(sources)
                  if "def my_shrink" in s and "raise NotImplementedError" in s), "todo"),
            (next(i for i, s in enumerate(sources)
                  if "def my_shrink" in s and "NotImplementedError" not in s), "right"),
        ]
        for index, what in steps:
            browser.execute_script(JS_RUN, index)
            cell = _wait(browser, JS_CELL, lambda r: r["count"] is not None and r["status"] == "idle",
                         CELL_TIMEOUT, index, what=f"cell {index}")
            assert not cell["errors"], f"cell {index} failed in the page: {cell['errors']}"
            if what is not None:
                assert len(cell["shown"]) == 1, f"one message must show, not {cell['shown']}"
                lang, text = cell["shown"][0]
                assert lang == "fr" and SAYS["fr"][what] in text, cell["shown"]
    finally:
        browser.save_screenshot(str(lab.log_path.parent / "jupyterlab-fr.png"))

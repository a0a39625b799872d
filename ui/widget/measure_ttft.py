"""Time to first visible token of the widget, measured in a real Chromium (not a test).

For each run a fresh browser context opens the demo page, opens the widget, picks a role, types a
typical question and clicks "Senden"; performance.now() is taken in the click handler and again when
the first answer text appears in the widget's DOM (MutationObserver). Prints the median of the runs
and the widget's size (widget.js + widget.css, raw and gzip).

    make ttft                                                       # installs the dev extra if needed, then runs
    .venv/bin/python ui/widget/measure_ttft.py                      # starts a server on ./data (or $LB_DATA_DIR)
    .venv/bin/python ui/widget/measure_ttft.py --url http://127.0.0.1:8000   # a running server

Needs Playwright and httpx (the `dev` extra: `make test` or `make ttft` installs them; `make run` alone
does not) and Debian's Chromium (/usr/bin/chromium, or LB_CHROMIUM).
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:
    import httpx
    from playwright.sync_api import sync_playwright
except ImportError as _missing:  # `make run` installs the core only
    raise SystemExit(f"measure_ttft.py needs the dev extra ({_missing.name} is missing): run `make ttft`, "
                     "or `.venv/bin/pip install -e '.[dev]'` once and call it again.") from None

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHROMIUM = os.environ.get("LB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
QUESTIONS = [
    ("works_council", "Was muss der Betriebsrat prüfen, wenn KI zur Leistungskontrolle eingeführt wird?"),
    ("owner", "Was ist KI-Readiness?"),
    ("employee", "Was darf ich in ChatGPT eingeben?"),
    ("owner", "Welche Pflichten habe ich nach der KI-Verordnung?"),
    ("consultant", "Wie begleite ich einen Betrieb bei der Einführung von KI?"),
    ("employee", "Wie erkenne ich Fehler in KI-Antworten?"),
    ("works_council", "Welche Rechte hat der Betriebsrat bei KI-Systemen?"),
    ("owner", "Wie schule ich meine Beschäftigten im Umgang mit KI?"),
    ("employee", "Was ist ein guter Prompt?"),
    ("consultant", "Was gehört in eine Betriebsvereinbarung zu KI?"),
]
ROLE_LABELS = {"owner": "Geschäftsführung", "employee": "Beschäftigte", "works_council": "Betriebsrat",
               "consultant": "Beratung"}

PROBE = """() => { window.__lbTTFT = new Promise((resolve) => {
  const root = document.querySelector('ki-lernbegleiter').shadowRoot;
  let t0 = null;
  root.querySelector('.lb-send').addEventListener('click', () => { t0 = performance.now(); }, {capture: true});
  const mo = new MutationObserver(() => {
    const a = root.querySelectorAll('.lb-msg-bot .lb-answer');
    if (t0 !== null && a.length && a[a.length - 1].textContent.length > 0) {
      mo.disconnect();
      resolve(performance.now() - t0);
    }
  });
  mo.observe(root, {subtree: true, childList: true, characterData: true});
}); }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "LB_DATA_DIR": str(data_dir), "LB_RATE_LIMIT_PER_MINUTE": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


def size_report() -> str:
    parts = []
    total_raw = total_gz = 0
    for name in ("widget.js", "widget.css"):
        data = (HERE / name).read_bytes()
        gz = len(gzip.compress(data, 9))
        total_raw += len(data)
        total_gz += gz
        parts.append(f"{name} {len(data) / 1024:.1f} KB ({gz / 1024:.1f} KB gzip)")
    return "; ".join(parts) + f"; total {total_raw / 1024:.1f} KB ({total_gz / 1024:.1f} KB gzip)"


def measure(url: str, runs: int) -> list[float]:
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            # warm-up (server caches, first model call), not counted
            for i in range(runs + 1):
                role, question = QUESTIONS[i % len(QUESTIONS)] if i else QUESTIONS[-1]
                ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="de-DE")
                page = ctx.new_page()
                page.goto(url + "/")
                page.locator(".lb-launcher").click()
                page.get_by_role("button", name=re.compile("^" + ROLE_LABELS[role])).click()
                page.locator(".lb-input").fill(question)
                page.evaluate(PROBE)
                page.locator(".lb-send").click()
                ms = page.evaluate("window.__lbTTFT")
                page.locator(".lb-msg-bot .lb-fb").first.wait_for(timeout=60_000)
                ctx.close()
                if i:
                    results.append(ms)
                    print(f"  run {i:2d}: {ms:7.1f} ms  {question}")
        finally:
            browser.close()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="base URL of a running server (default: start one)")
    ap.add_argument("--data-dir", default=os.environ.get("LB_DATA_DIR", str(ROOT / "data")))
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM}: apt-get install chromium, or set LB_CHROMIUM.")
    proc = None
    url = args.url
    if not url:
        proc, url = _start_server(Path(args.data_dir))
    try:
        times = measure(url.rstrip("/"), args.runs)
    finally:
        if proc:
            proc.terminate()
            proc.wait(15)
    print(f"time to first visible token: median {statistics.median(times):.0f} ms over {len(times)} runs "
          f"(min {min(times):.0f}, max {max(times):.0f})")
    print(f"widget size: {size_report()}")


if __name__ == "__main__":
    main()

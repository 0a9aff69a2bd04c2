"""The report of a run, opened in a real browser: Debian's Chromium, headless, through chromedriver (no browser download
at run time). Every page of the site is visited from the file system; the test fails on a console error, a broken
relative link or a missing image, and saves screenshots of the landing page and of Table 4's page."""
import shutil
from pathlib import Path
from urllib.parse import urljoin, urlparse, unquote

import pytest

from dallm.config import get_settings
from dallm.report import CHAPTERS, build_report

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / ".cache" / "report-screenshots"
CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.fail("Chromium and chromedriver are needed (apt-get install chromium chromium-driver; `make test` installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000", "--allow-file-access-from-files"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield d
    d.quit()


def crawl(driver, index: Path) -> dict:
    "Visit every page reachable from `index` by relative links; console errors, broken links and images, page count."
    from selenium.webdriver.common.by import By
    todo, seen, errors, broken = [index.resolve().as_uri()], set(), [], []
    while todo:
        url = todo.pop()
        if url in seen: continue
        seen.add(url)
        driver.get(url)
        errors += [f"{url}: {e['message']}" for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        for img in driver.find_elements(By.TAG_NAME, "img"):
            if not driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img):
                broken.append(f"{url}: image {img.get_attribute('src')}")
        for a in driver.find_elements(By.CSS_SELECTOR, "a[href]"):
            href = a.get_attribute("href")
            if not href.startswith("file:"): continue
            target = urljoin(href, urlparse(href).path)   # without the fragment
            path = Path(unquote(urlparse(target).path))
            if not path.exists(): broken.append(f"{url}: link {href}"); continue
            if path.suffix == ".html" and path.is_relative_to(index.parent) and target not in seen: todo.append(target)
    return {"pages": len(seen), "errors": errors, "broken": broken}


def shoot(driver, page: Path, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.get(page.resolve().as_uri())
    h = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, min(max(h, 900), 2600))
    driver.save_screenshot(str(SHOTS / name))
    driver.set_window_size(1400, 1000)
    return SHOTS / name


def _richest_results() -> tuple[str, dict]:
    "The settings of the most complete run on this machine: `make reproduce`'s, else the notebook tests' (CI)."
    for results in (ROOT / "results", ROOT / ".cache" / "nbtest" / "results"):
        if (results / "smoke" / "table4_contrasts.csv").is_file():
            data = results.parent / "data" if results.parent != ROOT else ROOT / "data"
            return "smoke", {"results_dir": results, "data_dir": data, "runs_dir": ROOT / "runs"}
    pytest.fail("no smoke run to build a report from: run `make reproduce` (or the notebook tests) first")


def test_built_report_in_chromium(browser, tmp_path):
    profile, dirs = _richest_results()
    index = build_report(profile, tmp_path / "site", get_settings(ROOT, profile=profile, **dirs))
    got = crawl(browser, index)
    assert got["pages"] >= 1 + len(CHAPTERS), got
    assert not got["errors"], got["errors"]
    assert not got["broken"], got["broken"]
    landing, table4 = shoot(browser, index, "landing.png"), shoot(browser, index.parent / "04_evaluate.html", "table4.png")
    assert landing.stat().st_size > 20_000 and table4.stat().st_size > 20_000
    body = index.read_text()
    assert "Headline results" in body and "Table 4" in body


@pytest.mark.skipif(not (ROOT / "docs" / "index.html").is_file(), reason="no committed report in docs/ yet")
def test_committed_report_in_chromium(browser):
    got = crawl(browser, ROOT / "docs" / "index.html")
    assert got["pages"] >= 1 + len(CHAPTERS) and not got["errors"] and not got["broken"], got
    assert (ROOT / "docs" / ".dallm-report").is_file() and not list((ROOT / "docs").rglob("*.map"))

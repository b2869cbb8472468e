"""The study page in a real browser: headless Chromium driven by selenium opens study/index.html from disk, a
scripted rater types an id and answers every trial with key presses, the page's answers.json is downloaded, and
`ganeval human score` gives exactly the rates the script implies. Also: the page makes no network request and
holds no key, a reload resumes, and screenshots of the instruction screen and a trial land in tests/artifacts/.

One browser serves the module. The tests skip, saying why, only where selenium, chromium or chromedriver is missing
(`make test` installs chromium and chromium-driver with apt-get when run as root; selenium is in the dev extra).
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from ganeval.cli import main
from ganeval.data import fashion_mnist

from .test_human import answers_file, check_failures, expected_rates, read_study_key, write_image_arrays

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
NUM_IMAGES, NUM_CHECKS = 12, 3
ALLOWED_SCHEMES = {"file", "data", "blob"}

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="chromium or chromedriver is not installed (make test installs Debian's "
                                       "chromium and chromium-driver when run as root)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=900,860", "--no-first-run", "--disable-extensions",
                     # without it Chromium may give a file: page another storage area on a reload (measured: 2 to 5
                     # reloads in 30 saw no or stale localStorage); the page's address keeps the answers then, and
                     # test_a_reload_resumes_where_the_rater_stopped checks each of the two ways alone
                     "--allow-file-access-from-files"):
        options.add_argument(argument)
    downloads = tmp_path_factory.mktemp("downloads")
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """12 images (6 + 6) and 3 checks; the real side is Fashion-MNIST's test split where it is installed (so the
    screenshots show a real study), else drawn shapes."""
    folder = tmp_path_factory.mktemp("browser-study")
    fake, real = write_image_arrays(folder)
    reference = "fashion-mnist:test" if fashion_mnist.find_folder("test") else str(real)
    out = folder / "study"
    assert main(["human", "make", str(fake), "--reference", reference, "--num-images", str(NUM_IMAGES),
                 "--checks", str(NUM_CHECKS), "--out", str(out), "--seed", "11"]) == 0
    return out


def _open(browser, study: Path) -> None:
    """The page from disk (no address state), with a clean slate: no answers kept from an earlier test (cleared
    through the browser process, which holds localStorage, so no write of the last page can race the clearing)."""
    browser.get("about:blank")
    browser.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": "file://", "storageTypes": "local_storage"})
    browser.get((study / "index.html").as_uri())
    _wait(browser, lambda: _screen(browser) == "intro")


def _wait(browser, condition, timeout: float = 10.0) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout, poll_frequency=0.01).until(lambda _: condition())


def _screen(browser) -> str:
    return browser.execute_script("return document.body.dataset.screen")


def _start(browser, rater: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    field = browser.find_element(By.ID, "rater")
    field.send_keys(rater)
    field.send_keys(Keys.ENTER)
    _wait(browser, lambda: _screen(browser) == "trial")


def _shown_image(browser) -> str:
    """The id of the image on screen, once it is shown and answers are taken."""
    _wait(browser, lambda: browser.execute_script("return document.getElementById('image').dataset.ready") == "1")
    return browser.execute_script("return document.getElementById('image').dataset.id")


def _press(browser, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).send_keys(key).perform()


def _answer_all(browser, key: dict, script: str, start: int = 0, on_trial=None) -> None:
    """Answer every trial left by key presses following `script` (the test alone reads key.json)."""
    from .test_human import scripted_answer

    index = start
    while _screen(browser) == "trial":
        image_id = _shown_image(browser)
        assert image_id == key["order"][index]  # the page shows the images in the key's order, one at a time
        if on_trial is not None:
            on_trial(index, image_id)
        _press(browser, "r" if scripted_answer(script, index, key["images"][image_id]["class"]) == "real" else "f")
        index += 1
        _wait(browser, lambda: _screen(browser) == "done" or browser.execute_script(
            "return document.getElementById('image').dataset.id") != image_id)
    assert index == len(key["order"]) and _screen(browser) == "done"


def _download(browser, folder: Path) -> Path:
    """Click the download button; the file the browser saves into `folder`."""
    from selenium.webdriver.common.by import By

    folder.mkdir(parents=True, exist_ok=True)
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    browser.find_element(By.ID, "download").click()
    target = folder / "answers.json"
    deadline = time.monotonic() + 10
    while not target.is_file() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert target.is_file(), f"no download in {folder}: {list(folder.iterdir())}"
    return target


@pytest.mark.parametrize("script", ["right", "real", "alternate"])
def test_a_scripted_rater_gets_exactly_the_rates_the_script_implies(browser, study, tmp_path, run_cli, script):
    key = read_study_key(study)
    _open(browser, study)
    _start(browser, f"rater-{script}")
    _answer_all(browser, key, script)
    downloaded = _download(browser, tmp_path / "downloads")
    answers = json.loads(downloaded.read_text())
    assert answers["study_id"] == key["study_id"] and answers["rater_id"] == f"rater-{script}"
    assert "HeadlessChrome" in answers["user_agent"]
    assert [trial["image_id"] for trial in answers["trials"]] == key["order"]
    assert all(isinstance(trial["time_ms"], int) and trial["time_ms"] >= 0 for trial in answers["trials"])
    # what the page recorded is what the script pressed
    assert answers == {**answers, "trials": [{**trial, "time_ms": answers["trials"][index]["time_ms"]}
                                             for index, trial in enumerate(answers_file(key, "", script)["trials"])]}
    code, out, err = run_cli("human", "score", study, downloaded, "--json", "--append", tmp_path / "records")
    assert code == 0, err
    record = json.loads(out)
    expected = expected_rates(key, [answers])
    assert {name: record[name] for name in expected} == pytest.approx(expected, abs=1e-12)
    if script == "right":
        assert expected == {"hype_inf": 0.0, "hype_fake_error": 0.0, "hype_real_error": 0.0}
    elif script == "real":
        assert expected == {"hype_inf": 0.5, "hype_fake_error": 1.0, "hype_real_error": 0.0}
    assert record["diagnostics"]["human"]["check_failures"] == {f"rater-{script}": check_failures(key, answers)}


def test_the_page_makes_no_network_request_and_holds_no_key(browser, study):
    browser.get_log("performance")  # drop what earlier tests logged
    _open(browser, study)
    _start(browser, "net")
    for _ in range(3):
        image_id = _shown_image(browser)
        _press(browser, "f")
        _wait(browser, lambda: browser.execute_script("return document.getElementById('image').dataset.id") != image_id)
    events = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    urls = [event["params"]["request"]["url"] for event in events if event["method"] == "Network.requestWillBeSent"]
    assert any(url.startswith("file://") for url in urls) and any(url.startswith("data:image/png") for url in urls)
    assert {urlparse(url).scheme for url in urls} <= ALLOWED_SCHEMES, sorted(set(urls) - {u for u in urls if
                                                                                       u.startswith("data:")})
    source = browser.page_source
    key = read_study_key(study)
    assert "key.json" not in source and not any(entry["sha256"] in source for entry in key["images"].values())
    assert "default-src 'none'" in source  # the browser itself would refuse any request


def test_a_reload_resumes_where_the_rater_stopped(browser, study, tmp_path):
    from selenium.webdriver.common.by import By

    key = read_study_key(study)
    total = len(key["order"])

    def progress() -> str:
        _wait(browser, lambda: _screen(browser) == "trial")
        return browser.find_element(By.ID, "progress-text").text

    _open(browser, study)
    _start(browser, "resumer")
    for button in ("real", "fake", "fake"):  # the buttons answer too
        image_id = _shown_image(browser)
        browser.find_element(By.ID, button).click()
        _wait(browser, lambda: browser.execute_script("return document.getElementById('image').dataset.id") != image_id)
    assert progress() == f"Image 4 of {total}"
    browser.refresh()
    assert progress() == f"Image 4 of {total}" and browser.find_element(By.ID, "rater-line").text == "Rater: resumer"
    # the page's address alone resumes (no storage for this page: a private window, a browser without any for file:)
    browser.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": "file://", "storageTypes": "local_storage"})
    browser.refresh()
    assert progress() == f"Image 4 of {total}"
    image_id = _shown_image(browser)
    _press(browser, "r")
    _wait(browser, lambda: browser.execute_script("return document.getElementById('image').dataset.id") != image_id)
    # and localStorage alone resumes (the page opened again, without the address)
    browser.get((study / "index.html").as_uri())
    assert "#" not in browser.current_url and progress() == f"Image 5 of {total}"
    _answer_all(browser, key, "real", start=4)
    answers = json.loads(_download(browser, tmp_path / "downloads").read_text())
    assert [trial["image_id"] for trial in answers["trials"]] == key["order"]  # each image once, none twice
    assert [trial["answer"] for trial in answers["trials"]][:5] == ["real", "fake", "fake", "real", "real"]
    assert answers["rater_id"] == "resumer" and all(trial["time_ms"] >= 0 for trial in answers["trials"])
    browser.refresh()  # a finished study stays finished
    _wait(browser, lambda: _screen(browser) == "done")
    for _ in range(2):  # starting again takes two clicks, then forgets the answers
        browser.find_element(By.ID, "restart").click()
    _wait(browser, lambda: _screen(browser) == "intro")
    assert browser.execute_script(f"return localStorage.getItem('ganeval-human:{key['study_id']}')") is None
    assert "#" not in browser.current_url


def test_screenshots_of_the_instructions_and_a_trial(browser, study):
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    key = read_study_key(study)
    _open(browser, study)
    browser.find_element(By.ID, "rater").send_keys("rater-7")
    instructions = ARTIFACTS / "human-instructions.png"
    browser.save_screenshot(str(instructions))
    _start(browser, "")
    trial = ARTIFACTS / "human-trial.png"

    def shoot(index: int, image_id: str) -> None:
        # a real image a few trials in, so the progress bar shows progress
        if not trial.is_file() and index >= 2 and key["images"][image_id]["class"] == "real":
            browser.save_screenshot(str(trial))

    trial.unlink(missing_ok=True)
    _answer_all(browser, key, "right", on_trial=shoot)
    for path in (instructions, trial):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000

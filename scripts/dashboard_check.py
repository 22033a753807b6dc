#!/usr/bin/python3
"""Checks eddy's dashboard in a real headless Chromium (Debian's chromium, chromium-driver and
python3-selenium; .ci/run installs them).

    dashboard_check.py URL CHECKPOINT_DIR SCREENSHOT

URL is a running job's dashboard (http://127.0.0.1:PORT/). Checks that the page loads without
console errors, shows every operator of the job graph (as the REST API lists them) in the
drawn graph and the operators table, that the records-in figure changes between two looks, and
that the checkpoints table lists a completed checkpoint whose directory is on disk. Saves a
screenshot to SCREENSHOT. Exits 0 when every check passed, 1 naming the first that failed.
"""

import json
import os
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def fail(message):
    print(f"dashboard check failed: {message}", file=sys.stderr)
    sys.exit(1)


def wait_for(what, condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    fail(f"timed out after {timeout:.0f} s waiting for {what}")


def main():
    if len(sys.argv) != 4:
        fail("usage: dashboard_check.py URL CHECKPOINT_DIR SCREENSHOT")
    url, checkpoint_dir, screenshot = sys.argv[1:]
    graph = json.load(urllib.request.urlopen(url.rstrip("/") + "/jobs/current/graph"))
    expected = {operator["id"]: operator["name"] for operator in graph["operators"]}
    if not expected:
        fail("the REST API lists no operators")

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="eddy-chromium-")
    for argument in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--user-data-dir={profile}", "--window-size=1400,2000"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        wait_for("the job to show as running",
                 lambda: driver.find_element(By.ID, "state").text == "running")
        wait_for("every operator in the graph and the table", lambda: all(
            driver.find_elements(By.CSS_SELECTOR, f'#graph g.node[data-id="{id}"]')
            and driver.find_elements(By.CSS_SELECTOR, f'#operators tr[data-operator-id="{id}"]')
            for id in expected))
        for id, name in expected.items():
            row = driver.find_element(By.CSS_SELECTOR, f'#operators tr[data-operator-id="{id}"]')
            if name not in row.text:
                fail(f"the operators table's row {id} does not name {name!r}: {row.text!r}")
        first = wait_for("a records-in figure",
                         lambda: driver.find_element(By.ID, "records-in").text.strip("–"))
        second = wait_for("the records-in figure to change",
                          lambda: (text := driver.find_element(By.ID, "records-in").text) != first and text)
        print(f"records in: {first} then {second}")

        def checkpoint_on_disk():
            for row in driver.find_elements(By.CSS_SELECTOR, "#checkpoints tbody tr"):
                id = int(row.get_attribute("data-checkpoint-id"))
                manifest = os.path.join(checkpoint_dir, f"chk-{id:010d}", "_manifest.json")
                if "completed" in row.text and os.path.isfile(manifest):
                    return id
            return None
        id = wait_for("a completed checkpoint on disk in the checkpoints table", checkpoint_on_disk)
        print(f"checkpoint {id} is listed and on disk")
        time.sleep(1.5)  # one more refresh, so the rates in the screenshot are filled in
        driver.save_screenshot(screenshot)
        print(f"screenshot: {screenshot}")
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        if errors:
            fail(f"console errors: {errors}")
        print(f"dashboard ok: {len(expected)} operators shown")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()

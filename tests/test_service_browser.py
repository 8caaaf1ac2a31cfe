"""The web page in headless Chromium: upload a file, see the genre bars and the timeline.

Needs Playwright's Python package and Debian's ``chromium`` (Playwright drives the system browser, so no
browser download); skips with the reason when either is missing.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright's Python package is not installed (a dev dependency)"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "Chromium is not installed (Debian packages chromium and chromium-driver)", allow_module_level=True
    )

import uvicorn  # noqa: E402

from test_service import (  # noqa: E402
    Classifier,
    ToyExtractor,
    audio_bytes,
    create_app,
    free_port,
    noise,
    tone,
    toy_model,
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server_url():
    app = create_app(Classifier(ToyExtractor(), toy_model(), name="toy"), max_upload_mb=1, warmup=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert thread.is_alive() and time.time() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("audio")
    out = {
        # 9 s: 4 s bass, 3 s noise, 2 s treble -> three runs on the timeline
        "mix": np.concatenate([tone(200, 4), noise(3), tone(3000, 2)]),
        "short": tone(3000, 1),
    }
    paths = {}
    for name, y in out.items():
        paths[name] = d / f"{name}.wav"
        paths[name].write_bytes(audio_bytes(y))
    paths["text"] = d / "notes.txt"
    paths["text"].write_text("this is not audio\n" * 20)
    return paths


def test_upload_shows_genre_bars_and_timeline(server_url, browser, files):
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server_url + "/")
    page.wait_for_function("document.getElementById('model-info').textContent.includes('bass')")
    page.set_input_files("#file", str(files["mix"]))
    page.wait_for_selector("#result:not([hidden]) #bars li")

    bars = page.locator("#bars li")
    assert bars.count() == 3  # top 5 asked, the toy model has 3 genres
    labels = [bars.nth(i).locator(".bar-label").inner_text().lower() for i in range(3)]
    values = [float(bars.nth(i).locator(".bar-value").inner_text().rstrip("%")) for i in range(3)]
    assert sorted(labels) == ["bass", "noise", "treble"]
    assert values == sorted(values, reverse=True) and 99 <= sum(values) <= 101
    width = "e => e.getBoundingClientRect().width"
    widths = [bars.nth(i).locator(".bar-fill").evaluate(width) for i in range(3)]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]
    assert page.locator("#genre").inner_text().lower() == labels[0]

    # the timeline: bass | noise | treble as three blocks sized 4:3:2, and a legend of three colours
    assert page.locator("#timeline-section").is_visible()
    blocks = page.locator("#timeline .timeline-block")
    runs = [blocks.nth(i).get_attribute("data-genre") for i in range(blocks.count())]
    assert runs == ["bass", "noise", "treble"]
    bw = [blocks.nth(i).evaluate(width) for i in range(3)]
    assert bw[0] / bw[2] == pytest.approx(2.0, rel=0.05) and bw[1] / bw[2] == pytest.approx(1.5, rel=0.05)
    colours = {blocks.nth(i).evaluate("e => getComputedStyle(e).backgroundColor") for i in range(3)}
    assert len(colours) == 3
    assert page.locator("#legend li").count() == 3
    assert page.locator("#t-end").inner_text() == "0:09"

    # why: the runner-up, and the seconds most for and against the answer. Bass is 0-4 s, noise 4-7 s,
    # treble 7-9 s: the seconds that argue against the answer are the runner-up's own.
    assert page.locator("#why-section").is_visible()
    runner = page.locator("#why-runner").inner_text()
    assert runner.startswith("Runner-up: ") and runner[11:-1] in set(labels) - {labels[0]}
    seconds = {"bass": {0, 1, 2, 3}, "noise": {4, 5, 6}, "treble": {7, 8}}[runner[11:-1]]
    pro, con = page.locator("#why-for").inner_text(), page.locator("#why-against").inner_text()
    pro_starts = {int(t) for t in re.findall(r"0:0(\d)–", pro)}
    con_starts = {int(t) for t in re.findall(r"0:0(\d)–", con)}
    assert pro.startswith(f"Most for {labels[0]}: ") and pro_starts and not pro_starts & seconds
    assert con.startswith("Most against") and con_starts and con_starts <= seconds
    assert errors == []
    page.close()


def test_dropped_file_and_short_track(server_url, browser, files):
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(server_url + "/")
    b64 = base64.b64encode(files["short"].read_bytes()).decode()
    transfer = page.evaluate_handle(
        """(b64) => {
            const bin = atob(b64), bytes = new Uint8Array(bin.length);
            for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "dropped.wav", {type: "audio/wav"}));
            return dt;
        }""",
        b64,
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    page.wait_for_selector("#result:not([hidden]) #bars li")
    assert page.locator("#genre").inner_text().lower() == "treble"
    assert "dropped.wav" in page.locator("#meta").inner_text()
    assert page.locator("#timeline-section").is_hidden()  # one segment: no timeline to draw
    assert page.locator("#why-section").is_hidden()  # nor segments to compare
    page.close()


def test_error_message_from_the_json_body(server_url, browser, files):
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(server_url + "/")
    page.set_input_files("#file", str(files["text"]))
    alert = page.locator("#error")
    alert.wait_for(state="visible")
    text = alert.inner_text()
    assert "notes.txt" in text and "not an audio file" in text
    assert page.locator("#result").is_hidden()
    page.close()


def test_readable_on_a_phone(server_url, browser, files):
    page = browser.new_page(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
    page.goto(server_url + "/")
    page.set_input_files("#file", str(files["mix"]))
    page.wait_for_selector("#result:not([hidden]) #bars li")
    # nothing wider than the screen, bars and timeline inside it, text at a readable size
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for sel in ("#bars", "#timeline", "#drop"):
        box = page.locator(sel).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, sel
    size = page.locator(".bar-label").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 14
    page.close()


TIE = {
    "source": None,
    "genre": "folk",
    "unsure": False,
    "confidence": 0.331,
    "probabilities": {"folk": 0.331, "pop": 0.327, "country": 0.2, "rock": 0.142},
    "top_k": [
        {"genre": "folk", "probability": 0.331},
        {"genre": "pop", "probability": 0.327},
        {"genre": "country", "probability": 0.2},
        {"genre": "rock", "probability": 0.142},
    ],
    "duration_s": 9.0,
    "segments": [
        {"start_s": 3.0 * i, "end_s": 3.0 * i + 3.0, "genre": g, "probabilities": {}, "contribution": 0.1}
        for i, g in enumerate(["folk", "pop", "folk"])
    ],
    "model": "musicnn",
    "elapsed_ms": 1234.0,
}


def test_close_call_on_a_phone_with_a_long_file_name(server_url, browser, tmp_path, files):
    """A 33.1% vs 32.7% answer is headlined as a close call; nothing is wider than a 360 px screen."""
    long_name = tmp_path / ("Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy_" * 2 + ".hq.wav")
    long_name.write_bytes(files["mix"].read_bytes())
    page = browser.new_page(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
    page.route(
        "**/v1/classify?*",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(TIE)),
    )
    page.goto(server_url + "/")
    page.set_input_files("#file", str(long_name))
    page.wait_for_selector("#result:not([hidden]) #bars li")
    assert page.locator("#genre").inner_text().lower() == "folk"
    cue = page.locator("#close-call")
    assert cue.is_visible() and cue.inner_text() == "— close call with pop 33%"
    legend = [page.locator("#legend li").nth(i).inner_text() for i in range(2)]
    assert legend[0].lower().endswith("67% of the time") and legend[1].lower().endswith("33% of the time")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.close()


def test_no_close_call_for_a_clear_answer(server_url, browser, files):
    page = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True)
    clear = dict(TIE, top_k=[{"genre": "folk", "probability": 0.6}, {"genre": "pop", "probability": 0.3}])
    page.route(
        "**/v1/classify?*",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(clear)),
    )
    page.goto(server_url + "/")
    page.set_input_files("#file", str(files["mix"]))
    page.wait_for_selector("#result:not([hidden]) #bars li")
    assert page.locator("#close-call").is_hidden()
    page.close()


def test_api_docs_render_offline(server_url, browser):
    """Swagger UI and ReDoc load from the service itself: every other host is blocked."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith(server_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(server_url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=20000)
    assert "/v1/classify" in page.locator(".swagger-ui").inner_text()
    page.goto(server_url + "/redoc")
    page.wait_for_selector("redoc h1, [role=navigation]", timeout=20000)
    assert "genrekit" in page.content() and "/v1/classify" in page.locator("redoc").inner_text()
    # the only outside request: ReDoc's "powered by" logo, a decorative image (no option hides it)
    assert all(url.endswith("/logo-mini.svg") for url in outside), outside
    page.close()

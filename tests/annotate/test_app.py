import shutil
import threading

import numpy as np
import pytest

from robustsk.active import make_queries
from robustsk.annotate import AnnotationServer, HumanOracle, QueryStore, create_app, is_loopback

fastapi_testclient = pytest.importorskip("fastapi.testclient")


def _client(app):
    return fastapi_testclient.TestClient(app, base_url="http://127.0.0.1")  # a loopback Host


def _post_query(client, example=0, sigmas=(0.0, 0.1, 0.2), headers=None):
    body = {
        "example": example,
        "x": [0.5] * 4,
        "shape": [1, 2, 2],
        "label": 3,
        "sigmas": list(sigmas),
        "current_sigma": 0.1,
        "seed": 7,
    }
    return client.post("/api/queries", json=body, headers=headers or {})


def test_http_api_and_bad_requests(tmp_path):
    client = _client(create_app(QueryStore(tmp_path / "b.sqlite")))
    assert client.get("/api/next").status_code == 204
    qid = _post_query(client).json()["id"]
    nxt = client.get("/api/next").json()
    assert nxt["id"] == qid and nxt["current_index"] == 1 and nxt["sigmas"] == [0.0, 0.1, 0.2]
    img = client.get(f"/api/queries/{qid}/image/2.png")
    assert img.status_code == 200 and img.content[:4] == b"\x89PNG"
    assert client.get(f"/api/queries/{qid}/image/3.png").status_code == 404
    bad = client.post(f"/api/queries/{qid}/answer", json={"sigma": 0.15})
    assert bad.status_code == 422 and "not on query" in bad.json()["detail"]
    assert client.post(f"/api/queries/{qid}/answer", json={"sigma": "x"}).status_code == 422
    malformed = client.post(
        f"/api/queries/{qid}/answer",
        content=b"{oops",
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 422
    assert client.post("/api/queries/999/answer", json={"sigma": 0.1}).status_code == 404
    ok = client.post(f"/api/queries/{qid}/answer", json={"sigma": 0.2 + 1e-12})
    assert ok.status_code == 200 and ok.json()["progress"] == {"answered": 1, "total": 1}
    assert ok.json()["sigma"] == 0.2  # the stored ladder value, not the float sent
    again = client.post(f"/api/queries/{qid}/answer", json={"sigma": 0.1})
    assert again.status_code == 409 and "already answered" in again.json()["detail"]
    assert client.get(f"/api/queries/{qid}").json()["answer"] == 0.2
    wrong = client.post(
        "/api/queries",
        json={"example": 0, "x": [0.1], "shape": [2, 2], "sigmas": [0.0], "current_sigma": 0.0},
    )
    assert wrong.status_code == 422 and "needs 4" in wrong.json()["detail"]
    assert wrong.json()["detail"].startswith("shape")
    assert "Pick the last image" in client.get("/").text


def test_token_required_off_loopback(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
    assert not is_loopback("")  # "" binds every interface
    server = AnnotationServer(tmp_path / "c.sqlite", host="0.0.0.0", port=0)
    assert server.token and f"token={server.token}" in server.url
    server.store.close()
    with pytest.raises(ValueError, match="token is required"):
        create_app(QueryStore(":memory:"), host="0.0.0.0")
    client = _client(create_app(QueryStore(tmp_path / "d.sqlite"), token="s3cret"))
    assert client.get("/api/next").status_code == 401
    assert _post_query(client).status_code == 401
    assert client.get("/api/next?token=s3cret").status_code == 401  # only the page's link
    assert _post_query(client, headers={"X-Token": "s3cret"}).status_code == 200
    page = client.get("/?token=s3cret")  # the link: checked, then a session cookie
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "s3cret" not in cookie
    assert client.get("/api/next").status_code == 200  # the cookie is enough now


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _width_becomes(locator, width, timeout=5.0):
    """Whether the element's drawn width reaches ``width`` pixels within ``timeout`` seconds
    (polled from here: the page's CSP forbids the evaluated scripts a wait_for_function needs)."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        box = locator.bounding_box()
        if box is not None and abs(box["width"] - width) < 0.5:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (installed by .ci/run)")
def test_end_to_end_in_headless_chromium(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    X = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    queries = make_queries(X, np.array([1, 2, 3]), np.array([0.3, 0.3, 0.5]), [0, 2])
    oracle = HumanOracle(db=tmp_path / "e2e.sqlite", poll_interval=0.05, timeout=60, verbose=0)
    result = {}
    thread = threading.Thread(target=lambda: result.update(answers=oracle.answer(queries)))
    thread.start()
    try:
        while oracle.server_ is None or oracle.server_.store.progress()["total"] < 2:
            thread.join(0.05)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=_chromium(),
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = browser.new_page()
            page.goto(oracle.server_.url)
            page.wait_for_selector("#who")  # a first visit: the page asks for a name
            assert "Type your name" in page.text_content("#status")
            page.fill("#who", "Ada L.")
            page.keyboard.press("Enter")
            page.wait_for_selector(".rung >> nth=90")
            assert page.text_content("#who-name") == "Ada L."
            assert "Query 1 of 2" in page.text_content("#status")
            # 8x8 images drawn at the zoom (3 at first; + and - change it), the focused
            # level once more at 320 / 8 = 40 times, beside the strip.
            first = page.locator(".rung img >> nth=0")
            assert _width_becomes(first, 24)
            page.keyboard.press("+")
            assert _width_becomes(first, 32)
            page.keyboard.press("-")
            page.keyboard.press("-")
            assert _width_becomes(first, 16) and page.input_value("#zoom") == "2"
            assert _width_becomes(page.locator("#preview"), 320)
            assert page.text_content("#preview-caption") == "sigma 0.30"  # the current level
            page.hover(".rung[data-sigma='0.25']")
            page.wait_for_selector("#preview-caption:has-text('sigma 0.25')")
            page.click(".rung[data-sigma='0.25']")  # a click on the threshold image
            page.wait_for_selector("#status:has-text('Query 2 of 2')")  # no eval: CSP forbids
            page.wait_for_selector(".rung >> nth=90")
            page.keyboard.press("ArrowRight")  # from the current level 0.5 to 0.51
            page.keyboard.press("Enter")
            page.wait_for_selector("#status:has-text('No open queries')")
            browser.close()
        thread.join(30)
        np.testing.assert_allclose(result["answers"], [0.25, 0.51])
    finally:
        oracle.close()


def _png_pixels(content):
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(content)))


def _post_example(client, x, sigmas, example=0):
    body = {
        "example": example,
        "x": np.asarray(x, dtype=np.float64).ravel().tolist(),
        "shape": list(np.shape(x)),
        "label": 1,
        "sigmas": [float(s) for s in sigmas],
        "current_sigma": float(sigmas[0]),
        "seed": 11,
    }
    r = client.post("/api/queries", json=body)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_images_are_rendered_in_the_apps_value_range(tmp_path, caplog):
    import warnings

    from robustsk.datasets import load_digits_images

    X, _ = load_digits_images(return_X_y=True)
    x01 = X[0].astype(np.float64)  # (1, 8, 8) in [0, 1]
    sigmas = np.array([0.0, 0.1, 0.3])
    unit = _client(create_app(QueryStore(tmp_path / "u.sqlite")))
    byte = _client(create_app(QueryStore(tmp_path / "b.sqlite"), clip=(0, 255)))
    per_px = _client(
        create_app(
            QueryStore(tmp_path / "p.sqlite"),
            clip=(np.zeros((1, 8, 8)), np.full((1, 8, 8), 255.0)),
        )
    )
    q_unit = _post_example(unit, x01, sigmas)
    q_byte = _post_example(byte, x01 * 255.0, sigmas * 255.0)  # levels in the data's units
    q_px = _post_example(per_px, x01 * 255.0, sigmas * 255.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "outside the valid range" warning per request
        for k in range(len(sigmas)):
            png = unit.get(f"/api/queries/{q_unit}/image/{k}.png").content
            assert byte.get(f"/api/queries/{q_byte}/image/{k}.png").content == png
            assert per_px.get(f"/api/queries/{q_px}/image/{k}.png").content == png
    clean = _png_pixels(unit.get(f"/api/queries/{q_unit}/image/0.png").content)
    np.testing.assert_array_equal(clean, np.rint(x01[0] * 255))  # [0, 1] onto 0-255, rounded
    noisy = _png_pixels(unit.get(f"/api/queries/{q_unit}/image/2.png").content)
    assert (noisy != clean).mean() > 0.5

    # 0-255 data in an app left at [0, 1]: logged once when posted, shown clipped (white)
    with caplog.at_level("WARNING", logger="robustsk.annotate"):
        q_wrong = _post_example(unit, x01 * 255.0, sigmas * 255.0, example=1)
    assert [r.getMessage() for r in caplog.records if "outside the valid range" in r.getMessage()]
    wrong = _png_pixels(unit.get(f"/api/queries/{q_wrong}/image/0.png").content)
    assert set(np.unique(wrong).tolist()) <= {0, 255}


def test_app_value_range_is_checked(tmp_path):
    with pytest.raises(ValueError, match="clip must be a pair"):
        create_app(QueryStore(":memory:"), clip=None)
    with pytest.raises(ValueError, match="low < high"):
        create_app(QueryStore(":memory:"), clip=(1, 0))
    client = _client(create_app(QueryStore(tmp_path / "s.sqlite"), clip=(np.zeros(3), np.ones(3))))
    r = _post_query(client)  # a (1, 2, 2) example: per-feature bounds of shape (3,) do not fit
    assert r.status_code == 422 and r.json()["detail"].startswith("shape")
    assert "per-feature clip" in r.json()["detail"]
    ok = client.post(
        "/api/queries",
        json={
            "example": 1,
            "x": [0.2, 0.5, 0.9],
            "shape": [3],
            "sigmas": [0.0],
            "current_sigma": 0.0,
        },
    )
    assert ok.status_code == 200
    assert client.get(f"/api/queries/{ok.json()['id']}/image/0.png").status_code == 200


def test_server_and_human_oracle_take_the_value_range(tmp_path):
    from robustsk.annotate import AnnotationServer, HumanOracle

    server = AnnotationServer(tmp_path / "a.sqlite", port=0, clip=(0, 255))
    assert server.clip == (0, 255)
    with pytest.raises(ValueError, match="clip"):
        AnnotationServer(tmp_path / "b.sqlite", port=0, clip=None)
    with pytest.raises(ValueError, match="clip"):
        AnnotationServer(tmp_path / "c.sqlite", port=0, clip=(1.0, 0.0))
    assert HumanOracle(db=tmp_path / "d.sqlite", clip=(0, 255)).clip == (0, 255)


def test_colour_images_are_shown_in_colour(tmp_path):
    """A 3 x 32 x 32 example (CIFAR-10's shape) becomes an RGB ladder strip, channels in
    place: the clean rung is the image itself, each noisy rung has its own noise."""
    rng = np.random.default_rng(0)
    x = rng.random((3, 32, 32))
    x[0, :4, :4], x[1, :4, :4], x[2, :4, :4] = 1.0, 0.0, 0.0  # a red corner
    client = _client(create_app(QueryStore(tmp_path / "c.sqlite")))
    q = _post_example(client, x, [0.0, 0.1, 0.3])
    clean = _png_pixels(client.get(f"/api/queries/{q}/image/0.png").content)
    assert clean.shape == (32, 32, 3)
    np.testing.assert_array_equal(clean, np.rint(np.transpose(x, (1, 2, 0)) * 255))
    assert (clean[:4, :4] == [255, 0, 0]).all()
    noisy = [_png_pixels(client.get(f"/api/queries/{q}/image/{k}.png").content) for k in (1, 2)]
    assert all(n.shape == (32, 32, 3) for n in noisy)
    diffs = [np.abs(n.astype(int) - clean).mean() for n in noisy]
    assert 0 < diffs[0] < diffs[1]  # more noise further up the ladder

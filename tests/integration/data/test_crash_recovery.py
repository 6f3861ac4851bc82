"""``kill -9`` of ``findme local run`` mid-processing loses nothing (issue 11, defect 1).

The real thing, as a newcomer runs it: ``findme local run`` in its own process group (API,
workers, moto server, DynamoDB Local), real photos uploaded over HTTP (multipart and
presigned POSTs straight to S3). While they are being processed every process of the run gets
SIGKILL at once (no handler runs, as in a power cut). The run is started again on the same
state directory, and then:

- the organiser's old token still works (the JWT secret survived);
- every uploaded photo is there and ends ``processed`` (or ``failed`` with a reason), the
  presigned ones included (their S3 notifications were still queued);
- the counts agree and the group's consistency check (face items vs vectors vs persons) is
  clean;
- no work waits for an SQS visibility timeout (360 s): the restart finishes well within it.

The second test keeps the stack itself alive (``findme local up``, then ``findme local run``
against it) and kills only the run: the digest messages it had received are released at
once by the restarted run instead of after the visibility timeout (it used to take 342 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from findme.local.outbox import last_sms
from findme.local.provision import DIGEST_VISIBILITY_TIMEOUT_S
from findme.local.stack import free_port
from findme.services.auth import code_in_message

MULTIPART = ("img2.jpg", "img4.jpg", "img5.jpg", "img6.jpg", "img7.jpg", "img8.jpg")
PRESIGNED = ("img9.jpg", "img10.jpg", "couple.jpg")
TOTAL = len(MULTIPART) + len(PRESIGNED)
SELFIE = "img3.jpg"
#: Seconds for a run to answer on /health (model load, JVM start) on a busy 2-core machine.
START_TIMEOUT_S = 180.0
#: Seconds for every photo to be processed after the restart: well under the digest queue's
#: visibility timeout (``DIGEST_VISIBILITY_TIMEOUT_S``, 360 s), so nothing waited for it.
RECOVERY_TIMEOUT_S = 150.0
#: Seconds for the re-clustering that follows the last digest (faces-dev: a second or two).
CLUSTER_TIMEOUT_S = 30.0
assert RECOVERY_TIMEOUT_S < DIGEST_VISIBILITY_TIMEOUT_S / 2


def _clean_env(state_dir: Path, port: int) -> dict[str, str]:
    """This test process's env without the session stack's endpoints (a fresh shell)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINDME_", "AWS_", "MOTO_"))}
    env["FINDME_LOCAL_STATE_DIR"] = str(state_dir)
    env["FINDME_PORT"] = str(port)
    if "FINDME_MODEL_MIRROR" in os.environ:
        env["FINDME_MODEL_MIRROR"] = os.environ["FINDME_MODEL_MIRROR"]
    return env


class Run:
    """One ``findme local run`` process group."""

    def __init__(self, state_dir: Path, port: int, log: Path) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "findme.cli", "local", "run", "--state-dir", str(state_dir)],
            env=_clean_env(state_dir, port),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: moto and DynamoDB Local too
        )
        self.log = log

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"local run exited ({self.proc.returncode}):\n{self._tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        pytest.fail(f"local run did not answer in {START_TIMEOUT_S} s:\n{self._tail()}")

    def crash(self) -> None:
        """SIGKILL every process of the run at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._wait_group_gone()

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._wait_group_gone()
        self._log.close()

    def _wait_group_gone(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _tail(self) -> str:
        self._log.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


@contextlib.contextmanager
def local_run(state_dir: Path, port: int) -> Iterator[Run]:
    run = Run(state_dir, port, state_dir.parent / "run.log")
    try:
        run.wait_ready()
        yield run
    finally:
        run.stop()


def _token(http: httpx.Client, state_dir: Path, images: Path) -> str:
    phone = "+14155550123"
    assert http.post("/auth/otp", json={"phone_number": phone}).status_code == 200
    sms = last_sms(state_dir, phone)
    assert sms is not None
    code = code_in_message(sms.message)
    response = http.post(
        "/register",
        data={"name": "Organiser", "phone_number": phone, "otp": code},
        files={"selfie": (SELFIE, (images / SELFIE).read_bytes(), "image/jpeg")},
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["access_token"])


def _counts(http: httpx.Client, gid: str, headers: dict[str, str]) -> dict[str, int]:
    response = http.get(f"/groups/{gid}", headers=headers)
    assert response.status_code == 200, response.text
    counts: dict[str, int] = response.json()["image_counts"]
    return counts


def _upload(http: httpx.Client, gid: str, headers: dict[str, str], images: Path) -> dict[str, Any]:
    response = http.post(
        "/upload",
        data={"group_id": gid},
        files=[("files", (n, (images / n).read_bytes(), "image/jpeg")) for n in MULTIPART],
        headers=headers,
    )
    assert response.status_code == 202, response.text
    response = http.post(
        f"/groups/{gid}/uploads",
        json={"files": [{"file_name": n, "content_type": "image/jpeg"} for n in PRESIGNED]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    for upload in response.json()["uploads"]:
        name = upload["file_name"]
        s3 = httpx.post(
            upload["url"],
            data=upload["fields"],
            files={"file": (name, (images / name).read_bytes(), "image/jpeg")},
            timeout=60,
        )
        assert s3.status_code in (200, 201, 204), s3.text
    return dict(response.json())


def _crash_mid_processing(run: Run, state_dir: Path, images: Path) -> tuple[str, dict[str, str]]:
    """Sign up, create a group, upload; SIGKILL the run once the first photo is processed."""
    with httpx.Client(base_url=run.base_url, timeout=120) as http:
        token = _token(http, state_dir, images)
        headers = {"Authorization": f"Bearer {token}"}
        response = http.post("/create-group", json={"group_name": "Gala"}, headers=headers)
        assert response.status_code == 201, response.text
        gid = str(response.json()["group_id"])
        _upload(http, gid, headers, images)
        deadline = time.monotonic() + START_TIMEOUT_S
        while _counts(http, gid, headers)["processed"] < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        before = _counts(http, gid, headers)
        run.crash()
    # the crash came mid-way: some photos were not processed yet
    assert before["processed"] + before["failed"] < TOTAL, before
    return gid, headers


def _assert_whole(run: Run, gid: str, headers: dict[str, str], started: float) -> None:
    """Old token works, every photo ends processed in time, counts and consistency agree."""
    with httpx.Client(base_url=run.base_url, timeout=120) as http:
        # the old token still works: users, groups and the JWT secret survived
        me = http.get("/users/me", headers=headers)
        assert me.status_code == 200, me.text

        def finished() -> dict[str, int] | None:
            counts = _counts(http, gid, headers)
            done = counts["processed"] + counts["failed"]
            return counts if counts["total"] == TOTAL and done == TOTAL else None

        counts = None
        while counts is None and time.monotonic() - started < RECOVERY_TIMEOUT_S:
            counts = finished()
            time.sleep(1.0)
        assert counts is not None, _counts(http, gid, headers)
        assert counts["processed"] == TOTAL, counts  # every photo is fine: none may fail

        # the counts agree and the metadata, vectors and persons are consistent
        # (the worker re-clusters the group once its queue runs empty: wait for that to end)
        body: dict[str, Any] = {}
        while time.monotonic() - started < RECOVERY_TIMEOUT_S + CLUSTER_TIMEOUT_S:
            report = http.get(f"/groups/{gid}/consistency", headers=headers)
            assert report.status_code == 200, report.text
            body = report.json()
            if body["consistent"]:
                break
            print("not consistent yet:", json.dumps(body))
            time.sleep(1.0)
        assert body["consistent"] is True, json.dumps(body)
        assert body["face_items"] == body["vectors"] > 0, body
        # every original is still in S3 (a presigned GET of each photo answers)
        photos = http.get("/get", params={"group_id": gid}, headers=headers)
        assert photos.status_code == 200, photos.text
        urls = [p["url"] for p in photos.json()["common_images"]]
        urls += [p["url"] for p in photos.json()["personal_images"]]
        assert len(urls) == TOTAL
        for url in urls:
            assert httpx.get(url, timeout=30).status_code == 200


def test_sigkill_of_the_whole_run_loses_nothing(tmp_path: Path, faces_dev: Path) -> None:
    images = faces_dev / "images"
    state_dir = tmp_path / "state"
    port = free_port()
    with local_run(state_dir, port) as run:
        gid, headers = _crash_mid_processing(run, state_dir, images)
    started = time.monotonic()
    with local_run(state_dir, port) as run:
        _assert_whole(run, gid, headers, started)


def test_a_restarted_run_takes_in_flight_work_at_once(tmp_path: Path, faces_dev: Path) -> None:
    images = faces_dev / "images"
    state_dir = tmp_path / "state"
    port = free_port()
    up = subprocess.run(  # the stack outlives the runs (its servers are detached)
        [
            sys.executable,
            "-m",
            "findme.cli",
            "local",
            "up",
            "--state-dir",
            str(state_dir),
            "--moto-port",
            str(free_port()),
            "--dynamodb-port",
            str(free_port()),
        ],
        env=_clean_env(state_dir, port),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert up.returncode == 0, up.stderr
    try:
        with local_run(state_dir, port) as run:
            gid, headers = _crash_mid_processing(run, state_dir, images)
        started = time.monotonic()
        with local_run(state_dir, port) as run:
            _assert_whole(run, gid, headers, started)
        assert "'released_messages': 0" not in run.log.read_text().split("recovered")[-1]
    finally:
        subprocess.run(
            [sys.executable, "-m", "findme.cli", "local", "down", "--state-dir", str(state_dir)],
            env=_clean_env(state_dir, port),
            check=False,
            timeout=60,
        )

"""Contract fuzzing: schemathesis over the whole OpenAPI document, against a running API.

Used by ``findme local fuzz`` (``make fuzz``) and by the CI test
``tests/integration/api/test_api_contract_fuzz.py``:

1. :func:`build_world` makes the few real resources fuzzing needs to get past 404s, through
   the API as a client would: an **organiser** (registered with a selfie) owning a group with
   a section and one processed, clustered photo (so a person, a face and jobs exist), a
   **member** (registered with a selfie) who joined the group, and, when the server lists an
   admin phone, an **admin**.
2. :func:`run_fuzz` runs the schemathesis CLI once per pass (:data:`PASSES`), each with one
   caller's bearer token, over every operation of ``/openapi.json``. The world's ids are
   offered as values of the matching path, query and body parameters (schemathesis
   dictionaries, used for 80 % of the values), so operations are reached with real
   resources as well as random ones.
3. It returns a :class:`FuzzSummary`: operations, test cases (requests), server errors and
   schema violations (``status_code_conformance`` and ``response_schema_conformance``
   failures), from schemathesis's JSON reports.

Destructive operations (deleting the caller, the group, the photo, faces, the section, a
membership) run in the last passes only, so the earlier passes see the world intact; every
operation of the document runs in some pass (nothing is excluded).

Why one module of about 500 lines: one tool: the world it builds, the schemathesis
configuration, the run and its JSON summary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: The checks the contract is held to (schemathesis check names).
CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance")
#: Failure types (schemathesis ``Failure`` classes) counted as server errors.
SERVER_ERROR_TYPES = frozenset({"ServerError"})
#: Operations that destroy the world (a user, the group, the photo, faces, the section);
#: run only in the last passes. Names are schemathesis's ``METHOD /path``.
DESTRUCTIVE: tuple[str, ...] = (
    "DELETE /users/me",
    "DELETE /admin/users/{user_id}",
    "DELETE /groups/{group_id}",
    "DELETE /images/{image_id}",
    "POST /faces:batch-delete",
    "POST /faces/batch-delete",
    "DELETE /groups/{group_id}/sections/{section_id}",
    "DELETE /groups/{group_id}/members/{user_id}",
)
#: Probability that a parameter named like a world id takes the world's value.
WORLD_VALUE_PROBABILITY = 0.8


@dataclass(frozen=True, slots=True)
class Pass:
    """One schemathesis run: whose token, and which operations (``destructive`` or the rest)."""

    name: str
    caller: str  # "organiser" | "member" | "admin"
    destructive: bool


#: Member first (it cannot change the group), then the organiser and the admin, then the
#: destructive operations: member (it deletes itself), organiser (group, photo, itself),
#: admin (any user) last. A pass whose caller the world lacks is skipped.
PASSES: tuple[Pass, ...] = (
    Pass("member", "member", destructive=False),
    Pass("organiser", "organiser", destructive=False),
    Pass("admin", "admin", destructive=False),
    Pass("member-destructive", "member", destructive=True),
    Pass("organiser-destructive", "organiser", destructive=True),
    Pass("admin-destructive", "admin", destructive=True),
)


@dataclass(frozen=True, slots=True)
class FuzzWorld:
    """Tokens and ids of the resources fuzzing starts from."""

    organiser_token: str
    member_token: str
    organiser_id: str
    member_id: str
    group_id: str
    invite_code: str
    image_id: str
    section_id: str
    person_id: str | None
    face_id: str | None
    job_ids: tuple[str, ...]
    admin_token: str | None = None

    def token(self, caller: str) -> str | None:
        tokens = {
            "organiser": self.organiser_token,
            "member": self.member_token,
            "admin": self.admin_token,
        }
        return tokens[caller]

    def dictionaries(self) -> dict[str, list[str]]:
        """Schemathesis dictionaries: parameter name -> the world's values for it."""
        values: dict[str, list[str]] = {
            "group_id": [self.group_id],
            "image_id": [self.image_id],
            "section_id": [self.section_id],
            "user_id": [self.organiser_id, self.member_id],
            "job_id": list(self.job_ids),
            "invite_code": [self.invite_code],
        }
        if self.person_id:
            values["person_id"] = [self.person_id]
        if self.face_id:
            values["face_id"] = [self.face_id]
        return {name: vals for name, vals in values.items() if vals}


@dataclass(slots=True)
class PassResult:
    name: str
    operations_tested: int
    test_cases: int
    server_errors: int
    schema_violations: int
    failures: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    exit_code: int
    seconds: float


@dataclass(slots=True)
class FuzzSummary:
    """What ``make fuzz`` prints (JSON)."""

    operations: int
    operations_tested: int
    requests: int
    server_errors: int
    schema_violations: int
    errors: int
    seconds: float
    max_examples: int
    checks: list[str]
    passes: list[PassResult] = field(default_factory=list)
    world_seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return self.server_errors == 0 and self.schema_violations == 0 and self.errors == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the world --------------------------------------------------------------------------------
def _phone() -> str:
    return f"+1555{uuid.uuid4().int % 10**7:07d}"


def _ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    if response.status_code not in statuses:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body


def _poll(what: str, probe: Callable[[], Any], timeout_s: float, every_s: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(every_s)


def register_user(
    http: httpx.Client,
    otp_for: Callable[[str], str],
    name: str,
    selfie: Path,
    phone: str | None = None,
) -> tuple[str, str]:
    """Sign up through ``/auth/otp`` + ``/register`` -> ``(user_id, access_token)``."""
    phone = phone or _phone()
    _ok(http.post("/auth/otp", json={"phone_number": phone}), 200)
    body = _ok(
        http.post(
            "/register",
            data={"name": name, "phone_number": phone, "otp": otp_for(phone)},
            files={"selfie": (selfie.name, selfie.read_bytes(), "image/jpeg")},
        ),
        201,
    )
    return str(body["user_id"]), str(body["access_token"])


# Long on purpose: the fuzzing world is one sequence of API calls, each using the previous
# answers.
def build_world(
    http: httpx.Client,
    otp_for: Callable[[str], str],
    *,
    organiser_selfie: Path,
    member_selfie: Path,
    photo: Path,
    admin: tuple[str, Path] | None = None,
    timeout_s: float = 600.0,
) -> FuzzWorld:
    """Create the organiser, the group (section, one processed and clustered photo), the
    member and (optionally) an admin.

    Args:
        http: a client on the API's base URL.
        otp_for: phone number -> the last code sent to it (the local stack's SMS outbox).
        organiser_selfie / member_selfie: photos of one face each (different people).
        photo: a photo with faces, uploaded to the group.
        admin: ``(phone, selfie)`` of an admin (a phone in the server's ``admin_phones``).
        timeout_s: how long to wait for digest and clustering, seconds.

    Raises:
        RuntimeError: an API call did not answer as a client expects.
        TimeoutError: processing did not finish in ``timeout_s``.
    """
    organiser_id, organiser = register_user(http, otp_for, "Fuzz Organiser", organiser_selfie)
    member_id, member = register_user(http, otp_for, "Fuzz Member", member_selfie)
    as_org = {"Authorization": f"Bearer {organiser}"}
    as_member = {"Authorization": f"Bearer {member}"}
    group = _ok(
        http.post("/create-group", json={"group_name": "Fuzz", "description": ""}, headers=as_org),
        201,
    )
    gid = str(group["group_id"])
    section = _ok(
        http.post(f"/groups/{gid}/sections", json={"name": "Ceremony"}, headers=as_org), 201
    )
    uploaded = _ok(
        http.post(
            "/upload",
            data={"group_id": gid},
            files=[("files", (photo.name, photo.read_bytes(), "image/jpeg"))],
            headers=as_org,
        ),
        202,
    )
    image_id = str(uploaded["image_ids"][0])

    def processed() -> bool | None:
        counts = _ok(http.get(f"/groups/{gid}", headers=as_org), 200)["image_counts"]
        return True if counts["processed"] + counts["failed"] >= 1 else None

    _poll("digest", processed, timeout_s)
    cluster = _ok(http.post("/cluster-faces", json={"group_id": gid}, headers=as_org), 202)

    def clustered() -> bool | None:
        job = _ok(http.get(f"/jobs/{cluster['job_id']}", headers=as_org), 200)
        return True if job["status"] in ("succeeded", "failed") else None

    _poll("clustering", clustered, timeout_s)
    persons = _ok(http.get(f"/groups/{gid}/persons", headers=as_org), 200)["items"]
    faces = _ok(http.post("/faces/search", json={"group_ids": [gid]}, headers=as_org), 200).get(
        "faces", []
    )
    download = _ok(http.post("/download", json={"image_ids": [image_id]}, headers=as_org), 202)
    _ok(
        http.post(
            f"/groups/{gid}/join", json={"invite_code": group["invite_code"]}, headers=as_member
        ),
        200,
    )
    admin_token = None
    if admin is not None:
        _, admin_token = register_user(http, otp_for, "Fuzz Admin", admin[1], phone=admin[0])
    return FuzzWorld(
        admin_token=admin_token,
        organiser_token=organiser,
        member_token=member,
        organiser_id=organiser_id,
        member_id=member_id,
        group_id=gid,
        invite_code=str(group["invite_code"]),
        image_id=image_id,
        section_id=str(section["section_id"]),
        person_id=str(persons[0]["person_id"]) if persons else None,
        face_id=str(faces[0]["face_id"]) if faces else None,
        job_ids=(str(cluster["job_id"]), str(download["job_id"])),
    )


# --- schemathesis ----------------------------------------------------------------------------
def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def schemathesis_config(world: FuzzWorld) -> str:
    """``schemathesis.toml`` offering the world's ids as parameter values (dictionaries)."""
    lines: list[str] = []
    for name, values in sorted(world.dictionaries().items()):
        lines.append(f"[dictionaries.{name}]")
        lines.append("values = [" + ", ".join(_toml_str(v) for v in values) + "]")
    lines.append("[parameters]")
    for name in sorted(world.dictionaries()):
        for location in ("path", "query", "body"):
            binding = f'{{ dictionary = "{name}", probability = {WORLD_VALUE_PROBABILITY} }}'
            lines.append(f'"{location}.{name}" = {binding}')
    return "\n".join(lines) + "\n"


def schemathesis_command(
    base_url: str,
    *,
    config: Path,
    token: str,
    report: Path,
    max_examples: int,
    destructive: bool,
    phases: Iterable[str],
    seed: int | None,
    workers: int,
) -> list[str]:
    """The ``schemathesis run`` command line of one pass."""
    names = [arg for name in DESTRUCTIVE for arg in ("--include-name", name)]
    if not destructive:
        names = [arg for name in DESTRUCTIVE for arg in ("--exclude-name", name)]
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(max_examples),
        "--phases",
        ",".join(phases),
        "--workers",
        str(workers),
        "--request-timeout",
        "60",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--continue-on-failure",
        "--no-color",
        "--output-truncate",
        "true",
        *names,
    ]
    if seed is not None:
        command += ["--seed", str(seed)]
    return command


def _pass_result(name: str, report: dict[str, Any], exit_code: int, seconds: float) -> PassResult:
    failures = [
        {k: group[k] for k in ("type", "title", "count", "operations")}
        for group in report.get("failures", [])
    ]
    server = sum(f["count"] for f in failures if f["type"] in SERVER_ERROR_TYPES)
    schema = sum(f["count"] for f in failures if f["type"] not in SERVER_ERROR_TYPES)
    operations = report.get("operations") or {}
    return PassResult(
        name=name,
        operations_tested=int(operations.get("tested", 0)),
        test_cases=int(report.get("test_cases", {}).get("generated", 0)),
        server_errors=server,
        schema_violations=schema,
        failures=failures,
        errors=list(report.get("errors", [])),
        exit_code=exit_code,
        seconds=round(seconds, 1),
    )


# Long on purpose: one schemathesis run from start to JSON summary; its parts share the temporary
# directory and process.
def run_fuzz(
    base_url: str,
    world: FuzzWorld,
    workdir: Path,
    *,
    max_examples: int,
    phases: Iterable[str] = ("examples", "coverage", "fuzzing", "stateful"),
    passes: Iterable[Pass] = PASSES,
    seed: int | None = None,
    workers: int = 1,
    timeout_s: float = 3600.0,
    log: Callable[[str], None] = lambda _: None,
) -> FuzzSummary:
    """Run every pass of schemathesis against ``base_url`` and sum up the reports.

    Args:
        base_url: the API, e.g. ``http://127.0.0.1:8080``.
        world: from :func:`build_world`.
        workdir: where the config, the JSON reports and the CLI logs go.
        max_examples: test cases per operation and phase (schemathesis ``--max-examples``).
        phases: schemathesis phases to run.
        passes: the passes, in order.
        seed: for a reproducible run.
        workers: concurrent schemathesis workers.
        timeout_s: wall-clock limit per pass (the pass counts as errored past it), seconds.
        log: receives a line per pass (progress).

    Returns:
        The summed :class:`FuzzSummary`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "schemathesis.toml"
    config.write_text(schemathesis_config(world))
    phases = tuple(phases)
    document = httpx.get(f"{base_url}/openapi.json", timeout=30).json()
    operations = sum(
        1
        for item in document["paths"].values()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    )
    summary = FuzzSummary(
        operations=operations,
        operations_tested=0,
        requests=0,
        server_errors=0,
        schema_violations=0,
        errors=0,
        seconds=0.0,
        max_examples=max_examples,
        checks=list(CHECKS),
    )
    started = time.monotonic()
    for fuzz_pass in passes:
        token = world.token(fuzz_pass.caller)
        if token is None:
            continue
        report_path = workdir / f"{fuzz_pass.name}.json"
        report_path.unlink(missing_ok=True)
        command = schemathesis_command(
            base_url,
            config=config,
            token=token,
            report=report_path,
            max_examples=max_examples,
            destructive=fuzz_pass.destructive,
            phases=phases,
            seed=seed,
            workers=workers,
        )
        t0 = time.monotonic()
        with (workdir / f"{fuzz_pass.name}.log").open("w") as out:
            try:
                # In ``workdir``: schemathesis keeps its cache (.schemathesis/) in the cwd.
                exit_code = subprocess.run(  # noqa: S603 - our own interpreter and arguments
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=timeout_s,
                    check=False,
                    cwd=workdir,
                ).returncode
            except subprocess.TimeoutExpired:
                exit_code = -1
        report: dict[str, Any] = (
            json.loads(report_path.read_text()) if report_path.is_file() else {}
        )
        result = _pass_result(fuzz_pass.name, report, exit_code, time.monotonic() - t0)
        if not report:
            result.errors.append({"title": "no schemathesis report", "count": 1})
        summary.passes.append(result)
        summary.requests += result.test_cases
        summary.server_errors += result.server_errors
        summary.schema_violations += result.schema_violations
        summary.errors += sum(int(e.get("count", 1)) for e in result.errors)
        log(
            f"{fuzz_pass.name}: {result.test_cases} test cases, {result.server_errors} server "
            f"errors, {result.schema_violations} schema violations, {result.seconds} s"
        )
    # Each operation runs in the non-destructive or the destructive passes.
    summary.operations_tested = max(
        (p.operations_tested for p in summary.passes if not p.name.endswith("destructive")),
        default=0,
    ) + max(
        (p.operations_tested for p in summary.passes if p.name.endswith("destructive")),
        default=0,
    )
    summary.seconds = round(time.monotonic() - started, 1)
    return summary

"""Event evaluation: "my photos" precision and recall on a labelled event, through the real path.

Protocol (``../shared/data/event-dev/README.md``): ``labels.csv`` names each photo's main
identity (``file,identity``). Identities with at least ``min_attendee_photos`` photos are
*attendees*: their first photo (by file name) is the selfie they register with, the rest
are event photos of them. Every other identity is a *guest* who never registers. Every photo
but the selfies is uploaded to one group and digested (the digest service: decode, detect,
align, embed, quality, save, place new faces); the group is clustered (the cluster
service); each attendee registers (the selfie check and reference face of ``/register``) and
joins; their personal photos are :func:`findme.services.search.personal_matches`, what
``GET /get`` returns. Precision = returned photos that show them; recall = their photos
returned; an attendee given nothing has precision 1 and recall 0.

Persons are scored by BCubed (:func:`findme.domain.metrics.bcubed`) over *labelled* faces:
in each photo the face nearest the centre carries the photo's identity; other faces are
unlabelled and left out.

``incremental_share`` of the photos (the last ones, in a seeded random order) are uploaded
after clustering, so digest places them into the known persons (place new faces), as
between two nightly re-clusters of a live event.

``after_truthful_candidate_answers`` scores the photos once each attendee has answered "Is
this you?" truthfully (yes when most of the candidate person's photos show them).

Why one module of about 450 lines: the plan, the run and the scoring of one labelled event
belong together; the run is split into its steps below (upload and place, register, score my
photos, score persons).
"""

from __future__ import annotations

import csv
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from findme.domain.keys import KeyScheme
from findme.domain.metrics import bcubed
from findme.domain.records import Group, GroupRole, Membership, User
from findme.errors import FaceRequirementError, InvalidInputError
from findme.services.cluster import ClusterTask, run_cluster_job
from findme.services.digest import DigestDeps, digest_object
from findme.services.search import match_user
from findme.services.users import add_reference_face, check_selfie

#: Precision below which an attendee counts as "shown a stranger's photos".
PRECISION_BAR = 0.9


@dataclass(frozen=True, slots=True)
class EventPlan:
    """Who is who in a labelled event.

    Attributes:
        selfies: attendee -> selfie file name.
        truth: attendee -> file names of their event photos (selfie excluded).
        uploads: every file name uploaded (all but the selfies).
        identity: file name -> the photo's main identity.
    """

    selfies: dict[str, str]
    truth: dict[str, set[str]]
    uploads: list[str]
    identity: dict[str, str]


def plan_event(
    labels_csv: Path,
    *,
    min_attendee_photos: int = 2,
    attendees: int | None = None,
    guests: int | None = None,
    seed: int = 0,
) -> EventPlan:
    """Read ``labels.csv`` (``file,identity``) and split attendees, selfies and guests.

    Args:
        labels_csv: the labels file.
        min_attendee_photos: photos an identity needs to be an attendee (selfie + 1).
        attendees: keep this many attendees (seeded sample; default all).
        guests: keep this many guests (seeded sample; default all).
        seed: sampling seed.

    Raises:
        InvalidInputError: the file lacks ``file``/``identity`` columns or names no attendee.
    """
    by_identity: dict[str, list[str]] = defaultdict(list)
    with labels_csv.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"file", "identity"} <= set(reader.fieldnames):
            raise InvalidInputError("labels CSV needs the columns file,identity")
        for row in reader:
            by_identity[row["identity"]].append(row["file"])
    rng = random.Random(seed)
    people = sorted(i for i, f in by_identity.items() if len(f) >= min_attendee_photos)
    strangers = sorted(i for i, f in by_identity.items() if len(f) < min_attendee_photos)
    if not people:
        raise InvalidInputError("no identity has enough photos to be an attendee")
    if attendees is not None and attendees < len(people):
        people = sorted(rng.sample(people, attendees))
    if guests is not None and guests < len(strangers):
        strangers = sorted(rng.sample(strangers, guests))
    selfies: dict[str, str] = {}
    truth: dict[str, set[str]] = {}
    uploads: list[str] = []
    identity: dict[str, str] = {}
    for person in people:
        files = sorted(by_identity[person])
        selfies[person] = files[0]
        truth[person] = set(files[1:])
        uploads += files[1:]
    for person in strangers:
        uploads += sorted(by_identity[person])
    for person in people + strangers:
        for f in by_identity[person]:
            identity[f] = person
    return EventPlan(selfies, truth, sorted(uploads), identity)


@dataclass(slots=True)
class EventReport:
    """Figures of one evaluation (``as_dict`` is the JSON the command prints)."""

    attendees: int = 0
    guests_photos: int = 0
    photos_uploaded: int = 0
    photos_failed: int = 0
    faces: int = 0
    persons: int = 0
    precision_mean: float = 1.0
    precision_worst: float = 1.0
    recall_mean: float = 0.0
    recall_worst: float = 0.0
    attendees_below_precision_bar: int = 0
    share_below_precision_bar: float = 0.0
    attendees_given_nothing: int = 0
    candidates_mean: float = 0.0
    after_candidates: dict[str, float] = field(default_factory=dict)
    selfies_needing_crop: int = 0
    bcubed: dict[str, float] = field(default_factory=dict)
    worst: list[dict[str, Any]] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "attendees": self.attendees,
            "photos_uploaded": self.photos_uploaded,
            "photos_failed": self.photos_failed,
            "faces": self.faces,
            "persons": self.persons,
            "precision": {"mean": self.precision_mean, "worst": self.precision_worst},
            "recall": {"mean": self.recall_mean, "worst": self.recall_worst},
            "attendees_below_precision_0_9": self.attendees_below_precision_bar,
            "share_below_precision_0_9": self.share_below_precision_bar,
            "attendees_given_nothing": self.attendees_given_nothing,
            "candidates_per_attendee": self.candidates_mean,
            "after_truthful_candidate_answers": self.after_candidates,
            "selfies_needing_crop": self.selfies_needing_crop,
            "persons_bcubed": self.bcubed,
            "worst_attendees": self.worst,
            "timings_s": self.timings_s,
            "settings": self.settings,
        }


def run_event(
    plan: EventPlan,
    images_dir: Path,
    deps: DigestDeps,
    *,
    load: Callable[[Path], bytes],
    workers: int = 2,
    incremental_share: float = 0.0,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> EventReport:
    """Upload, digest, cluster, register and match an event; score "my photos".

    Args:
        plan: from :func:`plan_event`.
        images_dir: folder of the photos named in the plan.
        deps: the stores, engine and settings (the same ports the Lambdas use).
        load: photo path -> the bytes to upload (e.g. with a padding border).
        workers: photos digested in parallel.
        incremental_share: share of photos uploaded after clustering (``[0, 1)``).
        seed: order of the incremental photos.
        progress: called with a line of progress now and then.

    Returns:
        An :class:`EventReport`.

    Raises:
        InvalidInputError: ``incremental_share`` outside ``[0, 1)``.
        DependencyError: from the stores.
    """
    if not 0.0 <= incremental_share < 1.0:
        raise InvalidInputError("incremental_share must be in [0, 1)")
    say = progress or (lambda _line: None)
    report = EventReport(attendees=len(plan.selfies))
    settings, metadata = deps.settings, deps.metadata
    group_id = str(uuid.uuid4())
    metadata.put_group(Group(group_id=group_id, name="event evaluation", owner_id="eval"))
    image_file = _upload_cluster_and_place(
        plan,
        images_dir,
        deps,
        group_id,
        report,
        load=load,
        workers=workers,
        incremental_share=incremental_share,
        seed=seed,
        say=say,
    )
    user_of = _register_attendees(plan, images_dir, deps, group_id, report, load=load)
    _score_my_photos(plan, deps, group_id, report, user_of=user_of, image_file=image_file)
    _score_persons(plan, deps, group_id, report, image_file=image_file)
    report.settings = {
        "cluster_method": settings.cluster_method,
        "cluster_linkage_threshold": settings.cluster_linkage_threshold,
        "match_expected_false_persons": settings.match_expected_false_persons,
        "match_expected_false_faces": settings.match_expected_false_faces,
        "match_top_k": settings.match_top_k,
        "incremental_share": incremental_share,
    }
    return report


def _upload_cluster_and_place(
    plan: EventPlan,
    images_dir: Path,
    deps: DigestDeps,
    group_id: str,
    report: EventReport,
    *,
    load: Callable[[Path], bytes],
    workers: int,
    incremental_share: float,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, str]:
    """Upload and digest the early photos, cluster, then upload and digest the late ones
    (placed incrementally) -> image id -> photo file name."""
    settings, metadata, vectors, store = deps.settings, deps.metadata, deps.vectors, deps.store
    keys = KeyScheme.from_settings(settings)
    order = list(plan.uploads)
    random.Random(seed).shuffle(order)
    late_count = round(len(order) * incremental_share)
    early, late = order[: len(order) - late_count], order[len(order) - late_count :]
    image_file: dict[str, str] = {}

    def upload_and_digest(name: str) -> str:
        image_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{group_id}/{name}"))
        key = keys.original(group_id, image_id, ".jpg")
        store.put(key, load(images_dir / name), "image/jpeg", {"file-name": name})
        image_file[image_id] = name
        return digest_object(key, deps).status

    def digest_all(names: Sequence[str], label: str) -> None:
        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for done, status in enumerate(pool.map(upload_and_digest, names), 1):
                report.photos_failed += status == "failed"
                if done % 200 == 0:
                    say(f"{label}: {done}/{len(names)} photos")
        report.timings_s[f"digest_{label}"] = round(time.perf_counter() - t, 2)
        if names:
            report.timings_s[f"digest_{label}_per_photo"] = round(
                (time.perf_counter() - t) / len(names) * max(1, workers), 4
            )

    digest_all(early, "upload")
    t = time.perf_counter()
    run_cluster_job(
        ClusterTask(group_id=group_id), metadata=metadata, vectors=vectors, settings=settings
    )
    report.timings_s["cluster"] = round(time.perf_counter() - t, 2)
    say("clustered")
    digest_all(late, "incremental")
    report.photos_uploaded = len(order)
    return image_file


def _register_attendees(
    plan: EventPlan,
    images_dir: Path,
    deps: DigestDeps,
    group_id: str,
    report: EventReport,
    *,
    load: Callable[[Path], bytes],
) -> dict[str, str]:
    """Register every attendee with their selfie, as ``/register`` checks it (a selfie it
    refuses is cropped to the face nearest the centre, as the app would ask the attendee to
    retake it), as a member of the group -> attendee label -> user id."""
    settings, metadata = deps.settings, deps.metadata
    t = time.perf_counter()
    user_of: dict[str, str] = {}
    for person, selfie_name in plan.selfies.items():
        data = load(images_dir / selfie_name)
        analysis = deps.engine.analyze(data, embed=True, quality=True)
        try:
            face = check_selfie(
                analysis.faces, settings, width=analysis.width, height=analysis.height
            )
        except FaceRequirementError:
            if not analysis.faces:
                continue
            report.selfies_needing_crop += 1
            cx, cy = analysis.width / 2, analysis.height / 2
            face = min(
                analysis.faces,
                key=lambda f: (
                    (f.bbox.x + f.bbox.w / 2 - cx) ** 2 + (f.bbox.y + f.bbox.h / 2 - cy) ** 2
                ),
            )
        user = User(user_id=str(uuid.uuid4()), phone_number=f"+1555{len(user_of):07d}", name=person)
        metadata.put_user(user)
        add_reference_face(
            metadata=metadata,
            objects=deps.store,
            vectors=deps.vectors,
            settings=settings,
            user_id=user.user_id,
            data=data,
            face=face,
        )
        metadata.put_membership(Membership(group_id, user.user_id, GroupRole.MEMBER))
        user_of[person] = user.user_id
    report.timings_s["register"] = round(time.perf_counter() - t, 2)
    return user_of


def _score_my_photos(
    plan: EventPlan,
    deps: DigestDeps,
    group_id: str,
    report: EventReport,
    *,
    user_of: dict[str, str],
    image_file: dict[str, str],
) -> None:
    """Each attendee's personal photos as ``GET /get`` computes them, against the labels:
    precision, recall, and what truthful "Is this you?" answers would add."""
    settings, metadata, vectors = deps.settings, deps.metadata, deps.vectors
    t = time.perf_counter()
    precisions: list[float] = []
    recalls: list[float] = []
    precisions_after: list[float] = []
    recalls_after: list[float] = []
    candidates = 0
    rows: list[dict[str, Any]] = []
    for person, truth in plan.truth.items():
        user_id = user_of.get(person)
        got: set[str] = set()
        answered: set[str] = set()
        if user_id is not None:
            found = match_user(metadata, vectors, settings, user_id, [group_id])
            got = {image_file[i] for i in found.matches if i in image_file}
            candidates += len(found.candidates)
            # an attendee who answers "Is this you?" truthfully (most of the person's photos
            # show them) adds the person's photos
            for c in found.candidates:
                photos = {
                    image_file[f.image_id]
                    for f in metadata.list_faces_of_person(c.person_id)
                    if f.image_id in image_file
                }
                if photos and len(photos & truth) * 2 > len(photos):
                    answered |= photos
        answered |= got
        right_after = len(answered & truth)
        precisions_after.append(right_after / len(answered) if answered else 1.0)
        recalls_after.append(right_after / len(truth) if truth else 1.0)
        right = len(got & truth)
        precision = right / len(got) if got else 1.0
        recall = right / len(truth) if truth else 1.0
        precisions.append(precision)
        recalls.append(recall)
        report.attendees_given_nothing += not got
        rows.append(
            {
                "attendee": person,
                "precision": round(precision, 3),
                "recall": round(recall, 3),
                "returned": len(got),
                "photos": len(truth),
                "wrong": sorted(got - truth)[:5],
            }
        )
    report.timings_s["match_per_attendee"] = round(
        (time.perf_counter() - t) / max(1, len(plan.truth)), 4
    )
    p = np.asarray(precisions)
    r = np.asarray(recalls)
    if p.size:
        report.precision_mean = round(float(p.mean()), 4)
        report.precision_worst = round(float(p.min()), 4)
        report.recall_mean = round(float(r.mean()), 4)
        report.recall_worst = round(float(r.min()), 4)
        below = int((p < PRECISION_BAR).sum())
        report.attendees_below_precision_bar = below
        report.share_below_precision_bar = round(below / p.size, 4)
        report.candidates_mean = round(candidates / p.size, 3)
        report.after_candidates = {
            "precision_mean": round(float(np.mean(precisions_after)), 4),
            "recall_mean": round(float(np.mean(recalls_after)), 4),
        }
    rows.sort(key=lambda x: (x["precision"], x["recall"]))
    report.worst = rows[:5]


def _score_persons(
    plan: EventPlan,
    deps: DigestDeps,
    group_id: str,
    report: EventReport,
    *,
    image_file: dict[str, str],
) -> None:
    """Persons: BCubed over the labelled (most central) face of each photo."""
    metadata = deps.metadata
    faces = list(metadata.list_faces_of_group(group_id))
    report.faces = len(faces)
    report.persons = len(metadata.list_persons(group_id))
    central: dict[str, tuple[float, str | None]] = {}
    images = {i.image_id: i for i in metadata.get_images({f.image_id for f in faces})}
    for f in faces:
        image = images.get(f.image_id)
        if image is None or not image.width or not image.height:
            continue
        dx = f.bbox["x"] + f.bbox["w"] / 2 - image.width / 2
        dy = f.bbox["y"] + f.bbox["h"] / 2 - image.height / 2
        d = dx * dx + dy * dy
        if f.image_id not in central or d < central[f.image_id][0]:
            central[f.image_id] = (d, f.person_id)
    truth_labels = [plan.identity[image_file[i]] for i in central if i in image_file]
    predicted = [central[i][1] for i in central if i in image_file]
    score = bcubed(truth_labels, predicted)
    report.bcubed = {
        "precision": round(score.precision, 4),
        "recall": round(score.recall, 4),
        "f": round(score.f, 4),
        "faces": len(truth_labels),
    }

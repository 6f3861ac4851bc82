"""The MetadataStore contract: DynamoMetadataStore against moto (unit) and DynamoDB Local.

Fixtures a tier provides: ``store`` (a :class:`DynamoMetadataStore` over provisioned tables).
Every test uses fresh ids, so the tables are shared and never wiped.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from findme.adapters.dynamodb import OTP_SEND_WINDOW, DynamoMetadataStore
from findme.domain.records import (
    Group,
    GroupRole,
    ImageStatus,
    Job,
    JobStatus,
    JobType,
    Membership,
    OtpChallenge,
    PersonLink,
    ReferenceFace,
    Role,
    Section,
    User,
)
from findme.errors import ConflictError, InvalidInputError, NotFoundError

from contracts.records import face, image, new_id, new_phone, person


class MetadataStoreContract:
    #: Whether concurrent writes are atomic on the backend (DynamoDB, DynamoDB Local: yes;
    #: moto in-process checks conditions and applies ADD without a lock, so racers collide).
    atomic_under_concurrency = True

    # --- users: phone numbers are unique ------------------------------------------------------
    def test_user_round_trip_and_lookup_by_phone(self, store: DynamoMetadataStore) -> None:
        # Given a new user
        user = User(new_id("u"), new_phone(), "Ada", role=Role.PHOTOGRAPHER)
        # When it is stored
        store.put_user(user)
        # Then it reads back equal, by id and by phone number
        assert store.get_user(user.user_id) == user
        assert store.find_user_by_phone(user.phone_number) == user
        assert store.find_user_by_phone(new_phone()) is None

    def test_second_user_with_same_phone_conflicts(self, store: DynamoMetadataStore) -> None:
        # Given a user holding a phone number
        phone = new_phone()
        first = User(new_id("u"), phone, "First")
        store.put_user(first)
        # When another user registers the same number
        with pytest.raises(ConflictError) as info:
            store.put_user(User(new_id("u"), phone, "Second"))
        # Then it is refused and the first user still owns the number
        assert info.value.code == "phone_taken"
        assert store.find_user_by_phone(phone) == first

    def test_changing_or_deleting_releases_the_phone(self, store: DynamoMetadataStore) -> None:
        # Given a user who changes number, and the user is later deleted
        old, new = new_phone(), new_phone()
        user = User(new_id("u"), old, "Ada")
        store.put_user(user)
        store.put_user(dataclasses.replace(user, phone_number=new, name="Ada L."))
        # Then the old number is free for someone else, the new one is taken
        assert store.find_user_by_phone(old) is None
        store.put_user(User(new_id("u"), old, "Other"))
        assert store.get_user(user.user_id).name == "Ada L."
        # When the user is deleted, the new number is released too (idempotently)
        store.delete_user(user.user_id)
        store.delete_user(user.user_id)
        assert store.find_user_by_phone(new) is None
        with pytest.raises(NotFoundError):
            store.get_user(user.user_id)
        store.put_user(User(new_id("u"), new, "Third"))

    def test_concurrent_registrations_of_one_phone_admit_one(
        self, store: DynamoMetadataStore
    ) -> None:
        if not self.atomic_under_concurrency:
            pytest.skip("this backend's writes are not atomic under concurrency")
        # Given eight users racing for one number
        phone = new_phone()
        outcomes: list[str] = []

        def register(i: int) -> None:
            try:
                store.put_user(User(new_id("u"), phone, f"racer {i}"))
                outcomes.append("ok")
            except ConflictError:
                outcomes.append("conflict")

        threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Then exactly one wins
        assert outcomes.count("ok") == 1
        assert outcomes.count("conflict") == 7

    def test_list_users_paginates(self, store: DynamoMetadataStore) -> None:
        # Given some users (the table is shared, so count only ours)
        ours = {new_id("u") for _ in range(5)}
        for user_id in ours:
            store.put_user(User(user_id, new_phone(), "x"))
        # When every page of size 2 is read
        seen: list[str] = []
        cursor = None
        while True:
            page = store.list_users(limit=2, cursor=cursor)
            assert len(page.items) <= 2
            seen += [u.user_id for u in page.items]
            cursor = page.cursor
            if cursor is None:
                break
        # Then each user appears exactly once
        assert ours <= set(seen)
        assert len(seen) == len(set(seen))

    # --- OTP: hashed code, attempts, TTL ------------------------------------------------------
    def test_otp_round_trip_with_ttl(self, store: DynamoMetadataStore) -> None:
        # Given a challenge expiring in 5 minutes, its send window opened now
        now = datetime.now(UTC).replace(microsecond=0)
        otp = OtpChallenge(
            new_phone(), "sha256:abc", now + timedelta(minutes=5), 2, 3, window_started_at=now
        )
        # When stored
        store.put_otp(otp)
        # Then it reads back, and its TTL (epoch seconds) outlives the send window
        assert store.get_otp(otp.phone_number) == otp
        raw = store.otps.get(otp.phone_number, consistent_read=True)
        assert raw.ttl == now + OTP_SEND_WINDOW
        assert raw.serialize()["ttl"] == {"N": str(int((now + OTP_SEND_WINDOW).timestamp()))}
        store.delete_otp(otp.phone_number)
        assert store.get_otp(otp.phone_number) is None

    def test_otp_attempts_are_counted_up_to_the_limit_for_this_code(
        self, store: DynamoMetadataStore
    ) -> None:
        # Given a challenge with one attempt used, limit 3
        now = datetime.now(UTC).replace(microsecond=0)
        otp = OtpChallenge(new_phone(), "h1", now + timedelta(minutes=5), 1, 1, now)
        store.put_otp(otp)
        # Then two more guesses are counted, the third is refused
        assert store.take_otp_attempt(otp.phone_number, "h1", 3)
        assert store.take_otp_attempt(otp.phone_number, "h1", 3)
        assert not store.take_otp_attempt(otp.phone_number, "h1", 3)
        stored = store.get_otp(otp.phone_number)
        assert stored is not None
        assert stored.attempts == 3
        # And a guess at a code that was replaced meanwhile, or a phone with none, is refused
        assert not store.take_otp_attempt(otp.phone_number, "old", 10)
        assert not store.take_otp_attempt(new_phone(), "h1", 10)

    def test_concurrent_otp_guesses_never_pass_the_limit(self, store: DynamoMetadataStore) -> None:
        if not self.atomic_under_concurrency:
            pytest.skip("this backend's writes are not atomic under concurrency")
        # Given a fresh challenge and ten guesses racing, limit 5
        now = datetime.now(UTC).replace(microsecond=0)
        otp = OtpChallenge(new_phone(), "h", now + timedelta(minutes=5), 0, 1, now)
        store.put_otp(otp)
        admitted: list[bool] = []

        def guess() -> None:
            admitted.append(store.take_otp_attempt(otp.phone_number, "h", 5))

        threads = [threading.Thread(target=guess) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Then exactly five are admitted
        assert admitted.count(True) == 5
        stored = store.get_otp(otp.phone_number)
        assert stored is not None
        assert stored.attempts == 5

    # --- groups, memberships, sections --------------------------------------------------------
    def test_group_by_invite_code(self, store: DynamoMetadataStore) -> None:
        # Given a group with an invite code and one without
        code = uuid.uuid4().hex[:10]
        with_code = Group(new_id("g"), "Wedding", new_id("u"), invite_code=code)
        without = Group(new_id("g"), "Private", new_id("u"))
        store.put_group(with_code)
        store.put_group(without)
        # Then the code finds its group (GSI), and no code finds nothing
        assert store.find_group_by_invite(code) == with_code
        assert store.find_group_by_invite("") is None
        assert store.find_group_by_invite(uuid.uuid4().hex) is None
        assert store.get_group(without.group_id).invite_code == ""
        # And the group scan sees both
        ids = {g.group_id for g in store.list_all_groups()}
        assert {with_code.group_id, without.group_id} <= ids

    def test_memberships_both_ways(self, store: DynamoMetadataStore) -> None:
        # Given a user in two groups and a second member in one of them
        user, other = new_id("u"), new_id("u")
        g1, g2 = new_id("g"), new_id("g")
        store.put_membership(Membership(g1, user, GroupRole.OWNER))
        store.put_membership(Membership(g2, user, GroupRole.MEMBER))
        store.put_membership(Membership(g1, other, GroupRole.PHOTOGRAPHER))
        # Then groups of a user (GSI) and members of a group (table) agree
        assert {m.group_id for m in store.list_groups_of_user(user)} == {g1, g2}
        assert {m.user_id for m in store.list_members(g1)} == {user, other}
        membership = store.get_membership(g1, other)
        assert membership is not None
        assert membership.role is GroupRole.PHOTOGRAPHER
        # When a membership is deleted it is gone from both views
        store.delete_membership(g1, other)
        assert store.get_membership(g1, other) is None
        assert {m.user_id for m in store.list_members(g1)} == {user}

    def test_sections_of_a_group(self, store: DynamoMetadataStore) -> None:
        group_id = new_id("g")
        store.put_section(Section(group_id, "s1", "Ceremony"))
        store.put_section(Section(group_id, "s2", "Party"))
        assert [s.name for s in store.list_sections(group_id)] == ["Ceremony", "Party"]
        store.delete_section(group_id, "s1")
        assert [s.section_id for s in store.list_sections(group_id)] == ["s2"]

    # --- images: newest first, opaque cursor --------------------------------------------------
    def test_images_of_a_group_newest_first_with_cursor(self, store: DynamoMetadataStore) -> None:
        # Given five images of a group (and one of another group)
        group_id = new_id("g")
        images = [image(group_id, minutes=i) for i in range(5)]
        for img in images:
            store.put_image(img)
        store.put_image(image(new_id("g"), minutes=10))
        # When read two at a time
        pages = []
        cursor = None
        while True:
            page = store.list_images(group_id, limit=2, cursor=cursor)
            pages.append([i.image_id for i in page.items])
            cursor = page.cursor
            if cursor is None:
                break
        # Then pages are 2, 2, 1 newest first, and the last page has no cursor
        expected = [i.image_id for i in reversed(images)]
        assert pages == [expected[0:2], expected[2:4], expected[4:5]]

    def test_exact_page_ends_without_cursor(self, store: DynamoMetadataStore) -> None:
        group_id = new_id("g")
        for i in range(2):
            store.put_image(image(group_id, minutes=i))
        page = store.list_images(group_id, limit=2)
        assert len(page.items) == 2
        assert page.cursor is None

    def test_malformed_or_foreign_cursor_is_invalid_input(self, store: DynamoMetadataStore) -> None:
        with pytest.raises(InvalidInputError):
            store.list_images(new_id("g"), cursor="not base64 json!")
        # a cursor of one group's listing cannot page through another group
        group_id = new_id("g")
        for i in range(3):
            store.put_image(image(group_id, minutes=i))
        cursor = store.list_images(group_id, limit=1).cursor
        assert cursor is not None
        with pytest.raises(InvalidInputError):
            store.list_images(new_id("g"), limit=1, cursor=cursor)
        with pytest.raises(InvalidInputError):
            store.list_users(limit=1, cursor=cursor)

    def test_image_round_trip_and_delete(self, store: DynamoMetadataStore) -> None:
        img = image(new_id("g"))
        img.status = ImageStatus.FAILED
        img.failure_reason = "undecodable"
        img.tags = ["dance", "night"]
        img.width, img.height, img.size_bytes = 4000, 3000, 2_345_678
        img.captured_at = datetime(2024, 5, 4, 20, 15, 1, tzinfo=UTC)
        store.put_image(img)
        assert store.get_image(img.image_id) == img
        store.delete_image(img.image_id)
        with pytest.raises(NotFoundError):
            store.get_image(img.image_id)

    def test_get_images_in_order_skipping_unknown(self, store: DynamoMetadataStore) -> None:
        # Given two stored images of a group
        group_id = new_id("g")
        first, second = image(group_id), image(group_id)
        store.put_image(first)
        store.put_image(second)
        # When both are read in one batch, with an unknown id and a repeat among them
        got = store.get_images([second.image_id, new_id("i"), first.image_id, second.image_id])
        # Then each stored image comes once, in the order asked; the unknown id is skipped
        assert got == [second, first]
        assert store.get_images([]) == []

    @pytest.mark.parametrize("bad_id", ["", "x" * 2049], ids=["empty", "over_2048_bytes"])
    def test_ids_dynamodb_cannot_store_are_not_found(
        self, store: DynamoMetadataStore, bad_id: str
    ) -> None:
        # Given an id from a request that DynamoDB cannot hold as a key (it answers such keys
        # with a ValidationException, which would surface as a 503)
        # When it is looked up, Then it names nothing: NotFoundError, empty lists, no error
        for get in (store.get_group, store.get_image, store.get_person, store.get_face):
            with pytest.raises(NotFoundError):
                get(bad_id)
        assert store.get_membership(bad_id, "u") is None
        assert store.get_faces([bad_id]) == []
        assert store.list_images(bad_id).items == []
        assert list(store.list_faces_of_group(bad_id)) == []
        assert store.list_faces_of_person(bad_id) == []
        assert store.list_persons(bad_id) == []
        assert store.list_person_links(group_id=bad_id) == []

    # --- faces --------------------------------------------------------------------------------
    def test_faces_by_image_person_and_group(self, store: DynamoMetadataStore) -> None:
        # Given two images with faces, two of them assigned to one person
        group_id, person_id = new_id("g"), new_id("p")
        a, b = image(group_id), image(group_id)
        faces = [face(a, 1, person_id), face(a, 0), face(b, 0, person_id)]
        # When written twice (a re-delivered notification)
        store.put_faces(faces)
        store.put_faces(faces)
        # Then no duplicates, and every access pattern sees the right faces
        assert [f.face_index for f in store.list_faces_of_image(a.image_id)] == [0, 1]
        assert {f.face_id for f in store.list_faces_of_person(person_id)} == {
            faces[0].face_id,
            faces[2].face_id,
        }
        assert {f.face_id for f in store.list_faces_of_group(group_id)} == {
            f.face_id for f in faces
        }
        assert store.get_face(faces[0].face_id) == faces[0]
        # get_faces keeps the given order and skips unknown ids
        got = store.get_faces([faces[2].face_id, "missing", faces[1].face_id])
        assert [f.face_id for f in got] == [faces[2].face_id, faces[1].face_id]

    def test_numpy_scores_and_attributes_are_stored_as_numbers(
        self, store: DynamoMetadataStore
    ) -> None:
        # Given a face whose scores come straight from numpy (as the face engine computes them)
        f = face(image(new_id("g")), 0)
        f.confidence = np.float32(0.875)  # type: ignore[assignment]
        f.overall_quality = np.float64(0.5)  # type: ignore[assignment]
        f.attributes = {"age": np.int64(30), "emotion": {"happy": np.float32(0.25)}}
        f.landmarks = {"nose": np.array([1.5, 2.5], dtype=np.float32)}  # type: ignore[dict-item]
        # When stored and read back
        store.put_faces([f])
        got = store.get_face(f.face_id)
        # Then plain Python numbers come back
        assert (got.confidence, got.overall_quality) == (0.875, 0.5)
        assert got.attributes == {"age": 30, "emotion": {"happy": 0.25}}
        assert got.landmarks == {"nose": [1.5, 2.5]}

    def test_update_face_person(self, store: DynamoMetadataStore) -> None:
        img = image(new_id("g"))
        f = face(img, 0)
        store.put_faces([f])
        person_id = new_id("p")
        store.update_face_person(f.face_id, person_id, manual=True)
        moved = store.get_face(f.face_id)
        assert (moved.person_id, moved.is_manual_placement) == (person_id, True)
        assert [x.face_id for x in store.list_faces_of_person(person_id)] == [f.face_id]
        # Clearing the person removes the face from the (sparse) person index
        store.update_face_person(f.face_id, None, manual=False)
        assert store.get_face(f.face_id).person_id is None
        assert store.list_faces_of_person(person_id) == []
        with pytest.raises(NotFoundError):
            store.update_face_person(new_id("f"), person_id, manual=True)

    def test_delete_faces(self, store: DynamoMetadataStore) -> None:
        img = image(new_id("g"))
        faces = [face(img, i) for i in range(30)]  # more than one BatchWriteItem (25)
        store.put_faces(faces)
        store.delete_faces([f.face_id for f in faces[:27]])
        assert [f.face_index for f in store.list_faces_of_image(img.image_id)] == [27, 28, 29]

    # --- persons and person links -------------------------------------------------------------
    def test_persons_of_a_group_and_update(self, store: DynamoMetadataStore) -> None:
        group_id = new_id("g")
        p1, p2 = person(group_id, name="Ada"), person(group_id)
        store.put_person(p1)
        store.put_person(p2)
        store.put_person(person(new_id("g")))
        assert {p.person_id for p in store.list_persons(group_id)} == {p1.person_id, p2.person_id}
        updated = store.update_person(p1.person_id, face_count=4, name=None, hidden=True)
        assert (updated.face_count, updated.name, updated.hidden) == (4, None, True)
        assert store.get_person(p1.person_id) == updated
        with pytest.raises(NotFoundError):
            store.update_person(new_id("p"), face_count=1)
        with pytest.raises(InvalidInputError):
            store.update_person(p1.person_id, no_such_field="other")
        store.delete_person(p2.person_id)
        with pytest.raises(NotFoundError):
            store.get_person(p2.person_id)

    def test_person_links_per_group_and_per_user(self, store: DynamoMetadataStore) -> None:
        g1, g2, user, other = new_id("g"), new_id("g"), new_id("u"), new_id("u")
        a1 = PersonLink(g1, new_id("p"), user, 0.71, "centroid")
        a2 = PersonLink(g2, new_id("p"), user, 0.55, "vote")
        a3 = PersonLink(g1, new_id("p"), other, 0.62, "centroid")
        for a in (a1, a2, a3):
            store.put_person_link(a)
        assert {a.person_id for a in store.list_person_links(group_id=g1)} == {
            a1.person_id,
            a3.person_id,
        }
        assert store.list_person_links(user_id=user) == [a1, a2] or store.list_person_links(
            user_id=user
        ) == [a2, a1]
        assert store.list_person_links(group_id=g1, user_id=user) == [a1]
        store.delete_person_link(g1, a1.person_id)
        assert store.list_person_links(group_id=g1, user_id=user) == []
        with pytest.raises(InvalidInputError):
            store.list_person_links()

    def test_reference_faces_per_user(self, store: DynamoMetadataStore) -> None:
        user = new_id("u")
        refs = [ReferenceFace(user, new_id("f"), f"selfies/{user}/{i}.jpg") for i in range(2)]
        for ref in refs:
            store.put_reference_face(ref)
        assert sorted(store.list_reference_faces(user), key=lambda r: r.face_id) == sorted(
            refs, key=lambda r: r.face_id
        )
        store.delete_reference_faces(user)
        assert store.list_reference_faces(user) == []

    # --- jobs: atomic counters, TTL -----------------------------------------------------------
    def test_job_counters_are_atomic_under_concurrency(self, store: DynamoMetadataStore) -> None:
        if not self.atomic_under_concurrency:
            pytest.skip("this backend's writes are not atomic under concurrency")
        # Given a job and 8 workers each reporting 10 items (one of them failed)
        job = Job(new_id("j"), JobType.DIGEST, total=80)
        store.put_job(job)

        def work() -> None:
            for i in range(10):
                store.add_job_progress(job.job_id, done=1 if i else 0, failed=0 if i else 1)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Then no increment is lost
        stored = store.get_job(job.job_id)
        assert (stored.done, stored.failed) == (72, 8)

    def test_update_job_and_ttl(self, store: DynamoMetadataStore) -> None:
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
        job = Job(new_id("j"), JobType.DOWNLOAD, params={"image_ids": ["a", "b"]})
        store.put_job(job)
        updated = store.update_job(
            job.job_id, status=JobStatus.READY, result={"key": "archives/x.zip"}, expires_at=expires
        )
        assert updated.status is JobStatus.READY
        assert updated.result == {"key": "archives/x.zip"}
        assert updated.params == {"image_ids": ["a", "b"]}
        assert updated.expires_at == expires
        assert updated.updated_at >= job.updated_at
        raw = store.jobs.get(job.job_id, consistent_read=True).serialize()
        assert raw["expires_at"] == {"N": str(int(expires.timestamp()))}
        assert store.get_job(job.job_id) == updated
        with pytest.raises(NotFoundError):
            store.update_job(new_id("j"), status=JobStatus.FAILED)
        with pytest.raises(NotFoundError):
            store.add_job_progress(new_id("j"), done=1)
        with pytest.raises(InvalidInputError):
            store.update_job(job.job_id, no_such_field=1)

    def test_tables_have_ttl_enabled(self, store: DynamoMetadataStore) -> None:
        for model, attribute in ((store.jobs, "expires_at"), (store.otps, "ttl")):
            connection = model._get_connection().connection
            description = connection._make_api_call(
                "DescribeTimeToLive", {"TableName": model.Meta.table_name}
            )["TimeToLiveDescription"]
            assert description["TimeToLiveStatus"] in {"ENABLED", "ENABLING"}
            assert description["AttributeName"] == attribute

    def test_job_counters_add_up(self, store: DynamoMetadataStore) -> None:
        # Given a job; when progress is reported in several calls
        job = Job(new_id("j"), JobType.CLUSTER, total=5)
        store.put_job(job)
        store.add_job_progress(job.job_id, done=3)
        store.add_job_progress(job.job_id, done=1, failed=1)
        # Then the counters are the sums (ADD, not overwrite)
        stored = store.get_job(job.job_id)
        assert (stored.done, stored.failed, stored.total) == (4, 1, 5)

"""A digest job shows its total from the start: the API counts the prefix (capped)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes import Api
from findme.ports import ObjectInfo
from findme.services import processing


def test_a_digest_job_starts_with_the_prefix_object_count_as_total(api: Api) -> None:
    # Given a group with three originals, and one original of another group
    _, owner, _ = api.register("Owner")
    gid = api.group(owner)["group_id"]
    for i in range(3):
        api.stores.objects.put(f"originals/{gid}/img-{i}.jpg", b"jpeg", "image/jpeg")
    api.stores.objects.put("originals/another-group/img.jpg", b"jpeg", "image/jpeg")
    body = {"s3_bucket": api.settings.bucket, "s3_prefix": "", "group_id": gid}
    # When the owner starts a digest of the whole group
    response = api.client.post("/digest", json=body, headers=api.auth(owner))
    assert response.status_code == 202, response.text
    # Then the pending job already counts the group's three objects
    job = api.client.get(f"/jobs/{response.json()['job_id']}", headers=api.auth(owner)).json()
    assert (job["status"], job["total"], job["done"]) == ("pending", 3, 0)
    assert "total_capped" not in api.stores.metadata.get_job(job["job_id"]).params


def test_a_large_prefix_is_counted_up_to_the_cap_and_flagged(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a group with four originals and a cap of two
    _, owner, _ = api.register("Owner")
    gid = api.group(owner)["group_id"]
    for i in range(4):
        api.stores.objects.put(f"originals/{gid}/img-{i}.jpg", b"jpeg", "image/jpeg")
    monkeypatch.setattr(processing, "DIGEST_COUNT_CAP", 2)
    # When a digest starts
    body = {"s3_bucket": api.settings.bucket, "s3_prefix": "", "group_id": gid}
    job_id = api.client.post("/digest", json=body, headers=api.auth(owner)).json()["job_id"]
    # Then the total stops at the cap and the job says it is a lower bound
    job = api.stores.metadata.get_job(job_id)
    assert job.total == 2
    assert job.params["total_capped"] is True


def test_counting_stops_reading_the_listing_at_the_cap() -> None:
    # Given a listing that fails if read past its fifth key
    class Listing:
        read = 0

        def list(self, prefix: str) -> Iterator[ObjectInfo]:
            for i in range(10):
                if i >= 5:
                    raise AssertionError("read past the cap")
                self.read += 1
                yield ObjectInfo(key=f"{prefix}{i}", size_bytes=1)

    listing = Listing()
    # When counted with a cap of five, Then the count is five and nothing more was read
    assert processing.count_objects(listing, "p/", cap=5) == 5  # type: ignore[arg-type]
    assert listing.read == 5

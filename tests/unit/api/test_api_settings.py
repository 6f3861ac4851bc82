"""One Settings object drives an app and its stores: ``create_app(settings)`` hands its routes
stores built from those settings, not from the process's."""

from __future__ import annotations

import boto3
from fakes import make_settings
from fastapi.testclient import TestClient
from findme.domain.records import User
from findme.local.provision import create_bucket, create_tables
from findme.web.app import create_app
from findme.web.deps import Metadata, Objects
from moto import mock_aws


def test_an_app_with_its_own_settings_hands_its_routes_stores_of_those_settings() -> None:
    with mock_aws():
        # Given settings other than the process's: their own table prefix and bucket, whose
        # tables and bucket are the only ones that exist
        settings = make_settings(table_prefix="elsewhere-", bucket="elsewhere-media")
        create_tables(settings)
        create_bucket(settings, digest_queue_arn=None)
        app = create_app(settings)

        @app.post("/probe")
        def probe(metadata: Metadata, objects: Objects) -> dict[str, str]:
            metadata.put_user(User(user_id="u-1", phone_number="+14155550100", name="Ann"))
            objects.put("probe/a.txt", b"a", "text/plain")
            return {"user": metadata.get_user("u-1").user_id}

        # When a route writes through the stores it is given
        response = TestClient(app).post("/probe")

        # Then they were the stores of the app's settings: its tables, its bucket
        assert response.status_code == 200, response.text
        assert response.json() == {"user": "u-1"}
        table = boto3.resource("dynamodb", region_name="us-east-1").Table("elsewhere-users")
        assert table.scan()["Count"] == 1
        body = boto3.client("s3", region_name="us-east-1").get_object(
            Bucket="elsewhere-media", Key="probe/a.txt"
        )["Body"]
        assert body.read() == b"a"

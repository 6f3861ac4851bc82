"""Images of a group over DynamoDB (GSI ``group_id-created_at-index`` for newest first)."""

from __future__ import annotations

from collections.abc import Iterable

from findme.adapters.dynamodb.base import DynamoBase, _from_model, _to_model
from findme.adapters.dynamodb.models import _storable
from findme.domain.records import Image, Page


class DynamoImages(DynamoBase):
    """:class:`findme.ports.ImageRepository`."""

    def put_image(self, image: Image) -> None:
        self._call(_to_model(self.images, image).save, "put image")

    def get_image(self, image_id: str) -> Image:
        return _from_model(Image, self._get(self.images, "image", image_id))

    def get_images(self, image_ids: Iterable[str]) -> list[Image]:
        """Images by id in the order given; unknown ids are skipped (BatchGetItem, 100 each)."""
        return self._batch_get(self.images, "image_id", Image, image_ids, "get images")

    def list_images(
        self, group_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Image]:
        """Images of a group, newest first (GSI ``group_id-created_at-index``, descending)."""
        if not _storable(group_id):
            return Page([], None)
        index = self.images.group_index
        return self._page(
            lambda n, start: index.query(
                group_id, scan_index_forward=False, limit=n, last_evaluated_key=start
            ),
            ("image_id", "group_id", "created_at"),
            Image,
            limit,
            cursor,
            expect={"group_id": group_id},
        )

    def delete_image(self, image_id: str) -> None:
        """Delete the image item only; :func:`findme.services.catalog.delete_image` cascades."""
        self._call(lambda: self.images(image_id=image_id).delete(), "delete image")

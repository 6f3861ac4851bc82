"""API schemas (request and response bodies), one module per resource, named like the
routers of :mod:`findme.web.routes` (``schemas.groups`` for ``routes.groups``);
:mod:`findme.web.schemas.common` holds what several share (the error body, pages, examples).

Separate from the persistence records (:mod:`findme.domain.records`) and converted
explicitly: ``model_validate(record, from_attributes=True)`` where the names agree, a
converter function beside the schema where they do not. Field names are the external
contract's (``group_name``, ``common_photo_ids``, ``personal_images``, ``image_s3_path``:
see ``docs/compatibility.md``). Every schema has a name unique in the OpenAPI document and
an example.
"""

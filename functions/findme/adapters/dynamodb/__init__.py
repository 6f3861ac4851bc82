"""DynamoDB metadata store: PynamoDB models over the tables of :mod:`findme.tables`.

Models are declared once (``*Model`` base classes with attributes and indexes) and bound to
concrete table names and an endpoint per :class:`DynamoMetadataStore` by subclassing with a
``Meta`` (PynamoDB copies indexes onto subclasses), so tests and the local stack can use
several prefixes and endpoints in one process.

Access patterns per key and index are written in :mod:`findme.tables`.

One module per aggregate (``users``, ``otps``, ``groups``, ``sections``, ``images``,
``faces``, ``persons``, ``assignments`` (person links), ``jobs``), each a mixin over
:class:`~findme.adapters.dynamodb.base.DynamoBase`; :class:`DynamoMetadataStore` composes
them. The models live in :mod:`findme.adapters.dynamodb.models`.
"""

from __future__ import annotations

from findme.adapters.dynamodb.faces import DynamoFaces
from findme.adapters.dynamodb.groups import DynamoGroups
from findme.adapters.dynamodb.images import DynamoImages
from findme.adapters.dynamodb.jobs import DynamoJobs
from findme.adapters.dynamodb.models import (
    MAX_HASH_KEY_BYTES,
    MAX_RANGE_KEY_BYTES,
    MODELS,
    FaceModel,
    GroupModel,
    ImageModel,
    JobModel,
    MembershipModel,
    OtpModel,
    PersonLinkModel,
    PersonModel,
    PhoneLockModel,
    ReferenceFaceModel,
    SectionModel,
    UserModel,
    bind_model,
)
from findme.adapters.dynamodb.otps import OTP_SEND_WINDOW, DynamoOtps
from findme.adapters.dynamodb.person_links import DynamoPersonLinks
from findme.adapters.dynamodb.persons import DynamoPersons
from findme.adapters.dynamodb.sections import DynamoSections
from findme.adapters.dynamodb.users import DynamoUsers


class DynamoMetadataStore(
    DynamoUsers,
    DynamoOtps,
    DynamoGroups,
    DynamoSections,
    DynamoImages,
    DynamoFaces,
    DynamoPersons,
    DynamoPersonLinks,
    DynamoJobs,
):
    """:class:`findme.ports.MetadataStore` over DynamoDB (or DynamoDB Local / moto).

    Args:
        settings: table names via ``Settings.table_name``; endpoint via
            ``Settings.dynamodb_endpoint_url`` (``None`` = AWS); region ``aws_region``.

    Errors: missing items raise :class:`NotFoundError`, failed conditions
    :class:`ConflictError`, any other DynamoDB failure :class:`DependencyError`.
    """


__all__ = [
    "MAX_HASH_KEY_BYTES",
    "MAX_RANGE_KEY_BYTES",
    "MODELS",
    "OTP_SEND_WINDOW",
    "DynamoMetadataStore",
    "FaceModel",
    "GroupModel",
    "ImageModel",
    "JobModel",
    "MembershipModel",
    "OtpModel",
    "PersonLinkModel",
    "PersonModel",
    "PhoneLockModel",
    "ReferenceFaceModel",
    "SectionModel",
    "UserModel",
    "bind_model",
]

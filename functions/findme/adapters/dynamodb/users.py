"""Users, their phone-number locks (``user-phones``) and reference faces, over DynamoDB."""

from __future__ import annotations

from pynamodb.transactions import TransactWrite

from findme.adapters.dynamodb.base import DynamoBase, _from_model, _to_model
from findme.adapters.dynamodb.models import _storable
from findme.domain.records import Page, ReferenceFace, User
from findme.errors import ConflictError


class DynamoUsers(DynamoBase):
    """:class:`findme.ports.UserRepository`: users, phone locks, reference faces."""

    def put_user(self, user: User) -> None:
        """Create or update a user; its phone number stays unique.

        The user item and its ``user-phones`` lock item are written in one transaction; the
        lock is conditional on being absent or already this user's. A changed phone number
        releases the old lock in the same transaction.

        Raises:
            ConflictError: the phone number belongs to another user.
        """
        existing = self._get_or_none(self.users, "user", user.user_id)
        lock = self.phones(phone_number=user.phone_number, user_id=user.user_id)

        def run() -> None:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(_to_model(self.users, user))
                tx.save(
                    lock,
                    condition=self.phones.phone_number.does_not_exist()
                    | (self.phones.user_id == user.user_id),
                )
                if existing is not None and existing.phone_number != user.phone_number:
                    tx.delete(
                        self.phones(phone_number=existing.phone_number),
                        condition=self.phones.user_id == user.user_id,
                    )

        try:
            self._call(run, "put user")
        except ConflictError as exc:
            raise ConflictError(
                "phone number already registered", code="phone_taken", field="phone_number"
            ) from exc

    def get_user(self, user_id: str) -> User:
        return _from_model(User, self._get(self.users, "user", user_id))

    def find_user_by_phone(self, phone_number: str) -> User | None:
        lock = self._get_or_none(self.phones, "phone", phone_number)
        if lock is None:
            return None
        user = self._get_or_none(self.users, "user", lock.user_id)
        return None if user is None else _from_model(User, user)

    def list_users(self, *, limit: int = 50, cursor: str | None = None) -> Page[User]:
        model = self.users
        return self._page(
            lambda n, start: model.scan(limit=n, last_evaluated_key=start),
            ("user_id",),
            User,
            limit,
            cursor,
        )

    def delete_user(self, user_id: str) -> None:
        """Delete a user and release its phone number (idempotent)."""
        existing = self._get_or_none(self.users, "user", user_id)
        if existing is None:
            return

        def run() -> None:
            with TransactWrite(connection=self._connection) as tx:
                tx.delete(existing)
                tx.delete(
                    self.phones(phone_number=existing.phone_number),
                    condition=self.phones.phone_number.does_not_exist()
                    | (self.phones.user_id == user_id),
                )

        self._call(run, "delete user")

    def put_reference_face(self, ref: ReferenceFace) -> None:
        self._call(lambda: _to_model(self.refs, ref).save(), "put reference face")

    def list_reference_faces(self, user_id: str) -> list[ReferenceFace]:
        if not _storable(user_id):
            return []
        items = self._call(lambda: list(self.refs.query(user_id)), "list reference faces")
        return [_from_model(ReferenceFace, item) for item in items]

    def delete_reference_face(self, user_id: str, face_id: str) -> None:
        item = self.refs(user_id=user_id, face_id=face_id)
        self._call(item.delete, "delete reference face")

    def delete_reference_faces(self, user_id: str) -> None:
        self._batch_delete(self.refs, self._call(lambda: list(self.refs.query(user_id)), "query"))

"""OpenWhisk-shaped errors: every controller error is ``{"error": message, "code": tid}``."""

from __future__ import annotations

from common.ids import random_id

NOT_FOUND = "The requested resource does not exist."
FORBIDDEN = "The supplied authentication is not authorized to access this resource."
UNAUTHORIZED = "The supplied authentication is invalid."
EXISTS = "resource already exists"
CONFLICT_COLLECTION = "Resource by this name exists but is not in this collection."
MALFORMED = "The request content was malformed:\n"


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def transaction_id() -> str:
    return random_id()


def malformed(detail: str) -> ApiError:
    return ApiError(400, MALFORMED + detail)

"""Entity names as users type them (``hello``, ``pkg/hello``, ``/ns/pkg/hello``) and as the
REST API wants them (namespace path segment + ``[pkg/]name``).

Used by the command modules to build request paths, the ``/ns/name`` names printed in
``ok: invoked /_/hello ...``, and the fully-qualified components of a sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

from cli.errors import CliError

DEFAULT_NAMESPACE = "_"  # the caller's own namespace, resolved by the controller


@dataclass(frozen=True)
class QualifiedName:
    namespace: str
    entity: str  # "name" or "pkg/name"

    @property
    def name(self) -> str:
        return self.entity.rsplit("/", 1)[-1]

    @property
    def package(self) -> str | None:
        return self.entity.split("/", 1)[0] if "/" in self.entity else None

    def __str__(self) -> str:
        """Fully-qualified form, ``/namespace[/package]/name``."""
        return f"/{self.namespace}/{self.entity}"


def parse_name(text: str, default_namespace: str = DEFAULT_NAMESPACE) -> QualifiedName:
    """Parse ``name``, ``pkg/name``, ``/ns/name`` or ``/ns/pkg/name`` (wsk's rules)."""
    raw = text.strip()
    if raw.startswith("/"):
        parts = raw[1:].split("/")
        if len(parts) < 2 or len(parts) > 3 or not all(parts):
            raise CliError(
                f"'{text}' is not a valid qualified name: a name starting with '/' must "
                "be /namespace/name or /namespace/package/name."
            )
        return QualifiedName(parts[0], "/".join(parts[1:]))
    parts = raw.split("/")
    if not raw or len(parts) > 2 or not all(parts):
        raise CliError(
            f"'{text}' is not a valid name: use name, package/name, /namespace/name or "
            "/namespace/package/name."
        )
    return QualifiedName(default_namespace, raw)


def fully_qualified(names: list[str]) -> list[str]:
    """Sequence components as ``/ns/[pkg/]name`` strings (``_`` for the caller's namespace,
    as wsk sends them; the controller resolves ``_``)."""
    return [str(parse_name(n)) for n in names]

"""Who posts: the authenticated actor's name and the region scope it may act in."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import OutOfScopeError, ValidationError
from ledger.regions import in_scope, normalise_scope


@dataclass(frozen=True)
class Actor:
    """An authenticated person or system; ``scope`` is a division-code prefix ('' means nationwide)."""

    name: str
    scope: str = ""

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 200:
            raise ValidationError("actor name must be 1 to 200 characters", field="actor")
        object.__setattr__(self, "scope", normalise_scope(self.scope))

    def check_scope(self, region_code: str) -> None:
        """Refuses a command touching a region outside this actor's scope."""
        if not in_scope(region_code, self.scope):
            raise OutOfScopeError(
                f"{self.name} may act only within region {self.scope or 'nationwide'}, not {region_code}",
                region=region_code,
                scope=self.scope,
            )


SYSTEM = Actor("system")

"""A share of verify's mutants, so several machines or Pythons can split the work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """The `part`-th of `parts` shares (1-based): every `parts`-th item from the `part`-th."""

    part: int
    parts: int

    def __post_init__(self) -> None:
        if not 1 <= self.part <= self.parts:
            raise ValueError(f"a shard is K/N with 1 <= K <= N, not {self.part}/{self.parts}")

    def of(self, items: list[T]) -> list[T]:
        return items[self.part - 1 :: self.parts]

    def __str__(self) -> str:
        return f"{self.part}/{self.parts}"

"""Target hardware profiles (data files in recipec/profiles/): the types each runs natively."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from recipec import ggml


@dataclass(frozen=True)
class Profile:
    """One runtime/GPU family: the ggml types it runs natively and llama-server defaults."""

    name: str
    description: str
    types: frozenset[str]
    serve: dict

    def supports(self, type_name: str) -> bool:
        return type_name in self.types


@lru_cache(maxsize=None)
def profiles() -> dict[str, Profile]:
    """Every shipped profile by name."""
    out = {}
    folder = resources.files("recipec").joinpath("profiles")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
        types = frozenset(data["types"])
        unknown = types - set(ggml.TYPE_NAMES)
        if unknown:
            raise ValueError(f"profile {entry.name} names unknown types {sorted(unknown)}")
        out[data["name"]] = Profile(data["name"], data["description"], types, dict(data.get("serve", {})))
    return out


def profile(name: str) -> Profile | None:
    return profiles().get(name.lower())

"""Target hardware profiles (JSON files in recipec/profiles/): the types each runs natively."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

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


def _profile_files() -> list:
    folder = resources.files("recipec").joinpath("profiles")
    return sorted((e for e in folder.iterdir() if e.name.endswith(".json")), key=lambda e: e.name)


@lru_cache(maxsize=None)
def profile_names() -> tuple[str, ...]:
    """The shipped profiles' names, from their file names alone (a profile's `name` is its file's
    stem, checked when it is read): what an unknown-target check needs."""
    return tuple(e.name[: -len(".json")] for e in _profile_files())


@lru_cache(maxsize=None)
def profiles() -> dict[str, Profile]:
    """Every shipped profile by name (read when a plan or a check first needs one's types or serve
    flags). JSON: the standard library reads it in microseconds, where a YAML parser's import alone
    cost a third of lint's own work."""
    out = {}
    for entry in _profile_files():
        data = json.loads(entry.read_text(encoding="utf-8"))
        types = frozenset(data["types"])
        unknown = types - set(ggml.TYPE_NAMES)
        if unknown:
            raise ValueError(f"profile {entry.name} names unknown types {sorted(unknown)}")
        if data["name"] != entry.name[: -len(".json")]:
            raise ValueError(f"profile {entry.name} is named {data['name']!r}, not after its file")
        out[data["name"]] = Profile(data["name"], data["description"], types, dict(data.get("serve", {})))
    return out


def profile(name: str) -> Profile | None:
    return profiles().get(name.lower())

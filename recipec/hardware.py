"""Target hardware profiles (data files in recipec/profiles/): the types each runs natively."""

from __future__ import annotations

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


@lru_cache(maxsize=None)
def profiles() -> dict[str, Profile]:
    """Every shipped profile by name (read when a recipe first names a target: lint of a recipe
    without one does not import yaml)."""
    import yaml

    out = {}
    folder = resources.files("recipec").joinpath("profiles")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        # libyaml's parser when present: the same safe loading (SafeConstructor, same resolver), faster
        data = yaml.load(entry.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        types = frozenset(data["types"])
        unknown = types - set(ggml.TYPE_NAMES)
        if unknown:
            raise ValueError(f"profile {entry.name} names unknown types {sorted(unknown)}")
        out[data["name"]] = Profile(data["name"], data["description"], types, dict(data.get("serve", {})))
    return out


def profile(name: str) -> Profile | None:
    return profiles().get(name.lower())

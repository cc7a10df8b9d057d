"""The benchmark's tenant: the seed directory plus synthetic users, so every simulated user is a real one.

The seed has a handful of people; the benchmark needs `users` distinct identities, each with its own token,
its own cached Graph token and its own Graph profile. Synthetic users get deterministic ids (uuid5) so runs are
comparable. Conditional Access policies are dropped: an MFA claims challenge is a correctness path the tests
cover, not something a throughput run should measure.
"""
from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

SEED_FILE = Path(__file__).resolve().parents[1] / "localdev" / "emulator" / "seed" / "tenant.json"
_NAMESPACE = uuid.UUID("4f1b7a7e-2d8c-4a55-9f0e-6c3b1a2d9e10")


def build_tenant(users: int, seed_file: Path = SEED_FILE) -> dict[str, Any]:
    tenant = json.loads(seed_file.read_text(encoding="utf-8"))
    tenant["conditionalAccessPolicies"] = []
    seeded: list[dict[str, Any]] = tenant["users"]
    domain = tenant["tenant"]["domain"]
    template = {k: v for k, v in seeded[0].items() if k not in ("manager",)}
    for n in range(len(seeded), users):
        alias = f"bench.user{n + 1:03d}"
        user = copy.deepcopy(template)
        user.update({
            "id": str(uuid.uuid5(_NAMESPACE, alias)),
            "userPrincipalName": f"{alias}@{domain}",
            "mail": f"{alias}@{domain}",
            "displayName": f"Bench User {n + 1:03d}",
            "givenName": "Bench",
            "surname": f"User {n + 1:03d}",
            "jobTitle": "Load generator",
            "department": "Benchmarks",
            "photo": False,
            "manager": None,
        })
        seeded.append(user)
    return tenant


def write_tenant_file(users: int, destination: Path) -> Path:
    destination.write_text(json.dumps(build_tenant(users), indent=1), encoding="utf-8")
    return destination

"""Everything the emulators share: the seeded tenant plus the mutable state tests drive through the
admin API (keys, consent, faults, metrics, grants). The Graph emulator reads it through:

    state.tenant.tenant_id / .users / .groups / .find_user(key)
    state.public_keys() -> [(kid, RSAPublicKey)]
    state.revocation_cutoff(oid) -> epoch seconds | None, state.entra_url (for CAE challenges)
    state.graph_app_id, state.graph_resource
    state.faults.take(endpoint, path) -> Fault | None
    state.metrics.record_graph(path)
    state.reset()
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from localdev.ca import cert_pem, key_pem, locked, new_key, self_signed, write_atomic

from localdev.emulator.entra.consent import ConsentStore
from localdev.emulator.faults import FaultBook
from localdev.emulator.entra.grants import AuthCode, Interaction, RefreshGrant, Session, Store
from localdev.emulator.entra.keys import KeyRing, b64url, load_or_create_key
from localdev.emulator.metrics import Metrics
from localdev.emulator.entra.revocation import Revocations
from localdev.emulator.tenant import GRAPH_APP_ID, GRAPH_RESOURCE, App, Tenant


@dataclass(frozen=True)
class ClientCertificate:
    """A certificate registered on an app for private_key_jwt client authentication."""
    cert_path: Path
    key_path: Path
    certificate: x509.Certificate

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        key = self.certificate.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        return key

    @property
    def thumbprint(self) -> str:
        """SHA-1, upper-case hex, as the Azure portal shows it (and MSAL's `thumbprint` takes)."""
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()

    @property
    def thumbprint_sha256(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex().upper()

    def header_thumbprints(self) -> set[str]:
        """The x5t and x5t#S256 header values a client assertion signed with this certificate carries."""
        return {b64url(self.certificate.fingerprint(hashes.SHA1())),
                b64url(self.certificate.fingerprint(hashes.SHA256()))}


def load_or_create_client_certificate(directory: Path, app: App) -> ClientCertificate:
    cert_path, key_path = directory / f"{app.name}-cert.pem", directory / f"{app.name}-key.pem"
    with locked(directory):
        if not (cert_path.exists() and key_path.exists()):
            key = new_key()
            write_atomic(key_path, key_pem(key), private=True)
            write_atomic(cert_path, cert_pem(self_signed(key, f"{app.display_name} (local)")))
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    # Fail early if the pair on disk is inconsistent.
    private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if private.public_key().public_numbers() != certificate.public_key().public_numbers():  # type: ignore[union-attr]
        raise RuntimeError(f"{key_path} does not match {cert_path}")
    return ClientCertificate(cert_path.resolve(), key_path.resolve(), certificate)


class EmulatorState:
    graph_app_id = GRAPH_APP_ID
    graph_resource = GRAPH_RESOURCE

    def __init__(self, tenant: Tenant, state_dir: Path, ca_bundle: Path) -> None:
        self.tenant = tenant
        self.state_dir = Path(state_dir).resolve()
        self.ca_bundle = Path(ca_bundle).resolve()
        emulator_dir = self.state_dir / "emulator"
        self.keys = KeyRing(load_or_create_key(emulator_dir))
        self.client_certificates: dict[str, ClientCertificate] = {
            app.client_id: load_or_create_client_certificate(emulator_dir, app)
            for app in tenant.apps if app.has_certificate}
        self.faults = FaultBook()
        self.metrics = Metrics()
        self.consent = ConsentStore(tenant)
        self.codes: Store[AuthCode] = Store("c1.")
        self.refresh_tokens: Store[RefreshGrant] = Store("r1.")
        self.sessions: Store[Session] = Store("")
        self.interactions: Store[Interaction] = Store("")
        self.revocations = Revocations()
        # Set by the server once the listeners are bound (ports may be chosen by the OS).
        self.entra_url = "https://localhost:9443"
        self.graph_url = "https://localhost:9444/v1.0"
        self._public_keys_cache: tuple[tuple[str, ...], list[tuple[str, rsa.RSAPublicKey]]] | None = None

    # --- the interface the Graph emulator uses -------------------------------------------------
    def public_keys(self) -> list[tuple[str, rsa.RSAPublicKey]]:
        published = self.keys.published()
        kids = tuple(k.kid for k in published)
        cached = self._public_keys_cache
        if cached is None or cached[0] != kids:
            cached = (kids, [(k.kid, k.public_key) for k in published])
            self._public_keys_cache = cached
        return cached[1]

    def revocation_cutoff(self, user_oid: str | None) -> int | None:
        """The user's sessions-revoked time: tokens issued before it are revoked (None: never revoked)."""
        return self.revocations.cutoff(user_oid)

    def reset(self) -> None:
        """Back to the seed: consent, faults, metrics, signing keys, sessions, issued grants, revocations."""
        self.consent.reset()
        self.revocations.clear()
        self.faults.clear()
        self.metrics.reset()
        self.keys.reset()
        for store in (self.codes, self.refresh_tokens, self.sessions, self.interactions):
            store.clear()

    # --- derived values --------------------------------------------------------------------------
    @property
    def authority(self) -> str:
        return f"{self.entra_url}/{self.tenant.tenant_id}"

    def issuer_v2(self, tenant_id: str | None = None) -> str:
        return f"{self.entra_url}/{tenant_id or self.tenant.tenant_id}/v2.0"

    def issuer_v1(self, tenant_id: str | None = None) -> str:
        return f"https://sts.windows.net/{tenant_id or self.tenant.tenant_id}/"

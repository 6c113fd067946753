"""The key that encrypts saved secrets, kept apart from the database that holds them.

The key comes from ``PLAIT_ENCRYPTION_KEY`` (the ``encryption_key`` setting) or, when that is
unset, from ``$PLAIT_HOME/encryption.key``, created on first use with mode 0600. Either may
hold several comma- or line-separated keys: the first encrypts, all of them decrypt, which is
how ``plait block rotate-key`` moves documents to a new key without a moment when some
cannot be read. Keys are Fernet keys (AES-128-CBC with an HMAC-SHA256 check).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from plait.exceptions import EncryptionKeyError
from plait.settings import ENV_PREFIX, Settings

KEY_FILE_NAME = "encryption.key"
ENV_VAR = f"{ENV_PREFIX}ENCRYPTION_KEY"
GENERATE_HINT = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


RESTORE_HINT = (
    f"Restore {KEY_FILE_NAME} in PLAIT_HOME from your backup, or set {ENV_VAR} to the key "
    "they were saved with; Plait does not make a new key while saved secrets need the old one."
)


def fingerprint(key: bytes) -> str:
    """A short, one-way name for a key, safe to store and show."""
    return hashlib.sha256(key).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The current key (first) and older keys that may still decrypt, and where they came
    from (for messages)."""

    keys: tuple[bytes, ...]
    source: str
    path: Path | None  # the key file, when the keys come from one

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(fingerprint(key) for key in self.keys)

    @property
    def current_fingerprint(self) -> str:
        return fingerprint(self.keys[0])

    def encrypt(self, data: bytes) -> str:
        return Fernet(self.keys[0]).encrypt(data).decode("ascii")

    def decrypt(self, token: str, saved_with: str | None, what: str) -> bytes:
        """Decrypt ``token``; ``what`` names the document in the error if no key fits."""
        if not self.keys:
            raise EncryptionKeyError(
                f"Cannot decrypt the secrets of {what}: they were encrypted with key "
                f"{saved_with or 'unknown'}, and {self.source}. {RESTORE_HINT}"
            )
        try:
            return MultiFernet([Fernet(key) for key in self.keys]).decrypt(token.encode("ascii"))
        except InvalidToken:
            raise EncryptionKeyError(
                f"Cannot decrypt the secrets of {what}: they were encrypted with key "
                f"{saved_with or 'unknown'}, and the key(s) from {self.source} are "
                f"{', '.join(self.fingerprints)}. Set {ENV_VAR} to the key they were saved "
                f"with (or restore {KEY_FILE_NAME} in PLAIT_HOME); nothing was changed."
            ) from None


def load_keyring(settings: Settings) -> Keyring:
    """The configured keys: ``PLAIT_ENCRYPTION_KEY``, or the key file in ``PLAIT_HOME``. A
    missing key file gives a keyring with no keys, which can decrypt nothing: only saving
    makes the file (``with_key_file``), so reading never replaces a lost key."""
    if settings.encryption_key is not None:
        source = f"env {ENV_VAR}"
        return Keyring(_parse(settings.encryption_key.get_secret_value(), source), source, None)
    path = settings.home / KEY_FILE_NAME
    if not path.exists():
        return Keyring((), f"the key file {path} is missing", path)
    return _read_key_file(path)


def with_key_file(keyring: Keyring) -> Keyring:
    """``keyring``, or, when it has no keys because its key file is missing, the keyring of
    a new key file. Call it only when nothing saved needs the missing key."""
    if keyring.keys or keyring.path is None:
        return keyring
    _create_key_file(keyring.path)
    return _read_key_file(keyring.path)


def _read_key_file(path: Path) -> Keyring:
    _check_permissions(path)
    keys = _parse(path.read_text(encoding="ascii", errors="replace"), str(path))
    return Keyring(keys, str(path), path)


def new_key() -> bytes:
    return Fernet.generate_key()


def write_key_file(path: Path, keys: tuple[bytes, ...]) -> None:
    """Replace the key file atomically, so a reader sees the old keys or the new ones."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write("".join(key.decode("ascii") + "\n" for key in keys))
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(new_key().decode("ascii") + "\n")
        file.flush()
        os.fsync(file.fileno())


def _check_permissions(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise EncryptionKeyError(
            f"{path} can be read by other users (mode {mode:o}); it holds the key to your saved "
            f"secrets. Run: chmod 600 {path}"
        )


def _parse(text: str, source: str) -> tuple[bytes, ...]:
    parts = [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]
    if not parts:
        raise EncryptionKeyError(f"The encryption key from {source} is empty. {_KEY_FORMAT}")
    keys = []
    for position, part in enumerate(parts, start=1):
        try:
            Fernet(part.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise EncryptionKeyError(
                f"Key {position} of {len(parts)} from {source} is not a valid key. {_KEY_FORMAT}"
            ) from None
        keys.append(part.encode("ascii"))
    return tuple(keys)


_KEY_FORMAT = (
    "A key is 32 random bytes in url-safe base64 (44 characters); several keys are separated "
    f"by commas, the first being current. Make one with: {GENERATE_HINT}"
)

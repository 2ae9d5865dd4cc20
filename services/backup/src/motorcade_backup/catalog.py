"""What the bucket holds for one database: complete backups, broken ones, and leftovers."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from motorcade_backup.errors import BackupNotFoundError
from motorcade_backup.logs import get_logger
from motorcade_backup.manifest import DATA_SUFFIX, MANIFEST_SUFFIX, Manifest
from motorcade_backup.s3 import S3Client, list_keys, translate_errors
from motorcade_backup.settings import Settings

log = get_logger("catalog")


@dataclass
class Catalog:
    """Backups of one database. ``complete`` is newest first."""

    complete: list[Manifest] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)  # manifest present, object missing or wrong size
    orphans: list[str] = field(default_factory=list)  # object keys with no manifest (never complete)

    def find(self, backup_id: str) -> Manifest:
        """A complete backup by id, or the newest for ``latest``."""
        if backup_id == "latest":
            if not self.complete:
                raise BackupNotFoundError("no complete backup exists yet")
            return self.complete[0]
        for manifest in self.complete:
            if manifest.backup_id == backup_id:
                return manifest
        if backup_id in self.broken:
            raise BackupNotFoundError(f"backup {backup_id} is broken (its object is missing or truncated)")
        raise BackupNotFoundError(f"no complete backup with id {backup_id}")


def load_catalog(client: S3Client, settings: Settings) -> Catalog:
    """Read every manifest under the database's prefix and match it to its object."""
    prefix = settings.key_prefix
    with translate_errors(settings, "listing backups"):
        objects = {o["Key"]: int(o["Size"]) for o in list_keys(client, settings.s3_bucket, prefix)}
        catalog = Catalog()
        referenced: set[str] = set()
        for key in sorted(objects):
            if not key.endswith(MANIFEST_SUFFIX):
                continue
            body = client.get_object(Bucket=settings.s3_bucket, Key=key)["Body"].read()
            try:
                manifest = Manifest.from_json(body)
            except ValidationError:
                log.warning("manifest_unreadable", key=key)
                catalog.broken.append(key.removeprefix(prefix).removesuffix(MANIFEST_SUFFIX))
                continue
            referenced.add(manifest.object_key)
            if objects.get(manifest.object_key) == manifest.size:
                catalog.complete.append(manifest)
            else:
                catalog.broken.append(manifest.backup_id)
        catalog.orphans = sorted(k for k in objects if k.endswith(DATA_SUFFIX) and k not in referenced)
    catalog.complete.sort(key=lambda m: (m.finished_at, m.backup_id), reverse=True)
    return catalog

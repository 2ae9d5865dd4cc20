"""A workspace: where one environment's evidence lives (ledger, deploy log, releases, checkpoints).

The repository is the default workspace; tests and the lab use their own so their artifacts stay
out of the repository's `docs/` and `releases/`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / ".motorcade"

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.sqlite3"

    def run_dir(self, run_id: str) -> Path:
        return self.state_dir / "runs" / run_id

    @property
    def deployments_dir(self) -> Path:
        return self.root / "docs" / "deployments"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "docs" / "checkpoints"

    def releases_file(self, env: str) -> Path:
        return self.root / "releases" / f"{env}.yaml"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so a reader sees the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

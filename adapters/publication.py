"""Publishing checkpoints to a directory (setting ``checkpoint_dir``): one file per checkpoint,
``checkpoint-00000042.json``, and ``latest.json``, each the checkpoint as the API gives it.

A web server can serve the directory as it is; whoever copies a file keeps a checkpoint to
verify later dossiers against. Files are written whole (a temporary file, then renamed), so a
reader never sees half of one; publishing again rewrites the same bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.errors import InvalidValue
from engine.ports.proofs import Checkpoint

__all__ = ["checkpoint_file", "publish"]


def checkpoint_file(checkpoint: Checkpoint) -> bytes:
    return (json.dumps(checkpoint.as_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8")


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def publish(directory: str | os.PathLike[str], checkpoint: Checkpoint, *, latest: bool) -> Path:
    """Write ``checkpoint`` into ``directory`` (and as latest.json when it is the newest)."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"checkpoint-{checkpoint.number:08d}.json"
        data = checkpoint_file(checkpoint)
        _write(path, data)
        if latest:
            _write(folder / "latest.json", data)
    except OSError as exc:
        raise InvalidValue(
            "checkpoint directory (setting checkpoint_dir)", str(folder), exc.strerror or str(exc)
        ) from None
    return path

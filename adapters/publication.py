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

__all__ = ["checkpoint_file", "prepare", "publish"]


def checkpoint_file(checkpoint: Checkpoint) -> bytes:
    return (json.dumps(checkpoint.as_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8")


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _refused(folder: Path, exc: OSError) -> InvalidValue:
    return InvalidValue(
        "checkpoint directory (setting checkpoint_dir)", str(folder), exc.strerror or str(exc)
    )


def prepare(directory: str | os.PathLike[str]) -> None:
    """Make ``directory`` (InvalidValue, as ``publish`` would raise, when it cannot be): done
    before a checkpoint is made, so that a directory named wrong refuses the command before
    anything is saved, not after a checkpoint that then never reaches it."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _refused(folder, exc) from None


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
        raise _refused(folder, exc) from None
    return path

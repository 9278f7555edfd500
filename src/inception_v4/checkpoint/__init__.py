"""The checkpoint: one format for a training run's state, written and read in one place.

:mod:`.run_state` says what a checkpoint holds (snapshot, exact restore, the fields a resume
must match, the format number); :mod:`.files` writes it atomically, keeps the newest K, finds
the newest good one past damaged ones, and is the one safe ``torch.load``;
:mod:`.integrity` seals and verifies its checksum; :mod:`.as_weights` reads one back as
weights (for ``weights.resolve_model``). ``train`` and ``weights`` both import it; it
imports neither.
"""

from .as_weights import read_training_checkpoint
from .files import CheckpointWriteError, load, tidy_after_resume
from .run_state import FORMAT, MUST_MATCH, Resume, find_resume, restore_run, save_run

__all__ = ["FORMAT", "MUST_MATCH", "CheckpointWriteError", "Resume", "find_resume", "load",
           "read_training_checkpoint", "restore_run", "save_run", "tidy_after_resume"]

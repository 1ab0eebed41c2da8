"""A CSV logger that appends to an existing ``metrics.csv`` on resume (Lightning's deletes it)."""

from __future__ import annotations

import csv
import os
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


class _AppendingWriter(ExperimentWriter):
    """Keeps the rows of earlier attempts whose epoch is <= ``keep_epoch`` (None: start a fresh file), and never
    leaves a half-written file: Lightning rewrites ``metrics.csv`` in place whenever a new column appears, so a
    kill -9 during that rewrite used to lose every row logged so far (seen in CI). Each save here writes the whole
    file to a temp path and renames it into place (the file is a few hundred rows; the cost is negligible)."""

    keep_epoch: int | None = None

    def save(self) -> None:
        if not self.metrics:
            return
        from vrkit.utils.atomic import atomic_open

        self._record_new_keys()
        old: list[dict[str, Any]] = []
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as fh:
                reader = csv.DictReader(fh)
                old = list(reader)
                self.metrics_keys = sorted(set(self.metrics_keys) | set(reader.fieldnames or []))
        with atomic_open(self.metrics_file_path, "w") as fh:
            w = csv.DictWriter(fh, fieldnames=self.metrics_keys)
            w.writeheader()
            w.writerows(old)
            w.writerows(self.metrics)
        self.metrics = []

    def _check_log_dir_exists(self) -> None:
        path = self.metrics_file_path
        if not os.path.isfile(path):
            return
        rows: list[dict[str, Any]] = []
        fields: list[str] = []
        if self.keep_epoch is not None:
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                fields = list(reader.fieldnames or [])
                rows = [r for r in reader if None not in r.values() and None not in r  # drop torn rows
                        and (r.get("epoch", "") == "" or float(r["epoch"]) <= self.keep_epoch)]
        from vrkit.utils.atomic import atomic_open

        if not rows:
            os.remove(path)
            return
        with atomic_open(path, "w") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
        self.metrics_keys = sorted(fields)


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` writing ``<save_dir>/metrics.csv``; with ``keep_epoch`` set (resume) earlier rows up to that
    epoch are kept and new rows appended."""

    def __init__(self, save_dir: str, keep_epoch: int | None = None) -> None:
        super().__init__(save_dir=save_dir, name="", version="")
        self._keep_epoch = keep_epoch

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            writer_cls = type("_Writer", (_AppendingWriter,), {"keep_epoch": self._keep_epoch})
            self._experiment = writer_cls(log_dir=self.log_dir)
        return self._experiment

"""What a search leaves behind: one :class:`Trial` per configuration, a :class:`SearchResult`.

``result.best`` is the best successful trial, ``result.trials`` all of them
(failed ones included, with their error), ``result.warnings`` what to worry
about (the lecture notes' fourth rule: a best value at the edge of its range
means the optimum may lie outside it), ``result.summary()`` a table to print
and ``result.save(directory)`` one JSON file per trial.

File names of ``save`` (the notes: put the validation score in the file name
so that the checkpoints can be found and sorted)::

    01_0.9812_trial007.json      rank 1 (the best), value 0.9812, trial number 7
    02_0.9750_trial003.json
    ...
    failed_trial005.json         failed trials come after all ranked ones
    search.json                  the space, the mode, the best trial, the warnings and
                                 "files": every file this save wrote (its manifest)

The rule: the name starts with the trial's *rank* (1 = best, ``mode`` taken
into account: the lowest value for ``'min'``, the highest for ``'max'``),
zero-padded to a common width, then the value, then the trial number. So a
plain ``ls`` lists the best trial first whatever the mode and the sign of the
values; the value in the name is there for the reader.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_opt.tune.space import (Choice, Distribution, LogUniform, RandInt,
                                     describe_space, distributions)

__all__ = ["Trial", "SearchResult", "edge_warnings", "earlier_trial_files"]

SUMMARY_FILE = "search.json"
EXTRAS_KEY = re.compile(r"[A-Za-z0-9_-]+")  # an extras key that becomes part of a file name


@dataclass
class Trial:
    """One evaluated configuration.

    Attributes:
        number: position in the search (0, 1, ...), the order of submission.
        params: the configuration (the space's constants included, ``budget`` not).
        value: the objective's value, or None when the trial failed.
        extras: everything else the objective returned in its dict (e.g.
            ``{'val_loss': ..., 'state_dict': ...}``).
        status: ``'ok'`` or ``'failed'``.
        error: for a failed trial, ``'ExceptionType: message'`` (or why the
            value was rejected, e.g. ``'objective returned nan'``).
        duration: seconds the objective ran.
        budget: the budget passed as ``params['budget']`` (coarse-to-fine
            stages: epochs), or None.
        stage: coarse-to-fine stage index, or None for single-stage searches.
    """

    number: int
    params: dict
    value: float | None = None
    extras: dict = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None
    duration: float = 0.0
    budget: Any = None
    stage: int | None = None

    def __post_init__(self):
        """A successful trial with a NaN or ±inf value is a failed one, as :func:`run_trial`
        records it: such a value never competes for ``best`` (NaN would sort first)."""
        if (self.status == "ok" and isinstance(self.value, numbers.Real)
                and not math.isfinite(self.value)):
            self.status, self.error = "failed", f"objective returned {self.value}"
            self.value = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        """A JSON-friendly dict (extras that JSON cannot hold are described, not stored)."""
        return {"number": self.number, "status": self.status, "value": self.value,
                "params": _jsonable(self.params), "budget": _jsonable(self.budget),
                "stage": self.stage, "duration": self.duration, "error": self.error,
                "extras": {key: _jsonable(value) for key, value in self.extras.items()}}

    def __repr__(self) -> str:
        shown = "failed: " + str(self.error) if not self.ok else f"value={self.value:.6g}"
        return f"Trial(#{self.number}, {shown}, params={self.params})"


def _jsonable(value):
    """``value`` if JSON can write it; NumPy scalars/small arrays converted; else a description."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, np.ndarray) and value.size <= 100:
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _jsonable(item) for key, item in value.items()}
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return _jsonable(value.item())      # a 0-d Tensor
    return f"<not saved: {type(value).__name__}>"


def edge_warnings(space: dict, params: dict, edge: float = 0.05) -> list[str]:
    """Warnings for the numeric parameters whose value lies near an end of its range.

    "Near" means within ``edge`` (a fraction of the range, 5% by default) of
    ``lo`` or ``hi`` in the unit coordinate of the distribution, i.e. in log
    space for ``loguniform``: ``lr = 1.1e-4`` in ``loguniform(1e-4, 1e-1)``
    (u = 0.014) warns, ``lr = 2e-4`` (u = 0.10) does not. ``choice``
    parameters are not checked (their options need not be ordered). A ``randint``
    value owns the cell ``[(n − lo)/m, (n − lo + 1)/m]`` of the unit interval (m
    integers), and the cell's near end is what is measured, so the smallest and the
    largest allowed integers always warn: ``layers = 1`` in ``randint(1, 4)`` lies at
    the low edge although its cell centre, u = 1/6, does not.
    """
    messages = []
    for name, distribution in distributions(space).items():
        if isinstance(distribution, Choice) or name not in params:
            continue
        u_low = u_high = distribution.to_unit(params[name])
        if isinstance(distribution, RandInt):                    # the ends of n's cell
            half_cell = 0.5 / (distribution.hi - distribution.lo)
            u_low, u_high = u_low - half_cell, u_high + half_cell
        scale = " in log space" if isinstance(distribution, LogUniform) else ""
        if u_low < edge:
            side, where = "low", "below"
        elif u_high > 1 - edge:
            side, where = "high", "above"
        else:
            continue
        messages.append(f"best {name} = {params[name]:.4g} lies at the {side} edge of "
                        f"{distribution!r} (within {edge:.0%} of the range{scale}): the optimum "
                        f"may lie {where} it; widen the range and search again")
    return messages


class SearchResult:
    """The trials of a search, the best of them and the warnings.

    Attributes:
        trials: every :class:`Trial`, in submission order.
        space: the space searched (for coarse-to-fine: the first, widest one).
        mode: ``'min'`` or ``'max'``.
        method: the search's name (``'random'``, ``'grid'``, ...).
        spaces: coarse-to-fine: the space of each stage (else ``[space]``).
        warnings: list of strings (best value near the edge of its range,
            failed trials); also printed by :meth:`summary`.
    """

    def __init__(self, trials: list[Trial], space: dict, mode: str = "min",
                 method: str = "random", spaces: list[dict] | None = None,
                 edge: float = 0.05):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.trials = list(trials)
        self.space = space
        self.mode = mode
        self.method = method
        self.spaces = list(spaces) if spaces is not None else [space]
        self.warnings = self._warnings(edge)

    # --- ranking ---------------------------------------------------------------------

    def _candidates(self) -> list[Trial]:
        """The trials that compete for ``best``: successful ones of the last stage.

        Coarse-to-fine values at different budgets are not comparable (one epoch
        vs twenty), so only the last stage that has a successful trial counts.
        """
        ok = [trial for trial in self.trials if trial.ok]
        stages = [trial.stage for trial in ok if trial.stage is not None]
        if stages:
            last = max(stages)
            ok = [trial for trial in ok if trial.stage == last]
        return ok

    def ranked(self) -> list[Trial]:
        """Successful trials, best first (ties: the earlier trial first)."""
        sign = 1.0 if self.mode == "min" else -1.0
        return sorted((trial for trial in self.trials if trial.ok),
                      key=lambda trial: (-(trial.stage or 0), sign * trial.value, trial.number))

    @property
    def best(self) -> Trial:
        """The best successful trial (of the last stage for coarse-to-fine)."""
        candidates = self._candidates()
        if not candidates:
            failed = [trial for trial in self.trials if not trial.ok]
            first = f"; first error: {failed[0].error}" if failed else ""
            raise RuntimeError(f"no successful trial among {len(self.trials)}{first}")
        sign = 1.0 if self.mode == "min" else -1.0
        return min(candidates, key=lambda trial: (sign * trial.value, trial.number))

    @property
    def best_params(self) -> dict:
        return self.best.params

    @property
    def best_value(self) -> float:
        return self.best.value

    @property
    def failed(self) -> list[Trial]:
        return [trial for trial in self.trials if not trial.ok]

    def _warnings(self, edge: float) -> list[str]:
        messages = []
        if self.failed:
            messages.append(f"{len(self.failed)} of {len(self.trials)} trials failed "
                            f"(first: #{self.failed[0].number} {self.failed[0].error})")
        if self._candidates():
            messages += edge_warnings(self.space, self.best.params, edge)
        return messages

    # --- printing ----------------------------------------------------------------------

    def summary(self, top: int | None = None) -> str:
        """A table of the trials, best first (failed ones last), then the warnings."""
        names = [name for name in self.space if isinstance(self.space[name], Distribution)]
        show_budget = any(trial.budget is not None for trial in self.trials)
        header = ["rank", "trial", "value"] + names + (["budget"] if show_budget else [])
        header += ["seconds", "status"]
        rows = []
        ranked = self.ranked()
        for rank, trial in enumerate(ranked + self.failed, start=1):
            if top is not None and rank > top:
                break
            row = [str(rank) if trial.ok else "-", str(trial.number),
                   f"{trial.value:.6g}" if trial.ok else "-"]
            row += [_format(trial.params.get(name)) for name in names]
            if show_budget:
                row.append(_format(trial.budget))
            row += [f"{trial.duration:.2f}", trial.status if trial.ok else
                    f"failed: {_shorten(trial.error, 50)}"]
            rows.append(row)
        widths = [max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i])
                  for i in range(len(header))]
        lines = [f"{self.method} search, mode={self.mode}: {len(self.trials)} trials, "
                 f"{len(self.failed)} failed"]
        for row in [header] + rows:       # numbers right-aligned, the status column left
            cells = [text.rjust(width) for text, width in zip(row[:-1], widths)]
            lines.append("  ".join(cells + [row[-1]]).rstrip())
        if self._candidates():
            lines.append(f"best: trial {self.best.number}, value {self.best.value:.6g}, "
                         f"params {self.best.params}")
        for message in self.warnings:
            lines.append("warning: " + message)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        best = f", best={self.best.value:.6g}" if self._candidates() else ""
        return (f"SearchResult(method={self.method!r}, mode={self.mode!r}, "
                f"trials={len(self.trials)}, failed={len(self.failed)}{best})")

    # --- files ---------------------------------------------------------------------------

    def file_names(self) -> dict[int, str]:
        """``{trial number: file stem}`` following the rule in the module docstring."""
        ranked = self.ranked()
        width = max(2, len(str(len(ranked))))
        number_width = max(3, len(str(max((trial.number for trial in self.trials), default=0))))
        names = {}
        for rank, trial in enumerate(ranked, start=1):
            names[trial.number] = (f"{rank:0{width}d}_{trial.value:.6g}_"
                                   f"trial{trial.number:0{number_width}d}")
        for trial in self.failed:
            names[trial.number] = f"failed_trial{trial.number:0{number_width}d}"
        return names

    def save(self, directory, overwrite: bool = False) -> list[str]:
        """Write one JSON file per trial (and ``search.json``) into ``directory``.

        The directory is created if needed. ``search.json`` lists every file
        the save wrote (``"files"``, its manifest). An earlier ``save`` into the
        same directory is an error unless ``overwrite=True``, which first
        removes exactly the files that earlier save listed, so none is left
        stale; a file the manifest does not list (a user's own, even one named
        like a trial file) is never removed, and if this save would have to
        replace one, it raises FileExistsError before writing anything.
        Extras that JSON cannot hold (a state dict, ...) are written next to
        the trial's JSON with ``tg.save`` as ``<stem>.<key>.npz`` and the JSON
        names that file (the key must be letters, digits, ``_`` or ``-``;
        ValueError before anything is written otherwise); anything ``tg.save``
        cannot write either is described as ``'<not saved: TypeName>'``.
        Returns the paths written.
        """
        directory = os.fspath(directory)
        stems = self.file_names()
        planned = []                    # every file name this save may write, checked first
        for trial in self.trials:
            for key, value in trial.extras.items():
                if "<not saved: " in json.dumps(_jsonable(value)):
                    if not isinstance(key, str) or not EXTRAS_KEY.fullmatch(key):
                        raise ValueError(f"trial {trial.number}: extras key {key!r} cannot be "
                                         "part of a file name (use letters, digits, '_', '-')")
                    planned.append(f"{stems[trial.number]}.{key}.npz")
            planned.append(stems[trial.number] + ".json")
        os.makedirs(directory, exist_ok=True)
        earlier = earlier_trial_files(directory)
        if earlier and not overwrite:
            raise FileExistsError(f"{directory} already holds the trial files of an earlier "
                                  f"search ({earlier[0]}, ...): pass overwrite=True or choose "
                                  "another directory")
        for name in planned + [SUMMARY_FILE]:
            if name not in earlier and os.path.lexists(os.path.join(directory, name)):
                raise FileExistsError(f"{directory} holds {name}, which no earlier save wrote "
                                      "(it is not in search.json's list of files): refusing to "
                                      "replace it; move it or choose another directory")
        for name in earlier:
            os.remove(os.path.join(directory, name))
        summary = {"method": self.method, "mode": self.mode,
                   "space": describe_space(self.space),
                   "stages": [describe_space(space) for space in self.spaces],
                   "best": self.best.to_dict() if self._candidates() else None,
                   "warnings": self.warnings}
        # the manifest first: a save interrupted half-way is still removed by the next one
        _write_json({**summary, "files": planned + [SUMMARY_FILE]}, directory, SUMMARY_FILE)
        written = []
        for trial in self.trials:
            stem = stems[trial.number]
            record = trial.to_dict()
            for key, value in trial.extras.items():
                if "<not saved: " in json.dumps(_jsonable(value)):
                    array_file = _save_arrays(value, directory, f"{stem}.{key}.npz")
                    if array_file is not None:
                        record["extras"][key] = {"file": array_file}
                        written.append(array_file)
            _write_json(record, directory, stem + ".json")
            written.append(stem + ".json")
        written.append(SUMMARY_FILE)
        _write_json({**summary, "files": written}, directory, SUMMARY_FILE)
        return [os.path.join(directory, name) for name in written]


def earlier_trial_files(directory) -> list[str]:
    """The names of files in ``directory`` that an earlier :meth:`SearchResult.save` wrote.

    They are read from the ``"files"`` list of its ``search.json`` (the
    manifest); only plain file names that exist are returned, so a tampered
    manifest cannot point outside the directory. No manifest, no files.
    """
    path = os.path.join(os.fspath(directory), SUMMARY_FILE)
    if not os.path.isfile(path):
        return []
    try:
        with open(path) as handle:
            names = json.load(handle).get("files")
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(names, list):
        return []
    return sorted({name for name in names
                   if isinstance(name, str) and name not in ("", ".", "..")
                   and os.path.basename(name) == name and "\\" not in name
                   and os.path.isfile(os.path.join(os.fspath(directory), name))})


def _write_json(value, directory: str, file_name: str) -> None:
    with open(os.path.join(directory, file_name), "w") as handle:
        json.dump(_jsonable(value), handle, indent=2)


def _save_arrays(value, directory: str, file_name: str) -> str | None:
    """Write ``value`` with ``tg.save``; the file name, or None if it cannot be saved."""
    from tinygrad_opt.serialization import save
    try:
        save(value, os.path.join(directory, file_name))
    except (TypeError, ValueError):
        return None
    return file_name


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _shorten(text, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[:width - 3] + "..."

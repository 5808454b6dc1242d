"""The label catalogue: one account-wide stream, ``labels``. Pure, like the
conversation decider: ``decide_labels`` takes the catalogue's state, the
command and the actor and returns events.

Rules:

- **Admins** create, rename, recolour and delete labels; anyone else is
  refused (403 ``forbidden``). Every staff member may read the catalogue and
  put its labels on conversations (:mod:`commands.workflow`).
- A label's **id** is unique and is **never reused**, not even after its
  label was deleted: conversations keep a deleted label's id in their
  history, and a new label under the same id would silently reappear on
  them. Without a ``label_id`` the id is the name's slug (lower-case ASCII,
  runs of other characters become ``-``, trimmed, at most 50 characters;
  ``label`` for a name with no letter or digit); a slug taken by another
  label, live or deleted, gets the first free ``-2``, ``-3``, … suffix. An
  explicit ``label_id`` that is taken is refused (409 ``label_exists``).
- A label's **name** is unique among the live labels, ignoring case (and
  leading or trailing blanks, which are trimmed). A deleted label's name is
  free again. Colours are stored lower-case (``#rrggbb``).
- Changing a label to what it is emits nothing; deleting a deleted label
  emits nothing (a retry is harmless); a label that never existed is 404
  ``label_not_found``.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from typing import Final

import msgspec

from commands import access, errors
from commands.model import Actor
from events.catalogue import (
    AnyCatalogueEvent,
    AnyEvent,
    Colour,
    LabelChanged,
    LabelCreated,
    LabelDeleted,
    LabelId,
    LabelName,
)

LABELS_STREAM: Final = "labels"
MAX_LABEL_ID: Final = 50
"""What :data:`~events.catalogue.LabelId` allows."""


# -- commands --------------------------------------------------------------------------


class CreateLabel(msgspec.Struct, frozen=True, kw_only=True):
    name: LabelName
    colour: Colour
    label_id: LabelId | None = None
    """Leave out to derive it from the name (its slug)."""


class ChangeLabel(msgspec.Struct, frozen=True, kw_only=True):
    """Rename and/or recolour (at least one)."""

    label_id: LabelId
    name: LabelName | None = None
    colour: Colour | None = None


class DeleteLabel(msgspec.Struct, frozen=True, kw_only=True):
    label_id: LabelId


LabelCommand = CreateLabel | ChangeLabel | DeleteLabel


# -- state -----------------------------------------------------------------------------


class Label(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    colour: str


class LabelsState(msgspec.Struct, frozen=True, kw_only=True):
    labels: dict[str, Label] = msgspec.field(default_factory=dict)
    """The live labels by id."""
    deleted: frozenset[str] = frozenset()
    """The ids of deleted labels (never reused)."""

    def live(self, label_id: str) -> bool:
        return label_id in self.labels

    def named(self, name: str) -> str | None:
        """The id of the live label called ``name``, ignoring case and blanks around it."""
        wanted = _name_key(name)
        matches = (i for i, label in self.labels.items() if _name_key(label.name) == wanted)
        return next(matches, None)


def fold_labels(events: Iterable[AnyEvent], state: LabelsState | None = None) -> LabelsState:
    """The catalogue after ``events`` (on ``state``, or empty); other events are ignored."""
    labels = dict(state.labels) if state else {}
    deleted = set(state.deleted) if state else set()
    for event in events:
        match event:
            case LabelCreated():
                labels[event.label_id] = Label(name=event.name, colour=event.colour)
            case LabelChanged() if (label := labels.get(event.label_id)) is not None:
                labels[event.label_id] = Label(
                    name=event.name or label.name, colour=event.colour or label.colour
                )
            case LabelDeleted():
                labels.pop(event.label_id, None)
                deleted.add(event.label_id)
    return LabelsState(labels=labels, deleted=frozenset(deleted))


# -- the decider -----------------------------------------------------------------------


def decide_labels(
    state: LabelsState, command: LabelCommand, actor: Actor
) -> list[AnyCatalogueEvent]:
    """The events ``command`` causes on the catalogue in ``state``."""
    access.require_admin(actor, "manage labels")
    match command:
        case CreateLabel():
            name = command.name.strip()
            _require_name_free(state, name, None)
            if command.label_id is not None:
                _require_id_free(state, command.label_id)
                label_id = command.label_id
            else:
                label_id = free_label_id(state, label_slug(name))
            return [LabelCreated(label_id=label_id, name=name, colour=command.colour.lower())]
        case ChangeLabel():
            if command.name is None and command.colour is None:
                raise errors.InvalidCommand("nothing to change: give name and/or colour")
            label = _require_live(state, command.label_id)
            renamed = None if command.name is None else command.name.strip()
            if renamed is not None:
                _require_name_free(state, renamed, command.label_id)
            colour = None if command.colour is None else command.colour.lower()
            new_name = renamed if renamed not in (None, label.name) else None
            new_colour = colour if colour not in (None, label.colour) else None
            if new_name is None and new_colour is None:
                return []
            return [LabelChanged(label_id=command.label_id, name=new_name, colour=new_colour)]
        case DeleteLabel():
            if command.label_id in state.deleted:
                return []  # already deleted: a retry
            _require_live(state, command.label_id)
            return [LabelDeleted(label_id=command.label_id)]


def label_slug(name: str) -> str:
    """``"Billing & Refunds!"`` -> ``billing-refunds``; ``label`` when the name
    has no ASCII letter or digit."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:MAX_LABEL_ID].strip("-") or "label"


def free_label_id(state: LabelsState, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``, … (cut to fit): the first id no
    label, live or deleted, has had."""
    taken = state.labels.keys() | state.deleted
    if base not in taken:
        return base
    for n in itertools.count(2):
        suffix = f"-{n}"
        candidate = base[: MAX_LABEL_ID - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _name_key(name: str) -> str:
    return name.strip().casefold()


def _require_live(state: LabelsState, label_id: str) -> Label:
    label = state.labels.get(label_id)
    if label is None:
        raise errors.LabelNotFound(f"no label {label_id!r}", field="label_id")
    return label


def _require_name_free(state: LabelsState, name: str, own_id: str | None) -> None:
    holder = state.named(name)
    if holder is not None and holder != own_id:
        raise errors.LabelExists(
            f"the label {holder!r} is named {state.labels[holder].name!r} already",
            field="name",
            details={"label_id": holder},
        )


def _require_id_free(state: LabelsState, label_id: str) -> None:
    if state.live(label_id):
        raise errors.LabelExists(f"the label {label_id!r} exists already", field="label_id")
    if label_id in state.deleted:
        raise errors.LabelExists(
            f"the id {label_id!r} belonged to a deleted label; label ids are never reused",
            field="label_id",
        )

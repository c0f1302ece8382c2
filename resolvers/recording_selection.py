"""What a recording's selection needs fetched, read once per request.

The recording's resolver fetches the recording's attached media and transcript and mints the
URLs of the recording and of its media before graphql-core reaches those fields, so it has to
see them as graphql-core will execute them:
through fragments (inline and named, on the type or on ``Node``), honouring ``@skip`` and
``@include``, with every alias and with the arguments coerced exactly as graphql-core passes
them to the field (``get_argument_values``), which is what makes the keys match. Anything this
misses still works: the field mints lazily (resolvers.signed_url).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

import strawberry
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values

from app.context import Context
from resolvers.enums import MediaStatus, MediaType
from resolvers.signed_url import UrlKey

RECORDING_URL_FIELDS = ("mediaUrl", "signedMediaUrl")
MEDIA_URL_FIELDS = ("url", "signedUrl")
# Deprecated recording fields that answer an attached media item's URL.
LEGACY_URL_FIELDS = {
    "transcript": MediaType.TRANSCRIPTION,
    "subtitles": MediaType.SUBTITLES,
    "waveform": MediaType.WAVEFORM,
}


@dataclass(frozen=True, slots=True)
class MediaFilter:
    """``attachedMedia``'s arguments: items kept match all the lists given."""

    languages: list[str] | None = None
    types: list[MediaType] | None = None
    statuses: list[MediaStatus] | None = None


@dataclass(frozen=True, slots=True)
class MediaUrls:
    """One ``attachedMedia`` selection (alias): its filter and its items' URL fields."""

    filter: MediaFilter
    urls: tuple[UrlKey, ...]


@dataclass(frozen=True, slots=True)
class RecordingSelection:
    urls: tuple[UrlKey, ...]  # mediaUrl, signedMediaUrl
    legacy: tuple[str, ...]  # transcript, subtitles, waveform
    media: tuple[MediaUrls, ...]  # every attachedMedia selection, with URL fields or not
    attached_media: bool  # attachedMedia is selected at all
    transcription: bool

    @property
    def needs_media(self) -> bool:
        return self.attached_media or bool(self.legacy)

    @property
    def signs(self) -> bool:
        """Some URL field is selected, for the recording or for its media."""
        return bool(self.urls or self.legacy or any(m.urls for m in self.media))

    @property
    def anything(self) -> bool:
        return bool(self.urls or self.legacy or self.attached_media or self.transcription)


# A resolver's info: Strawberry's, or graphql-core's own in a direct resolver (resolvers.direct).
AnyInfo: TypeAlias = strawberry.Info[Context, None] | GraphQLResolveInfo[Context]


# The fields of ``UserTestResultRecordings`` that return a recording, by kind.
RECORDING_KINDS = ("download", "screen", "camera", "audio")


def page_recordings_selection(info: AnyInfo) -> dict[str, RecordingSelection]:
    """What the items of a results connection (the field being resolved) select of their
    recordings, by kind: ``edges { node { recordings { download { ... } } } }`` through
    fragments, directives and aliases, every alias of a kind merged into one selection (a
    recording built for it serves each alias). Empty when no recording is selected."""
    found = _planned(info, "UserTestResultConnection", _Walk.page)
    assert isinstance(found, dict)
    return found


def recording_selection(info: AnyInfo) -> RecordingSelection:
    """What the field being resolved (one returning a ``TestSessionRecording``) selects. Every
    item of a list shares its field nodes, so a page works this out once."""
    found = _planned(info, "TestSessionRecording", _Walk.recording)
    assert isinstance(found, RecordingSelection)
    return found


def _planned(info: AnyInfo, kind: str, walk: Callable[[_Walk, list[FieldNode]], object]) -> object:
    """``walk`` over the field's nodes, once per request and field nodes (context.plans)."""
    # Strawberry's Info wraps graphql-core's (the field nodes and coerced variables are there);
    # a direct resolver (resolvers.direct) has graphql-core's own.
    raw = info._raw_info if isinstance(info, strawberry.Info) else info
    key = (kind, *map(id, raw.field_nodes))
    plans = info.context.plans
    found = plans.get(key)
    if found is None:
        found = plans[key] = walk(_Walk(raw), raw.field_nodes)
    return found


class _Walk:
    def __init__(self, raw: GraphQLResolveInfo[Context]) -> None:
        self.raw = raw
        # Strawberry hands resolvers the coerced dict, graphql-core its VariableValues.
        values: Any = raw.variable_values
        self.variables = VariableValues({}, getattr(values, "coerced", values))

    def page(self, nodes: Iterable[FieldNode]) -> dict[str, RecordingSelection]:
        kinds: dict[str, list[FieldNode]] = {}
        for parent, name in (
            ("UserTestResultConnection", "edges"),
            ("UserTestResultEdge", "node"),
            ("UserTestResult", "recordings"),
        ):
            nodes = [f for f in self._fields(nodes, self._type(parent)) if f.name.value == name]
        for field in self._fields(nodes, self._type("UserTestResultRecordings")):
            if field.name.value in RECORDING_KINDS:
                kinds.setdefault(field.name.value, []).append(field)
        return {kind: self.recording(fields) for kind, fields in kinds.items()}

    def recording(self, nodes: Iterable[FieldNode]) -> RecordingSelection:
        recording_type = self._type("TestSessionRecording")
        urls: list[UrlKey] = []
        legacy: list[str] = []
        media: list[MediaUrls] = []
        attached = transcription = False
        for field in self._fields(nodes, recording_type):
            name = field.name.value
            if name in RECORDING_URL_FIELDS:
                urls.append(self._url_key(recording_type.fields[name], field))
            elif name in LEGACY_URL_FIELDS:
                legacy.append(name)
            elif name == "attachedMedia":
                attached = True
                media.append(self._media(field, recording_type.fields[name]))
            elif name == "transcription":
                transcription = True
        return RecordingSelection(
            urls=tuple(dict.fromkeys(urls)),
            legacy=tuple(dict.fromkeys(legacy)),
            media=tuple(media),
            attached_media=attached,
            transcription=transcription,
        )

    def _media(self, attached: FieldNode, definition: GraphQLField) -> MediaUrls:
        arguments = get_argument_values(definition, attached, self.variables)
        group_type = self._type("AttachedMediaLanguage")
        media_type = self._type("AttachedMedia")
        items = [f for f in self._fields([attached], group_type) if f.name.value == "media"]
        urls = [
            self._url_key(media_type.fields[field.name.value], field)
            for field in self._fields(items, media_type)
            if field.name.value in MEDIA_URL_FIELDS
        ]
        return MediaUrls(
            filter=MediaFilter(
                languages=arguments.get("languages"),
                types=arguments.get("types"),
                statuses=arguments.get("statuses"),
            ),
            urls=tuple(dict.fromkeys(urls)),
        )

    def _url_key(self, definition: GraphQLField, field: FieldNode) -> UrlKey:
        arguments = get_argument_values(definition, field, self.variables)
        return (
            field.name.value,
            arguments.get("expiresIn"),
            arguments.get("disposition"),
            arguments.get("filename"),
        )

    def _type(self, name: str) -> GraphQLObjectType:
        found = self.raw.schema.get_type(name)
        assert isinstance(found, GraphQLObjectType)
        return found

    def _fields(self, nodes: Iterable[FieldNode], parent: GraphQLObjectType) -> Iterator[FieldNode]:
        """The fields selected on ``parent`` under ``nodes``, through fragments that apply."""
        applies = {parent.name, *(interface.name for interface in parent.interfaces)}
        for node in nodes:
            if node.selection_set is not None:
                yield from self._selected(node.selection_set, applies)

    def _selected(self, selection_set: SelectionSetNode, applies: set[str]) -> Iterator[FieldNode]:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or condition.name.value in applies:
                    yield from self._selected(selection.selection_set, applies)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.raw.fragments[selection.name.value]
                if fragment.type_condition.name.value in applies:
                    yield from self._selected(fragment.selection_set, applies)

    def _included(self, node: Any) -> bool:
        if not node.directives:
            return True
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip["if"]:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return include is None or bool(include["if"])

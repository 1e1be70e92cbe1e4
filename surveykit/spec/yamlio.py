"""Reading YAML spec files strictly: duplicate keys, syntax errors and absurd nesting become :class:`SpecError`.

PyYAML silently keeps the last of two equal keys; in a questionnaire that hides a typo, so we refuse it. Merge
keys (``<<: *base``) are YAML's way to share settings and are accepted: keys written beside them override the
merged ones (only keys written twice in the same mapping are duplicates). Nesting deeper than
:data:`MAX_DEPTH` levels is refused before it is built (PyYAML's composer is recursive: a file nested a thousand
levels deep would otherwise end in a RecursionError).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ValidationError

from ..errors import SpecError


MAX_DEPTH = 100  # levels of nested mappings and lists; spec files use fewer than 10
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _mapping_no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:  # `<<: *base`: merged by construct_mapping, overridable
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first on line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates)


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; any problem is a :class:`SpecError` naming the file (and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecError("file not found", file=path) from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None
    except OSError as exc:
        raise SpecError(f"cannot read file ({exc.strerror})", file=path) from None
    if not text.strip():
        raise SpecError("the file is empty", file=path)
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - strict SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise SpecError(f"invalid YAML{where}: {exc.problem or exc.context}", file=path) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", file=path) from None


def _quoted_version(v):
    if isinstance(v, (int, float)):
        # YAML reads 2025.10 as the number 2025.1: refuse rather than silently change the version
        raise ValueError(f"write the version in quotes (read as the number {v!r}), e.g. version: \"2025.1\"")
    return v


# the version of a YAML spec: text, never a number YAML guessed
Version = Annotated[str, BeforeValidator(_quoted_version)]


#: keys that exist in the models but not in the files: a validator gathers the file's keys under them
_GATHERED = {"years"}


def key_path(loc: tuple, data: Any = None) -> str:
    """Turn a pydantic error location into a readable key path, naming ids where the data has them.

    ``('indicators', 0, 'children', 1, 'weight')`` becomes ``indicators[law].children[law.policy].weight``.
    """
    out = ""
    node = data
    for part in loc:
        if part in _GATHERED and isinstance(node, dict) and part not in node:
            continue                # a key a validator gathered the file's keys under (comparability's years)
        if isinstance(part, int) and isinstance(node, dict):      # a mapping keyed by numbers (years)
            node = node.get(part, node.get(str(part)))
            out += ("." if out else "") + str(part)
        elif isinstance(part, int):
            label = str(part)
            if isinstance(node, list) and 0 <= part < len(node):
                node = node[part]
                if isinstance(node, dict) and "id" in node:
                    label = str(node["id"])
            else:
                node = None
            out += f"[{label}]"
        else:
            if isinstance(node, dict):
                node = node.get(part)
            else:
                node = None
            out += ("." if out else "") + str(part)
    return out


def validate_model(model: type[BaseModel], data: Any, path: str | Path) -> BaseModel:
    """Validate ``data`` against a pydantic model; the first error becomes a located :class:`SpecError`."""
    if not isinstance(data, dict):
        raise SpecError(f"expected a mapping at the top level, found {type(data).__name__}", file=path)
    try:
        return model.model_validate(data, context={"file": str(path)})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; the formats are in docs/CONTRACTS.md)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        msg = msg.removeprefix("Value error, ")
        more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
        raise SpecError(msg + more, file=path, key=key_path(loc, data) or None) from None

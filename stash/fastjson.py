"""JSON for the plugin's stdin and stdout without importing the `json` package.

`import json` loads `re` and `enum` (json.decoder and json.encoder compile regular expressions at import):
about 9 ms of CPU in every hook process, which is most of what a filtered hook may cost on top of the
interpreter. The same C scanner and string encoder the json package uses (`_json`) parse the one object
on stdin and write the one result line. Anything unusual (bad input, a result that is not text, an
interpreter without `_json`) goes through `json` itself, so errors and output are exactly json's.
"""
from __future__ import annotations

try:
    import _json
except ImportError:  # not CPython: the json package is always right, only slower to import
    _json = None

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _ScannerContext:
    """The attributes json.JSONDecoder hands to _json.make_scanner, with json.loads' defaults."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_scan = _json.make_scanner(_ScannerContext()) if _json is not None else None


def loads(text: str):  # noqa: ANN201 - any JSON value
    """json.loads(text), without importing json unless the text is not valid JSON."""
    if _scan is not None:
        try:
            start = len(text) - len(text.lstrip(_WHITESPACE))
            value, end = _scan(text, start)
            if not text[end:].strip(_WHITESPACE):
                return value
        except RecursionError:
            raise  # as json.loads would (a deeply nested array)
        except Exception:  # noqa: BLE001 - StopIteration, or the scanner's own error path failing without json
            pass  # json.loads below raises the proper JSONDecodeError
    import json  # noqa: PLC0415
    return json.loads(text)


def _text(value: object) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, str) and _json is not None:
        return _json.encode_basestring_ascii(value)
    return None


def dumps_result(output: object, error: str | None) -> str:
    """json.dumps({"output": output, "error": error}, ensure_ascii=True, default=str)."""
    out, err = _text(output), _text(error)
    if out is not None and err is not None:
        return '{"output": %s, "error": %s}' % (out, err)
    import json  # noqa: PLC0415 - task results that are not plain text
    return json.dumps({"output": output, "error": error}, ensure_ascii=True, default=str)

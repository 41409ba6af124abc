"""``rawhttp`` and ``AMLRequest``: the request object a ``@rawhttp`` ``run()`` receives.

AMLRequest offers what entry scripts use of the werkzeug request azureml-inference-server-
http passes: ``method``, ``headers`` (case-insensitive), ``args``, ``get_data()``, ``data``,
``json``/``get_json()``, ``is_json``, ``mimetype``, ``content_type``, ``content_length``,
``path``, ``full_path``, ``query_string``, ``url``, ``base_url``, ``host``, ``url_root``,
``remote_addr``, ``form``/``files``/``values`` (urlencoded and multipart bodies), ``stream``,
``cookies`` and ``environ``. Differences: the body is read eagerly (``get_data()`` always
returns it, also after ``form``/``files`` were read), and errors are plain ValueError/
KeyError (the server answers 500 for any exception raised inside ``run()`` either way).
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from http.cookies import SimpleCookie
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qsl

_rawHttpRequested = False  # noqa: N816  (the name azureml-inference-server-http reads)

F = TypeVar("F", bound=Callable[..., Any])
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def rawhttp(func: F) -> F:
    """Mark ``run()`` as wanting the raw request (an AMLRequest) instead of the body."""
    global _rawHttpRequested
    _rawHttpRequested = True
    return func


class MultiDict:
    """Keys with one or more values, in arrival order; ``d[k]`` and ``get`` give the first."""

    def __init__(self, pairs: Iterable[tuple[str, Any]] = ()) -> None:
        self._lists: dict[str, list[Any]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> Any:
        if key in self._lists:
            return self._lists[key][0]
        raise KeyError(key)

    def get(self, key: str, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any:
        if key not in self._lists:
            return default
        value = self._lists[key][0]
        if type is None:
            return value
        try:
            return type(value)
        except (ValueError, TypeError):
            return default

    def getlist(self, key: str, type: Callable[[Any], Any] | None = None) -> list[Any]:
        values = list(self._lists.get(key, []))
        return values if type is None else [type(v) for v in values]

    def __contains__(self, key: object) -> bool:
        return key in self._lists

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.items(multi=True))!r})"

    def keys(self) -> list[str]:
        return list(self._lists)

    def values(self) -> list[Any]:
        return [v[0] for v in self._lists.values()]

    def items(self, multi: bool = False) -> list[tuple[str, Any]]:
        if multi:
            return [(k, v) for k, vs in self._lists.items() for v in vs]
        return [(k, vs[0]) for k, vs in self._lists.items()]

    def lists(self) -> list[tuple[str, list[Any]]]:
        return [(k, list(vs)) for k, vs in self._lists.items()]

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        if flat:
            return dict(self.items())
        return dict(self.lists())


class Headers:
    """Request headers, case-insensitive; names as WSGI gives them (``X-Ms-Request-Id``),
    repeated headers joined by commas. ``dict(headers)`` gives name -> value."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._items: list[tuple[str, str]] = []
        for name, value in pairs:
            key = name.replace("_", "-").title()
            for i, (k, v) in enumerate(self._items):
                if k == key:
                    self._items[i] = (k, v + "," + value)
                    break
            else:
                self._items.append((key, value))

    def _find(self, name: str) -> str | None:
        wanted = name.replace("_", "-").lower()
        for key, value in self._items:
            if key.lower() == wanted:
                return value
        return None

    def __getitem__(self, name: str) -> str:
        value = self._find(name)
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:
        value = self._find(name)
        if value is None:
            return default
        if type is None:
            return value
        try:
            return type(value)
        except (ValueError, TypeError):
            return default

    def getlist(self, name: str) -> list[str]:
        value = self._find(name)
        return [] if value is None else [value]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def keys(self) -> list[str]:
        return [k for k, _ in self._items]

    def values(self) -> list[str]:
        return [v for _, v in self._items]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def to_wsgi_list(self) -> list[tuple[str, str]]:
        return list(self._items)


class FileStorage:
    """One uploaded file of a multipart body."""

    def __init__(self, data: bytes, name: str, filename: str | None, content_type: str) -> None:
        self.stream = io.BytesIO(data)
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.mimetype = content_type.split(";")[0].strip().lower()

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def save(self, dst: Any, buffer_size: int = 16384) -> None:
        if isinstance(dst, (str, os.PathLike)):
            with open(dst, "wb") as handle:
                shutil.copyfileobj(self.stream, handle, buffer_size)
        else:
            shutil.copyfileobj(self.stream, dst, buffer_size)

    def __bool__(self) -> bool:
        return bool(self.filename)

    def __repr__(self) -> str:
        return f"<FileStorage: {self.filename!r} ({self.content_type!r})>"


class AMLRequest:
    """The HTTP request handed to a ``@rawhttp`` ``run()`` (built by the entry host)."""

    def __init__(
        self,
        method: str = "GET",
        path: str = "/",
        query_string: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        remote_addr: str | None = None,
        scheme: str = "http",
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.query_string = query_string
        self.headers = Headers(headers)
        self._body = body
        self.remote_addr = remote_addr
        self.scheme = scheme
        self.args = MultiDict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        self._form: tuple[MultiDict, MultiDict] | None = None
        self._json_cache: Any = _UNSET

    # -- what the body is ---------------------------------------------------------------
    @property
    def content_type(self) -> str | None:
        value: str | None = self.headers.get("Content-Type")
        return value

    @property
    def mimetype(self) -> str:
        return (self.content_type or "").split(";")[0].strip().lower()

    @property
    def mimetype_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        for part in (self.content_type or "").split(";")[1:]:
            key, _, value = part.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        return params

    @property
    def content_length(self) -> int | None:
        value: int | None = self.headers.get("Content-Length", type=int)
        return value

    @property
    def is_json(self) -> bool:
        mt = self.mimetype
        return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))

    # -- the body -------------------------------------------------------------------------
    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> Any:
        """The raw body (bytes, or str with ``as_text``)."""
        return self._body.decode("utf-8", "replace") if as_text else self._body

    @property
    def data(self) -> bytes:
        """The body, empty for form bodies (werkzeug parses those into ``form``/``files``)."""
        return b"" if self.mimetype in _FORM_TYPES else self._body

    @property
    def stream(self) -> io.BytesIO:
        return io.BytesIO(self._body)

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The body parsed as JSON; None with ``silent`` when it is not JSON."""
        if cache and self._json_cache is not _UNSET:
            return self._json_cache
        if not (force or self.is_json):
            if silent:
                return None
            raise ValueError(
                "Did not attempt to load JSON data because the request "
                "Content-Type was not 'application/json'."
            )
        try:
            value = json.loads(self._body)
        except ValueError:
            if silent:
                return None
            raise
        if cache:
            self._json_cache = value
        return value

    @property
    def json(self) -> Any:
        return self.get_json()

    def _parse_form(self) -> tuple[MultiDict, MultiDict]:
        if self._form is None:
            if self.mimetype == "application/x-www-form-urlencoded":
                pairs = parse_qsl(self._body.decode("utf-8", "replace"), keep_blank_values=True)
                self._form = (MultiDict(pairs), MultiDict())
            elif self.mimetype == "multipart/form-data":
                self._form = _parse_multipart(self.content_type or "", self._body)
            else:
                self._form = (MultiDict(), MultiDict())
        return self._form

    @property
    def form(self) -> MultiDict:
        return self._parse_form()[0]

    @property
    def files(self) -> MultiDict:
        return self._parse_form()[1]

    @property
    def values(self) -> MultiDict:
        return MultiDict([*self.args.items(multi=True), *self.form.items(multi=True)])

    # -- where it was sent --------------------------------------------------------------
    @property
    def host(self) -> str:
        return str(self.headers.get("Host", ""))

    @property
    def full_path(self) -> str:
        return "{}?{}".format(self.path, self.query_string.decode("latin-1"))

    @property
    def host_url(self) -> str:
        return f"{self.scheme}://{self.host}/"

    @property
    def url_root(self) -> str:
        return self.host_url

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}"

    @property
    def url(self) -> str:
        query = self.query_string.decode("latin-1")
        return self.base_url + ("?" + query if query else "")

    @property
    def cookies(self) -> MultiDict:
        jar: SimpleCookie = SimpleCookie()
        jar.load(self.headers.get("Cookie", ""))
        return MultiDict((k, m.value) for k, m in jar.items())

    @property
    def user_agent(self) -> str:
        return str(self.headers.get("User-Agent", ""))

    @property
    def environ(self) -> dict[str, Any]:
        env: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "PATH_INFO": self.path,
            "QUERY_STRING": self.query_string.decode("latin-1"),
            "REMOTE_ADDR": self.remote_addr,
            "wsgi.url_scheme": self.scheme,
            "wsgi.input": self.stream,
        }
        for key, value in self.headers.items():
            name = key.upper().replace("-", "_")
            env[name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name] = value
        return env

    def __repr__(self) -> str:
        return f"<AMLRequest {self.url!r} [{self.method}]>"


class _Unset:
    pass


_UNSET: Any = _Unset()


def _parse_multipart(content_type: str, body: bytes) -> tuple[MultiDict, MultiDict]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    form: list[tuple[str, Any]] = []
    files: list[tuple[str, Any]] = []
    if not message.is_multipart():
        return MultiDict(), MultiDict()
    parts: list[Any] = list(message.get_payload())
    for part in parts:
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        data: bytes = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files.append(
                (str(name), FileStorage(data, str(name), filename, part.get_content_type()))
            )
        else:
            charset = part.get_content_charset() or "utf-8"
            form.append((str(name), data.decode(charset, "replace")))
    return MultiDict(form), MultiDict(files)


__all__ = ["AMLRequest", "FileStorage", "Headers", "MultiDict", "rawhttp"]

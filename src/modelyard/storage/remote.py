"""Opening an fsspec location, and translating what object storage raises.

``s3://`` needs ``modelyard[s3]`` (s3fs), ``abfs://`` and ``az://`` need
``modelyard[azure]`` (adlfs). Any other failure of the store (wrong credentials, an
unknown bucket, the network) becomes one ``ArtifactStoreUnavailable`` whose message
says what to check, with every credential scrubbed out of the library's words.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import fsspec

from modelyard.config.secret import redact, redact_url
from modelyard.config.storage import StorageOptions
from modelyard.errors import ArtifactStoreUnavailable, ModelyardError

EXTRAS = {"s3": "s3", "s3a": "s3", "abfs": "azure", "abfss": "azure", "az": "azure"}


def filesystem(location: str, options: StorageOptions) -> tuple[Any, str, bool]:
    """(filesystem, root path inside it, whether it is a local folder) of ``location``."""
    protocol = location.split("://", 1)[0] if "://" in location else "file"
    extra = dict(options.reveal())
    if protocol != "file":
        # Other processes write blobs too: never answer from a listing cached earlier; and
        # a store of its own for each workspace, with the credentials found now.
        extra.setdefault("use_listings_cache", False)
        extra.setdefault("skip_instance_cache", True)
    with translated(location, options):
        try:
            fs, root = fsspec.core.url_to_fs(location, **extra)
        except ImportError:
            hint = EXTRAS.get(protocol)
            install = f"pip install 'modelyard[{hint}]'" if hint else "install its fsspec driver"
            raise ArtifactStoreUnavailable(
                f"artifacts on {protocol}:// need a driver this Python lacks: {install}",
                location=redact_url(location),
            ) from None
        except (ValueError, TypeError) as exc:  # unknown protocol or option
            raise ArtifactStoreUnavailable(
                f"cannot open the artifact store {redact_url(location)}: "
                f"{redact(str(exc), *options.secrets())}",
                location=redact_url(location),
            ) from None
    proto = fs.protocol
    local = "file" in ((proto,) if isinstance(proto, str) else tuple(proto))
    return fs, root, local


@contextmanager
def translated(location: str, options: StorageOptions, *, reading: bool = False) -> Iterator[None]:
    """Turn what the store raises into ``ArtifactStoreUnavailable``, credentials scrubbed;
    modelyard's own errors pass, and so does ``FileNotFoundError`` when ``reading`` one
    blob (the caller says which blob is missing); else it means no such bucket."""
    try:
        yield
    except ModelyardError:
        raise
    except FileNotFoundError as exc:
        if reading:
            raise
        shown = redact_url(location)
        raise ArtifactStoreUnavailable(
            f"the artifact store {shown} does not exist: create its bucket or container "
            f"({redact(str(exc), *options.secrets())})",
            location=shown,
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise _failed(location, options, exc) from None
        shown = redact_url(location)
        raise ArtifactStoreUnavailable(
            f"the artifact store {shown} has no space left: free some on its disk, or point "
            "[registry] artifacts at a larger one",
            location=shown,
        ) from None
    except Exception as exc:  # botocore, azure-core, aiohttp: each library its own tree
        raise _failed(location, options, exc) from None


def _failed(location: str, options: StorageOptions, exc: Exception) -> ArtifactStoreUnavailable:
    """The error of a store that failed with ``exc``, credentials scrubbed."""
    detail = " ".join(str(exc).split())[:500] or type(exc).__name__
    shown = redact_url(location)
    return ArtifactStoreUnavailable(
        f"the artifact store {shown} failed: {redact(detail, *options.secrets())} "
        "(check its address, that the bucket or container exists, and the credentials "
        "in [registry.storage_options] or the environment)",
        location=shown,
    )

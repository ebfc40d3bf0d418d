"""Object storage (``s3://``, ``gs://``, ``az://``) through pyarrow's own filesystems: nothing more to install.

Credentials come only from the environment, read by pyarrow itself: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` (an
S3-compatible store such as MinIO), or an instance profile; Google's application default
credentials; ``AZURE_STORAGE_ACCOUNT_NAME`` with ``AZURE_STORAGE_ACCOUNT_KEY`` or Azure's default
credential chain. Messages name the URL and what the store answered, never a credential.

An object is read whole into a local copy before a run reads it (a snapshot: both passes over the
input see the same rows) and written from a whole local file in one upload (see
``reconciler.output.publish``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from reconciler.config import remote_url
from reconciler.errors import InputError

_CHUNK = 8 << 20


def open_store(url: str) -> tuple[Any, str]:
    """The filesystem that holds ``url`` and the object's path in it (``bucket/key``)."""
    scheme, _, rest = url.partition("://")
    try:
        if scheme == "az":  # pyarrow's URIs for Azure name the account in the host; az:// names the container
            return pafs.AzureFileSystem(account_name=os.environ.get("AZURE_STORAGE_ACCOUNT_NAME", ""),
                                        account_key=os.environ.get("AZURE_STORAGE_ACCOUNT_KEY") or None), rest
        store, path = pafs.FileSystem.from_uri(url)
        return store, str(path)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(url, f"cannot open the object store ({_first_line(exc)})") from None


def check_bucket(url: str, option: str, *, an_object: bool = True) -> None:
    """Fail before any request when the bucket is missing, or ``url`` is a folder of objects (``an_object``)."""
    store, path = open_store(url)
    bucket = path.split("/", 1)[0]
    if _info(store, bucket, url).type == pafs.FileType.NotFound:
        raise InputError(url, f"{option}: the bucket {bucket!r} does not exist (or these credentials cannot "
                              "see it); create it or name another")
    if an_object and "{" not in path and _info(store, path, url).type == pafs.FileType.Directory:
        raise InputError(url, f"{option}: the path is a folder of objects; name an object inside it")


def fetch(url: str, local: Path) -> bool:
    """Copy the object at ``url`` to ``local`` (its time kept as the copy's mtime); False when there is none."""
    store, path = open_store(url)
    info = _info(store, path, url)
    if info.type == pafs.FileType.NotFound:
        return False
    if info.type != pafs.FileType.File:
        raise InputError(url, "is a folder of objects, not an object; name a file inside it")
    partial = local.with_name(local.name + ".partial")
    try:
        with store.open_input_stream(path) as source, partial.open("wb") as sink:
            shutil.copyfileobj(source, sink, _CHUNK)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(url, f"cannot be read ({_first_line(exc)})") from None
    if info.mtime_ns is not None:  # the journal binds an input to its size and time: a resumed run matches
        os.utime(partial, ns=(info.mtime_ns, info.mtime_ns))
    partial.replace(local)
    return True


@contextlib.contextmanager
def local_copy(path: Path, folder: Path, option: str) -> Iterator[Path]:
    """``path`` itself when local; else a copy of the object in ``folder``, removed when done."""
    url = remote_url(path)
    if url is None:
        yield path
        return
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    local = folder / f".{path.name}.{digest}.object{''.join(path.suffixes[-2:])}"
    try:
        if not fetch(url, local):
            check_bucket(url, option)
            raise InputError(url, f"{option}: no such object")
        yield local
    finally:
        local.unlink(missing_ok=True)


def _info(store: Any, path: str, url: str) -> Any:
    try:
        return store.get_file_info(path)
    except OSError as exc:
        raise InputError(url, f"the object store answered: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

"""The built-in processor: index one uploaded file into a JSON document in the index bucket.

The object is streamed to a temporary file in 1 MiB chunks (memory stays flat for a multi-GB file,
and the processing deadline is checked between chunks). Text-like files and PDFs get their text
extracted (PDFs with pypdf); anything else gets a metadata-only document, so it is still findable
by name. A file that claims to be a PDF but cannot be parsed raises `PermanentError` (it goes to
the DLQ for a person to look at). The document is written to INDEX_BUCKET under INDEX_PREFIX,
never to the bucket the event came from, so the worker's output can never trigger the pipeline.

Errors are classified where they happen: the upload's bucket missing or denied, or its key too long,
is a `PermanentError` (the file can never be read); the *index* bucket missing or denied is a
`WorkerFatalError` (every file would fail: the worker stops instead of dead-lettering the queue);
throttling, 5xx and timeouts stay transient. Document keys fit S3's 1,024-byte key limit for any
upload key: a key that would not fit is cut and suffixed with a hash of the full bucket and key, so
it stays unique (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import mimetypes
import os
import tempfile
import threading
import time
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from worker.errors import (
    MISSING_OBJECT_CODES,
    PERMANENT_S3_CODES,
    ObjectGone,
    PermanentError,
    ProcessingTimedOut,
    WorkerFatalError,
    error_code,
)
from worker.events import S3ObjectEvent

CHUNK_BYTES = 1024 * 1024
MAX_TEXT_CHARS = 1_000_000
"""Text kept per document; the rest is marked truncated (search needs the words, not the whole file)."""
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml", "application/csv")
TEXT_ENCODINGS = ("utf-8-sig", "cp932", "euc_jp")
"""UTF-8 first; Japanese Windows and Unix encodings before giving up to replacement characters."""
MISSING = MISSING_OBJECT_CODES
S3_MAX_KEY_BYTES = 1024
DOCUMENT_SUFFIX = ".json"
HASH_CHARS = 32
INDEX_BUCKET_FATAL_CODES = frozenset(
    {"NoSuchBucket", "AccessDenied", "403", "AllAccessDisabled", "Forbidden"}
)


class Indexer:
    def __init__(self, s3: Any, index_bucket: str, index_prefix: str = "") -> None:
        self._s3 = s3
        self.index_bucket = index_bucket
        self.index_prefix = index_prefix

    def document_key(self, event: S3ObjectEvent) -> str:
        return self.document_key_for(event.bucket, event.key)

    def document_key_for(self, bucket: str, key: str) -> str:
        """`{prefix}{bucket}/{key}.json`, or, when that exceeds S3's 1,024 bytes, the key cut on a
        character boundary plus `~{sha256(bucket/key)[:32]}.json` (unique for every bucket and key)."""
        document_key = f"{self.index_prefix}{bucket}/{key}{DOCUMENT_SUFFIX}"
        if len(document_key.encode("utf-8", "surrogatepass")) <= S3_MAX_KEY_BYTES:
            return document_key
        digest = hashlib.sha256(f"{bucket}/{key}".encode("utf-8", "surrogatepass")).hexdigest()
        suffix = f"~{digest[:HASH_CHARS]}{DOCUMENT_SUFFIX}"
        head = f"{self.index_prefix}{bucket}/".encode("utf-8", "surrogatepass")
        budget = S3_MAX_KEY_BYTES - len(head) - len(suffix.encode())
        cut = key.encode("utf-8", "surrogatepass")[: max(0, budget)].decode("utf-8", "ignore")
        return f"{self.index_prefix}{bucket}/{cut}{suffix}"

    def index(self, event: S3ObjectEvent) -> dict[str, Any] | None:
        """Index the object of `event`; returns the document, or None when it was indexed already."""
        if event.bucket == self.index_bucket:
            raise PermanentError(
                f"refusing to index {event.bucket}/{event.key}: INDEX_BUCKET is the bucket being watched, so "
                "every document written would trigger another event; point INDEX_BUCKET elsewhere"
            )
        if self._already_indexed(event):
            return None
        try:
            response = self._s3.get_object(Bucket=event.bucket, Key=event.key)
        except ClientError as error:
            code = error_code(error)
            if code in MISSING:
                raise ObjectGone(f"s3://{event.bucket}/{event.key} no longer exists") from error
            if code in PERMANENT_S3_CODES:
                raise PermanentError(
                    f"s3://{event.bucket}/{event.key} cannot be read: {code}: {error}"
                ) from error
            raise
        content_type = (
            response.get("ContentType") or mimetypes.guess_type(event.key)[0] or "application/octet-stream"
        )
        with tempfile.TemporaryFile(prefix="cis-index-") as local:
            size = _stream_to(response["Body"], local, event)
            local.seek(0)
            extraction, text, pages = _extract(local, content_type, event.key)
        document = {
            "bucket": event.bucket,
            "key": event.key,
            "size": size,
            "etag": response.get("ETag", event.etag).strip('"'),
            "content_type": content_type,
            "extraction": extraction,
            "pages": pages,
            "text": (text or "")[:MAX_TEXT_CHARS],
            "text_truncated": bool(text) and len(text) > MAX_TEXT_CHARS,
            "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        try:
            self._s3.put_object(
                Bucket=self.index_bucket,
                Key=self.document_key(event),
                Body=json.dumps(document, ensure_ascii=False).encode("utf-8"),
                ContentType="application/json; charset=utf-8",
                Metadata={
                    "source-etag": _ascii(event.etag),
                    "source-sequencer": _ascii(event.sequencer or ""),
                },
            )
        except ClientError as error:
            self._raise_if_index_bucket_unusable(error)
            raise
        return document

    def _raise_if_index_bucket_unusable(self, error: ClientError) -> None:
        code = error_code(error)
        if code in INDEX_BUCKET_FATAL_CODES:
            raise WorkerFatalError(
                f"INDEX_BUCKET={self.index_bucket} cannot be used ({code}): every file would fail; "
                "the worker stops and hands its messages back"
            ) from error

    def _already_indexed(self, event: S3ObjectEvent) -> bool:
        """The index document records this very event (same ETag and sequencer): a duplicate delivery."""
        try:
            head = self._s3.head_object(Bucket=self.index_bucket, Key=self.document_key(event))
        except ClientError as error:
            if error_code(error) in MISSING:  # a HEAD says 404 for a missing bucket too: PutObject tells
                return False
            self._raise_if_index_bucket_unusable(error)
            raise
        metadata = head.get("Metadata", {})
        return metadata.get("source-etag") == event.etag and metadata.get("source-sequencer") == (
            event.sequencer or ""
        )


def _ascii(value: str) -> str:
    """S3 user metadata travels in HTTP headers: keep it ASCII."""
    return value.encode("ascii", "backslashreplace").decode("ascii")


def _stream_to(body: Any, local: IO[bytes], event: S3ObjectEvent) -> int:
    size = 0
    for chunk in body.iter_chunks(CHUNK_BYTES):
        if event.remaining_seconds() <= 0:
            raise ProcessingTimedOut(
                f"download of {event.key} passed the processing deadline at {size} bytes"
            )
        local.write(chunk)
        size += len(chunk)
    return size


def _extract(local: IO[bytes], content_type: str, key: str) -> tuple[str, str | None, int | None]:
    """(extraction kind, text, pages) for the file in `local`."""
    if content_type == "application/pdf" or key.lower().endswith(".pdf"):
        return ("pdf", *_pdf_text(local, key))
    if content_type.startswith(TEXT_TYPES):
        return "text", _decode(local.read(MAX_TEXT_CHARS * 4)), None
    return "metadata-only", None, None


def _pdf_text(local: IO[bytes], key: str) -> tuple[str, int]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PdfStreamError

    try:
        reader = PdfReader(local)
        texts, total = [], 0
        for page in reader.pages:
            text = page.extract_text() or ""
            texts.append(text)
            total += len(text)
            if total > MAX_TEXT_CHARS:
                break
        return "\n".join(texts), len(reader.pages)
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError) as error:
        raise PermanentError(f"{key} is not a readable PDF ({type(error).__name__}: {error})") from error


def _decode(data: bytes) -> str:
    """Decode a prefix of a file; a character cut at the end of the prefix is not an error."""
    for encoding in TEXT_ENCODINGS:
        try:
            return codecs.getincrementaldecoder(encoding)().decode(data, final=False)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


_default: Indexer | None = None
_default_lock = threading.Lock()


def default_indexer() -> Indexer:
    """One Indexer per process, configured like the worker (INDEX_BUCKET, INDEX_PREFIX, boto3's env)."""
    global _default
    with _default_lock:
        if _default is None:
            s3 = boto3.session.Session().client(
                "s3", config=Config(retries={"mode": "standard", "max_attempts": 5})
            )
            _default = Indexer(s3, os.environ["INDEX_BUCKET"], os.environ.get("INDEX_PREFIX", ""))
        return _default


def index_file(event: S3ObjectEvent) -> None:
    """The default FILE_PROCESSOR (docs/worker.md)."""
    default_indexer().index(event)

"""The drill's upload mix: what production sees, and what broke it.

Text and PDF files with Japanese names containing spaces, a corrupt PDF (a permanent failure), an
object deleted before any worker sees it, a slow file (12 minutes at production scale: longer than
the incident's 300 s visibility, shorter than the fixed 900 s), and a burst of small files.
"""

from __future__ import annotations

from dataclasses import dataclass

INDEXED, DEAD_LETTERED, GONE = "indexed", "dead-lettered", "gone"
SLOW_MARKER = "slow "
SLOW_FRACTION_OF_PROCESSING = 0.8
"""The slow file takes this share of the processing timeout (12 of 15 minutes in production)."""


@dataclass(frozen=True)
class DrillFile:
    key: str
    body: bytes
    content_type: str
    expected: str


def text_pdf(text: str) -> bytes:
    """A small, valid one-page PDF whose text pypdf can extract (Helvetica, ASCII text)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def upload_mix(upload_prefix: str, burst: int) -> list[DrillFile]:
    p = upload_prefix
    files = [
        DrillFile(
            f"{p}報告書 2024年 第3四半期.txt",
            "第3四半期の売上報告。検索できること。".encode(),
            "text/plain",
            INDEXED,
        ),
        DrillFile(
            f"{p}議事録 2024-11-29 定例会.md",
            "# 議事録\n- 可視性タイムアウトを900秒に".encode(),
            "text/markdown",
            INDEXED,
        ),
        DrillFile(
            f"{p}Quarterly Report Q3.pdf", text_pdf("Quarterly report Q3 revenue"), "application/pdf", INDEXED
        ),
        DrillFile(f"{p}設計書 最終版.pdf", text_pdf("Design document final"), "application/pdf", INDEXED),
        DrillFile(f"{p}写真 現場.jpg", b"\xff\xd8\xff\xe0 not really a photo", "image/jpeg", INDEXED),
        DrillFile(
            f"{p}壊れた ファイル.pdf", b"%PDF-1.7\n this is not a PDF body", "application/pdf", DEAD_LETTERED
        ),
        DrillFile(f"{p}消える ファイル.txt", b"deleted before processing", "text/plain", GONE),
        DrillFile(
            f"{p}{SLOW_MARKER}大きな 図面 (12 分).txt", "大きなファイルの本文".encode(), "text/plain", INDEXED
        ),
    ]
    files += [
        DrillFile(f"{p}burst/小さな ファイル {n:04d}.txt", f"burst file {n}".encode(), "text/plain", INDEXED)
        for n in range(burst)
    ]
    return files

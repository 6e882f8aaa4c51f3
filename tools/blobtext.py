"""What the secrets scan reads of one file version: its lines, or the text runs
of a binary, plus whatever its archives and compressed streams hold.

A file is read as bytes, never through git's or gitleaks' idea of its type: a
file with a NUL byte anywhere is binary, and a binary is read as its runs of
printable ASCII (and of UTF-16LE, as Windows tools write text), each run a row
of its own, so that the byte after a key (a NUL, a length prefix) never hides it
from a rule that wants a delimiter. gzip, bzip2, xz, zip and tar content is
opened by its magic bytes, not its name, up to ``MAX_DEPTH`` archives deep.
"""

from __future__ import annotations

import bz2
import io
import lzma
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

# `strings` prints runs of 4 by default; 8 drops most of the noise of random
# bytes (a run of 8 printable bytes occurs about once per 45 KiB of random data)
# while a key with its name (`aws_secret_access_key=...`) is one run far longer.
MIN_RUN = 8
ASCII_RUN = re.compile(rb"[\x20-\x7e\t]{%d,}" % MIN_RUN)
NOT_NEWLINE = re.compile(rb"[^\n]")
UTF16_RUN = re.compile(rb"(?:[\x20-\x7e\t]\x00){%d,}" % MIN_RUN)
# A zip inside a tar.gz is depth 3; deeper nesting is an evasion, not a project.
MAX_DEPTH = 4
# What one file version may expand to, all its archive members together. A
# decompression bomb past it fails the gate: content beyond it would go unread.
MAX_EXPANDED = 64 * 2**20
SINGLE_STREAM_SUFFIXES = {".gz": "", ".tgz": ".tar", ".bz2": "", ".tbz2": ".tar", ".xz": ""}
SINGLE_STREAM_SUFFIXES |= {".txz": ".tar", ".z": ""}


def _gunzip() -> zlib._Decompress:
    return zlib.decompressobj(16 + zlib.MAX_WBITS)


# Magic bytes of the single-stream compressors, and a fresh decompressor for each.
DECOMPRESSORS = (
    (b"\x1f\x8b", _gunzip),
    (b"BZh", bz2.BZ2Decompressor),
    (b"\xfd7zXZ\x00", lzma.LZMADecompressor),
)
Rows = list[tuple[int, bytes]]  # (1-based line, text without the newline)


class Unscannable(Exception):
    """A file whose content cannot be read whole: the scan would miss part of it."""


@dataclass(frozen=True)
class Text:
    suffix: str  # "" for the file itself, "!member" (nested: "!a!b") for what an archive holds
    binary: bool
    rows: Rows


@dataclass
class Unpacked:
    texts: list[Text] = field(default_factory=list)
    # Archive members that could not be read (encrypted, an unknown compression
    # method, corrupt): counted in the coverage; their raw bytes' runs are still read.
    unreadable: int = 0

    @property
    def members(self) -> int:
        return len(self.texts) - 1


def lines(data: bytes) -> tuple[bool, Rows]:
    """(binary, rows): a text file's non-empty lines, or a binary's text runs,
    each with the number of the line (count of newline bytes + 1) it sits on."""
    if b"\0" not in data:
        return False, [(number, line) for number, line in enumerate(data.split(b"\n"), 1) if line]
    rows: Rows = []
    for number, line in enumerate(data.split(b"\n"), 1):
        rows += [(number, run) for run in ASCII_RUN.findall(line)]
        rows += [(number, run[::2]) for run in UTF16_RUN.findall(line)]
    return True, rows


class _Budget:
    def __init__(self, what: str) -> None:
        self.what, self.left = what, MAX_EXPANDED

    def take(self, data: bytes) -> bytes:
        self.left -= len(data)
        if self.left < 0:
            raise Unscannable(
                f"{self.what} expands past {MAX_EXPANDED // 2**20} MiB: it cannot be read whole"
            )
        return data


def unpack(data: bytes, name: str) -> Unpacked:
    """Every text ``data`` holds: itself, then what its archives hold, depth first.
    A container's own text leaves out the bytes its members were read from, so
    that a stored member's key is reported once, in the member."""
    unpacked = Unpacked()
    _walk(data, "", name, depth=0, budget=_Budget(name), out=unpacked)
    return unpacked


Member = tuple[str, bytes, tuple[int, int]]  # (name, content, span of the container it fills)


def _walk(
    data: bytes, suffix: str, name: str, *, depth: int, budget: _Budget, out: Unpacked
) -> None:
    inner = list(_members(data, name, budget, out))
    if inner and depth + 1 >= MAX_DEPTH:
        raise Unscannable(f"{name} nests archives more than {MAX_DEPTH} deep")
    _, rows = lines(_masked(data, [span for _, _, span in inner]))
    out.texts.append(Text(suffix, b"\0" in data, rows))
    for inner_name, inner_data, _ in inner:
        _walk(
            inner_data,
            f"{suffix}!{inner_name}",
            inner_name,
            depth=depth + 1,
            budget=budget,
            out=out,
        )


def _masked(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    """``data`` with the bytes of ``spans`` turned to NUL, newlines kept so that
    line numbers stay those of the file."""
    if not spans:
        return data
    masked = bytearray(data)
    for start, end in spans:
        masked[start:end] = NOT_NEWLINE.sub(b"\0", bytes(masked[start:end]))
    return bytes(masked)


def _members(data: bytes, name: str, budget: _Budget, out: Unpacked) -> Iterator[Member]:
    """Each member of ``data`` when its magic bytes say it is an archive or a
    compressed stream; nothing otherwise."""
    stream = _decompress(data, budget)
    if stream is not None:
        content, consumed = stream
        base = name.rsplit("/", 1)[-1]
        for suffix, replacement in SINGLE_STREAM_SUFFIXES.items():
            if base.lower().endswith(suffix):
                base = base[: -len(suffix)] + replacement
                break
        yield base or "content", content, (0, consumed)
        return
    if data[257:262] == b"ustar":
        yield from _tar_members(data, budget, out)
    elif data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        yield from _zip_members(data, budget, out)


def _decompress(data: bytes, budget: _Budget) -> tuple[bytes, int] | None:
    """(content, bytes of ``data`` it came from) of a gzip, bzip2 or xz stream,
    concatenated members included; None when ``data`` is none of them."""
    new = next((make for magic, make in DECOMPRESSORS if data.startswith(magic)), None)
    if new is None:
        return None
    chunks, rest = [], data
    try:
        while rest:
            decompressor = new()
            chunks.append(budget.take(decompressor.decompress(rest, budget.left + 1)))
            if not decompressor.eof:
                # The budget ran out (take raised already) or the stream is
                # truncated: what came out is all there is to read.
                rest = b""
                break
            rest = decompressor.unused_data
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
        pass  # not a stream from here on: scan what decompressed, and the rest's runs
    return b"".join(chunks), len(data) - len(rest)


def _zip_members(data: bytes, budget: _Budget, out: Unpacked) -> Iterator[Member]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:  # encrypted: only its (encrypted) raw bytes can be read
                out.unreadable += 1
                continue
            try:
                with archive.open(info) as member:
                    content = budget.take(member.read(budget.left + 1))
            except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, zlib.error):
                out.unreadable += 1
                continue
            yield info.filename, content, _zip_span(data, info)


def _zip_span(data: bytes, info: zipfile.ZipInfo) -> tuple[int, int]:
    """Where a member's (compressed) bytes sit: after its 30-byte local header,
    its name and its extra field."""
    start = info.header_offset
    if data[start : start + 4] != b"PK\x03\x04":
        return (0, 0)
    name_length, extra_length = struct.unpack("<HH", data[start + 26 : start + 30])
    start += 30 + name_length + extra_length
    return (start, start + info.compress_size)


def _tar_members(data: bytes, budget: _Budget, out: Unpacked) -> Iterator[Member]:
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError):
        return
    with archive:
        try:
            members = [member for member in archive if member.isfile()]
        except (tarfile.TarError, OSError, EOFError):
            out.unreadable += 1
            return
        for member in members:
            handle = archive.extractfile(member)
            if handle is None:
                out.unreadable += 1
                continue
            content = budget.take(handle.read(budget.left + 1))
            yield member.name, content, (member.offset_data, member.offset_data + member.size)

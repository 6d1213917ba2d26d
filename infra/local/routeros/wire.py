"""The RouterOS API wire protocol: length-prefixed words, sentences ended by an empty word."""

from __future__ import annotations

import asyncio

MAX_WORD = 16 << 20  # RouterOS words are short; far longer ones are refused with !fatal

Sentence = list[str]


class ProtocolViolation(Exception):
    """The peer sent bytes that are not API words; the session ends with ``!fatal``."""


def encode_length(length: int) -> bytes:
    """The API's length prefix: 1 byte below 0x80, then 2, 3, 4 bytes, else 0xF0 + 4 bytes."""
    if length < 0x80:
        return bytes([length])
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    return b"\xf0" + length.to_bytes(4, "big")


def encode_word(word: str) -> bytes:
    data = word.encode()
    return encode_length(len(data)) + data


def encode_sentence(words: Sentence) -> bytes:
    return b"".join(encode_word(w) for w in words) + b"\x00"


async def read_length(reader: asyncio.StreamReader) -> int:
    first = (await reader.readexactly(1))[0]
    if first < 0x80:
        return first
    if first < 0xC0:
        extra, mask = 1, 0x3F
    elif first < 0xE0:
        extra, mask = 2, 0x1F
    elif first < 0xF0:
        extra, mask = 3, 0x0F
    elif first == 0xF0:
        return int.from_bytes(await reader.readexactly(4), "big")
    else:
        raise ProtocolViolation(f"reserved control byte {first:#x}")
    return int.from_bytes(bytes([first & mask]) + await reader.readexactly(extra), "big")


async def read_sentence(reader: asyncio.StreamReader) -> Sentence:
    words: Sentence = []
    while True:
        length = await read_length(reader)
        if length == 0:
            return words
        if length > MAX_WORD:
            raise ProtocolViolation(f"word of {length} bytes")
        words.append((await reader.readexactly(length)).decode(errors="replace"))

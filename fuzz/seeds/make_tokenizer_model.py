#!/usr/bin/env python3
"""Writes the small SentencePiece tokenizer.model seeds of the fuzz targets (no
library needed: the protobuf wire format by hand, the fields ctscope writes in
src/ctfile/tokenizer_model_file.cpp).

  fuzz/seeds/make_tokenizer_model.py fuzz/seeds/tokenizer-tiny.model
"""
import struct
import sys


def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def int_field(field, v):
    return key(field, 0) + varint(v)


def bytes_field(field, b):
    b = b.encode() if isinstance(b, str) else b
    return key(field, 2) + varint(len(b)) + b


def model():
    # (piece, score, type): 1 normal, 2 unknown, 3 control, 6 byte. Byte fallback
    # needs all 256 byte pieces (libsentencepiece checks them).
    pieces = [("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3)] + [(f"<0x{b:02X}>", 0, 6) for b in range(256)]
    pieces += [(p, -float(i), 1) for i, p in enumerate(["\u2581H", "el", "lo", "\u2581w", "\u2581", "H", "e", "l",
                                                        "o", "w", "r", "d", "1", "2"])]
    out = b""
    for p, score, t in pieces:
        out += bytes_field(1, bytes_field(1, p) + key(2, 5) + struct.pack("<f", score) + int_field(3, t))
    trainer = (int_field(3, 2) + int_field(4, len(pieces)) + int_field(35, 1) + int_field(40, 0) + int_field(41, 1) +
               int_field(42, 2) + int_field(43, -1))
    out += bytes_field(2, trainer)
    out += bytes_field(3, bytes_field(1, "identity") + int_field(3, 1) + int_field(4, 0) + int_field(5, 1))
    return out


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as f:
        f.write(model())

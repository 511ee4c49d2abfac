#!/usr/bin/env python3
"""Derive the malformed BPF objects of tests/malformed/ from a built object
(tests/bpf/subprogs.bpf.o): each is the object with one thing broken, so the
importer's error for it can be checked. Rerun after rebuilding the objects:

    scripts/make-malformed-objects.py
"""
import struct
from pathlib import Path

root = Path(__file__).resolve().parent.parent
src = (root / "tests/bpf/subprogs.bpf.o").read_bytes()
out = root / "tests/malformed"


def sections(b):
    shoff, = struct.unpack_from("<Q", b, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", b, 0x3A)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", b, shoff + i * shentsize) for i in range(shnum)]
    stroff = hdrs[shstrndx][4]
    res = {}
    for i, h in enumerate(hdrs):
        name = b[stroff + h[0]:b.index(b"\0", stroff + h[0])].decode()
        res[name] = dict(index=i, hdr_at=shoff + i * shentsize, offset=h[4], size=h[5], link=h[6], entsize=h[9])
    return res


def symbols(b, secs):
    st = secs[".symtab"]
    strtab = secs[".strtab"]
    res = {}
    for k in range(st["size"] // 24):
        at = st["offset"] + k * 24
        name_off, info, other, shndx, value, size = struct.unpack_from("<IBBHQQ", b, at)
        name = b[strtab["offset"] + name_off:b.index(b"\0", strtab["offset"] + name_off)].decode()
        res[name] = dict(at=at, shndx=shndx, value=value, size=size)
    return res


def write(name, data, code, stream, fragment, cmd="import-obj"):
    (out / name).write_bytes(data)
    (out / (name + ".expect")).write_text(f"exit {code}\n{stream} {fragment}\ncmd {cmd}\n")


secs = sections(src)
syms = symbols(src, secs)

write("not-elf.bpf.o", b"int main(void) { return 0; }\n", 2, "stderr", "not an ELF file")
write("truncated.bpf.o", src[:600], 2, "stderr", "malformed BPF object: ELF")

b = bytearray(src)
struct.pack_into("<H", b, 18, 62)  # e_machine = EM_X86_64
write("x86-64-machine.bpf.o", bytes(b), 2, "stderr", "is not EM_BPF")

b = bytearray(src)
b[5] = 2  # EI_DATA = ELFDATA2MSB
write("big-endian.bpf.o", bytes(b), 2, "stderr", "big-endian", cmd="show")

# .BTF.ext func_info record size 0.
b = bytearray(src)
ext = secs[".BTF.ext"]["offset"]
hdr_len, = struct.unpack_from("<I", b, ext + 4)
fi_off, = struct.unpack_from("<I", b, ext + 8)
struct.pack_into("<I", b, ext + hdr_len + fi_off, 0)
write("btf-ext-record-size-0.bpf.o", bytes(b), 2, "stderr", "record size 0")

# A function symbol running past the end of .text.
b = bytearray(src)
s = syms["bucket"]
struct.pack_into("<Q", b, s["at"] + 16, s["size"] + 64)
write("function-past-section.bpf.o", bytes(b), 2, "stderr", "do not fit the section")

# A call inside .text (no relocation) moved into the middle of a function:
# record's first insn is `call bucket`; make it land one insn later.
b = bytearray(src)
text = secs[".text"]["offset"]
rec = syms["record"]["value"]
at = text + rec
code, regs, off, imm = struct.unpack_from("<BBhi", b, at)
assert code == 0x85 and regs >> 4 == 1, "record no longer starts with a pseudo call"
struct.pack_into("<i", b, at + 4, imm + 1)
write("call-into-middle-of-function.bpf.o", bytes(b), 2, "stdout", "no .text function starts at insn")

# Two line-info records of the program section swapped: not increasing.
b = bytearray(src)
li_off, = struct.unpack_from("<I", b, ext + 16)
base = ext + hdr_len + li_off
rec_size, = struct.unpack_from("<I", b, base)
at = base + 4
while True:
    name_off, num = struct.unpack_from("<II", b, at)
    if num >= 3:
        first = at + 8
        r1 = bytes(b[first + rec_size:first + 2 * rec_size])
        r2 = bytes(b[first + 2 * rec_size:first + 3 * rec_size])
        b[first + rec_size:first + 2 * rec_size] = r2
        b[first + 2 * rec_size:first + 3 * rec_size] = r1
        break
    at += 8 + num * rec_size
write("line-info-not-increasing.bpf.o", bytes(b), 2, "stdout", "LineInfoOrder")
print("written to", out)

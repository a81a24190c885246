#!/usr/bin/python3
"""Makes classifier_cuda.pt: classifier.pt as torch.jit.save writes a model that lives on a GPU (each
tensor's storage location recorded as 'cuda:0'), without a GPU: the archive is copied record by
record and the location strings in its pickles are rewritten. LibTorch's torch::jit::load without a
device fails on it on a machine without CUDA; camkit-torch loads it onto the CPU. Needs only the
standard library:

    python3 tests/data/torch_tool/make_cuda_copy.py
"""
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
# pickle's SHORT_BINUNICODE opcode ('X', a 4-byte little-endian length, the UTF-8 bytes)
CPU, CUDA = b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"

with zipfile.ZipFile(os.path.join(HERE, "classifier.pt")) as src, \
        zipfile.ZipFile(os.path.join(HERE, "classifier_cuda.pt"), "w", zipfile.ZIP_STORED) as dst:
    rewritten = 0
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename.endswith(".pkl"):
            rewritten += data.count(CPU)
            data = data.replace(CPU, CUDA)
        dst.writestr(info, data)
assert rewritten > 0, "no storage location found"
print(f"classifier_cuda.pt: {rewritten} storage locations now cuda:0")

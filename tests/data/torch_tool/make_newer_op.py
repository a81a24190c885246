#!/usr/bin/python3
"""Makes segmenter_newer_op.pt: segmenter.pt whose forward ends with an operator that PyTorch 2.x
has and 1.13 lacks (aten::_upsample_lanczos2d_aa, resampling the [N, 2, H, W] output to 6 x 6), as a
model scripted by a newer PyTorch than the tool's LibTorch uses one. The archive is copied record by
record and the forward's TorchScript code rewritten. LibTorch 1.13 refuses the file ("Unknown
builtin op"); camkit-torch built against it must say that the file needs a newer LibTorch, not that
it is damaged. LibTorch 2.x loads and runs it. Needs only the standard library:

    python3 tests/data/torch_tool/make_newer_op.py
"""
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
CODE = "segmenter/code/__torch__.py"
OLD = b"    return (dec).forward((enc).forward(x, ), )\n"
NEW = (b"    _0 = (dec).forward((enc).forward(x, ), )\n"
       b"    return torch._upsample_lanczos2d_aa(_0, [6, 6], False, None, None)\n")

with zipfile.ZipFile(os.path.join(HERE, "segmenter.pt")) as src, \
        zipfile.ZipFile(os.path.join(HERE, "segmenter_newer_op.pt"), "w", zipfile.ZIP_STORED) as dst:
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename == CODE:
            assert data.count(OLD) == 1, "segmenter's forward is not the expected one"
            data = data.replace(OLD, NEW)
        dst.writestr(info, data)
print("segmenter_newer_op.pt: forward ends with aten::_upsample_lanczos2d_aa")

#!/usr/bin/env python3
"""The kernels' per-ISA entry points must hold the kernels themselves.

camkit compiles each kernel once per instruction set: dispatch() calls run_sse2 / run_avx2 /
run_avx512 (include/camkit/simd.hpp), functions compiled for that target with `flatten`, into which
the kernel and everything it calls are inlined. A function that stays out of line is compiled for
the build's default target (SSE2 on x86-64): its packs of 32 or 64 bytes become four SSE2 operations
each, spilled to the stack. GCC's flatten inlines the whole call tree; Clang's inlines one level of
calls only (Clang 14, the version tested), so every function and lambda below an entry point
carries CAMKIT_KERNEL_INLINE or CAMKIT_LAMBDA_INLINE (or their _CLANG forms, always inline under
Clang only). Without them Clang's build ran XGrad-CAM and Grad-CAM++ on SSE2 packs at every shape,
1.24-1.70x slower than with them (one thread, AMD EPYC VM, 2026-12-07).

Usage: entry_point_calls.py OBJECT...   (objects or libraries compiled with the kernels)
       entry_point_calls.py --self-test

Disassembles the objects (objdump -dr) and follows the calls from every per-ISA entry point,
transitively; fails naming each camkit function reached that is not one of the helpers allowed out
of line (error reporting, the gathers that copy strided planes into buffers, ISA selection, the
scalar eigen-solver, nested dispatch). Exits 1 on such a call, 2 when no entry point is found (the
objects do not hold the kernels, or their names changed).
"""
import collections
import re
import subprocess
import sys

ENTRY = re.compile(r"^(decltype\(auto\) )?camkit::detail::run_(sse2|avx2|avx512)<|^_ZN6camkit6detail(8run_sse2|8run_avx2|10run_avx512)I")
# Out of line by design: they run no packs, or dispatch again to an entry point of their own (the
# entry points themselves are never counted as reached).
ALLOWED = re.compile(
    r"camkit::detail::(throw_\w+|locate_non_finite\w*|plane_reader<|gather_buffers<|for_each_strided<|"
    r"gather_strided<|isa_from_setting|isa_override|require<|tridiagonal\w*|dispatch<|dispatch_plane<|"
    r"run_build<)|camkit::(host_view<|parse_isa|active_isa|error\b)|"
    r"_ZN6camkit6detail(9run_build|8dispatch|14dispatch_plane)I|^std::")
FUNCTION = re.compile(r"^[0-9a-f]+ <(.*)>:$")
CALL = re.compile(r"\s(call|jmp)\s")
RELOCATION = re.compile(r"R_X86_64_(PLT32|PC32)\s+(.*?)(-0x4)?$")


def calls_of(listing):
    """{function: the functions it calls or jumps to}, from `objdump -dr -C` output."""
    calls = collections.defaultdict(set)
    functions = []
    current, after_call = None, False
    for line in listing.splitlines():
        m = FUNCTION.match(line)
        if m:
            current, after_call = m.group(1), False
            functions.append(current)
            continue
        r = RELOCATION.search(line)
        if r and after_call and current:
            calls[current].add(r.group(2))
        after_call = CALL.search(line) is not None
    return functions, calls


def out_of_line(listing):
    """(entry points, {camkit function reached out of line and not allowed: the entry reaching it})."""
    functions, calls = calls_of(listing)
    entries = [f for f in functions if ENTRY.search(f)]
    reached, stack = {}, [(e, e) for e in entries]
    while stack:
        f, entry = stack.pop()
        for c in calls.get(f, ()):
            if "camkit" in c and c not in reached and not ENTRY.search(c):
                reached[c] = entry
                stack.append((c, entry))
    bad = {c: e for c, e in reached.items() if not ALLOWED.search(c)}
    return entries, bad


SELF_TEST = """
0000000000000000 <decltype(auto) camkit::detail::run_avx512<lambda>(lambda&)>:
   0:	push   %rbp
   1:	call   6 <decltype(auto) camkit::detail::run_avx512<lambda>(lambda&)+0x6>
			2: R_X86_64_PLT32	void camkit::detail::channel_weights_chunk<16ul, camkit::xgrad_cam, float, float>(int)-0x4
   6:	call   b <decltype(auto) camkit::detail::run_avx512<lambda>(lambda&)+0xb>
			7: R_X86_64_PLT32	camkit::detail::throw_non_finite(char const*, unsigned long, unsigned long)-0x4
   b:	lea    0x0(%rip),%rax
			e: R_X86_64_PC32	camkit::detail::isa_override()::value-0x4
0000000000000100 <void camkit::detail::channel_weights_chunk<16ul, camkit::xgrad_cam, float, float>(int)>:
 100:	jmp    105 <void camkit::detail::channel_weights_chunk<16ul, camkit::xgrad_cam, float, float>(int)+0x5>
			101: R_X86_64_PLT32	auto camkit::detail::sweep_group<16ul, camkit::xgrad_cam, true, 4ul, float>(int)-0x4
0000000000000200 <auto camkit::detail::sweep_group<16ul, camkit::xgrad_cam, true, 4ul, float>(int)>:
 200:	ret
0000000000000300 <decltype(auto) camkit::detail::run_avx2<lambda>(lambda&)>:
 300:	call   305 <decltype(auto) camkit::detail::run_avx2<lambda>(lambda&)+0x5>
			301: R_X86_64_PLT32	camkit::detail::plane_reader<float, float>::gather(unsigned long, unsigned long)-0x4
"""


def self_test():
    entries, bad = out_of_line(SELF_TEST)
    assert len(entries) == 2, entries
    names = sorted(re.sub(r"\(.*", "", b) for b in bad)
    # The chunk and the sweep it tail-calls are kernels; the throw, the gather and a data reference are not.
    assert names == ["auto camkit::detail::sweep_group<16ul, camkit::xgrad_cam, true, 4ul, float>",
                     "void camkit::detail::channel_weights_chunk<16ul, camkit::xgrad_cam, float, float>"], names
    entries, bad = out_of_line(SELF_TEST.split("0000000000000100")[0].replace("channel_weights_chunk", "throw_x"))
    assert not bad, bad
    print("entry_point_calls self-test: passed")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if not argv:
        print(__doc__)
        return 2
    listing = subprocess.run(["objdump", "-dr", "--no-show-raw-insn", "-C", *argv], check=True,
                             capture_output=True, text=True).stdout
    entries, bad = out_of_line(listing)
    if not entries:
        print(f"entry_point_calls: no per-ISA entry point (run_sse2/avx2/avx512) in {' '.join(argv)}")
        return 2
    if bad:
        print(f"entry_point_calls: {len(bad)} camkit functions stay out of line below the per-ISA entry points, "
              "compiled for the default target (mark them CAMKIT_KERNEL_INLINE_CLANG, their lambdas "
              "CAMKIT_LAMBDA_INLINE_CLANG: include/camkit/simd.hpp):")
        for c, e in sorted(bad.items()):
            print(f"  {c[:300]}\n      reached from {e[:200]}")
        return 1
    print(f"entry_point_calls: {len(entries)} per-ISA entry points, no kernel out of line")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

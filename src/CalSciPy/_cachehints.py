"""Cache hints for numba kernels: prefetches, streaming stores and the fence they need.

Prefetch (``llvm.prefetch``)
    A kernel that walks an array with a long stride (one row in each of many frames, say)
    gets little help from the hardware prefetcher, which follows sequential streams within
    a page; the load of each new row then waits for memory while the arithmetic sits idle.
    Asking for the row a step ahead lets the transfer overlap the work on the current one.
    A prefetch is only a hint: it never faults and changes no value. On targets without a
    prefetch instruction LLVM drops it.

Streaming stores (a vector store marked ``!nontemporal``)
    A plain store to a line that is not in cache first reads the line from memory
    (read-for-ownership). An output that is written once and not read again soon (hundreds
    of MB) does not need that read: a streaming store writes the line without reading it
    and without evicting useful data. They are weakly ordered, so a kernel that uses them
    calls :func:`store_fence` before its results are read by another thread.
    :func:`store_row` picks the streaming store where it is allowed (same float dtype; the
    aligned middle of the row) and a plain copy otherwise, when numba compiles the caller.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = ["STREAM_BYTES", "prefetch_read", "prefetch_write", "store_fence", "store_row"]

_I32 = ir.IntType(32)

#: bytes of one streaming store (one AVX vector), which must start on a multiple of them
STREAM_BYTES = 32


def _make_prefetch(write: int):
    """An intrinsic ``f(array, index)`` hinting element ``index`` of a C-contiguous array."""

    @intrinsic
    def prefetch(typingctx, array, index):
        if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
            return None
        signature = types.void(array, index)

        def codegen(context, builder, sig, args):
            data = context.make_array(sig.args[0])(context, builder, args[0]).data
            offset = context.cast(builder, args[1], sig.args[1], types.intp)
            pointer = builder.bitcast(builder.gep(data, [offset]), ir.IntType(8).as_pointer())
            fnty = ir.FunctionType(ir.VoidType(), [pointer.type, _I32, _I32, _I32])
            function = cgutils.get_or_insert_function(builder.module, fnty,
                                                      "llvm.prefetch.p0i8")
            # (address, read 0 / write 1, locality 3 = keep in all cache levels, data cache)
            builder.call(function, [pointer, ir.Constant(_I32, write), ir.Constant(_I32, 3),
                                    ir.Constant(_I32, 1)])
            return context.get_dummy_value()

        return signature, codegen

    return prefetch


#: ``prefetch_read(array, index)``: hint that element ``index`` of ``array`` will be read
prefetch_read = _make_prefetch(0)
#: ``prefetch_write(array, index)``: hint that element ``index`` of ``array`` will be written
prefetch_write = _make_prefetch(1)


@intrinsic
def _stream_block(typingctx, dst, index, src):
    """Copy ``STREAM_BYTES`` from ``src[index:]`` to ``dst[index:]`` with a streaming store;
    ``&dst[index]`` must be ``STREAM_BYTES``-aligned (the caller checks)."""
    if not (isinstance(dst, types.Array) and isinstance(src, types.Array)
            and isinstance(index, types.Integer) and dst.dtype == src.dtype
            and isinstance(dst.dtype, types.Float) and dst.layout == src.layout == "C"):
        return None
    signature = types.void(dst, index, src)

    def codegen(context, builder, sig, args):
        element = context.get_data_type(sig.args[0].dtype)
        lanes = STREAM_BYTES // context.get_abi_sizeof(element)
        vector = ir.VectorType(element, lanes)
        offset = context.cast(builder, args[1], sig.args[1], types.intp)
        source = context.make_array(sig.args[2])(context, builder, args[2]).data
        target = context.make_array(sig.args[0])(context, builder, args[0]).data
        value = builder.load(builder.bitcast(builder.gep(source, [offset]),
                                             vector.as_pointer()), align=1)
        store = builder.store(value, builder.bitcast(builder.gep(target, [offset]),
                                                     vector.as_pointer()), align=STREAM_BYTES)
        store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(_I32, 1)]))
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def store_fence(typingctx):
    """Order every earlier store (streaming ones included) before every later one."""
    signature = types.void()

    def codegen(context, builder, sig, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return signature, codegen


def store_row(dst, src, stream):
    """``dst[:] = src`` (converting), with streaming stores where ``stream`` is true and
    ``dst`` and ``src`` share a float dtype: the values before ``dst``'s first
    :data:`STREAM_BYTES` boundary and after its last whole block are stored plainly (as is
    all of a ``dst`` not aligned to its own itemsize). With ``stream`` the caller calls
    :func:`store_fence` before the data is read by another thread.

    Called from Python (outside numba) it is a plain copy: streaming stores exist only in
    the compiled overload below.
    """
    dst[:] = src


@overload(store_row, inline="always")
def _store_row_overload(dst, src, stream):
    if dst.dtype == src.dtype and isinstance(dst.dtype, types.Float):
        itemsize = dst.dtype.bitwidth // 8
        lanes = STREAM_BYTES // itemsize

        def streamed(dst, src, stream):
            n = dst.size
            address = dst.ctypes.data
            # [start, stop) is streamed, whole aligned blocks; empty unless allowed. Written
            # without a branch: numba's SSA pass warns about variables assigned in an
            # ``if`` of an inlined overload
            allowed = int(stream) * int(address % itemsize == 0)
            head = min(n, ((STREAM_BYTES - address % STREAM_BYTES) % STREAM_BYTES) // itemsize)
            start = head * allowed
            stop = start + (n - start) // lanes * lanes * allowed
            for x in range(start):
                dst[x] = src[x]
            for x in range(start, stop, lanes):
                _stream_block(dst, x, src)
            for x in range(stop, n):
                dst[x] = src[x]

        return streamed

    def plain(dst, src, stream):
        for x in range(dst.size):
            dst[x] = src[x]

    return plain

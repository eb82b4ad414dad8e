//! The one thread-local of the glue, there only for its alignment.
//!
//! Why: on x86_64 macOS, Zig's Mach-O linker once laid out a consumer's thread-local data
//! (`__thread_data`) at the alignment of the first input that defined it. A Rust static library
//! whose thread-locals were all 8-aligned came first, and a C++ consumer's 16-aligned
//! thread-locals were then misaligned, crashing on aligned SSE loads. Shipping one initialized,
//! 16-aligned thread-local makes our own TLS data section 16-aligned, so whatever order the linker
//! sees the inputs in, the section alignment it picks is at least 16.
//!
//! Requirements, each checked by `c-tests/check-tdata.sh` on the built `libmultisig_glue.a`:
//! - initialized with non-zero bytes, so it lands in `.tdata` (`__thread_data`), not `.tbss`;
//! - `#[repr(align(16))]`;
//! - used by every export (read in the panic boundary), so no optimizer or linker drops it.
//!
//! Errors never travel through it: it holds a constant.

/// 16 bytes aligned to 16.
#[repr(C, align(16))]
pub(crate) struct Align16(pub(crate) [u8; 16]);

thread_local! {
    /// A constant, non-zero, 16-aligned thread-local (see the module docs).
    static MSIG_TLS_ALIGN16: Align16 = const { Align16(*b"msig-tls-align16") };
}

/// Reads the thread-local so it stays in the link; returns its first byte.
#[inline(never)]
pub(crate) fn touch() -> u8 {
    MSIG_TLS_ALIGN16.with(|a| std::hint::black_box(&a.0)[0])
}

#[cfg(test)]
mod tests {
    #[test]
    fn tls_value_is_initialized_and_aligned() {
        assert_eq!(super::touch(), b'm');
        super::MSIG_TLS_ALIGN16.with(|a| assert_eq!(a as *const _ as usize % 16, 0));
    }
}

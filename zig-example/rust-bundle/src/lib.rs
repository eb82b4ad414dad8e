//! A client's single Rust static library (`libmsig_zig_bundle.a`), as zeam builds one: every
//! Rust library the client uses is a dependency, linked in as an rlib, and this crate is the only
//! `staticlib`. The final executable then links one Rust archive: one copy of the standard
//! library, of the allocator shim (`__rust_alloc` and friends) and of the panic runtime. Linking
//! two Rust staticlibs instead duplicates them, which macOS's linker rejects.
//!
//! The C functions of `multisig-glue` (`msig_*`, declared in `include/multisig.h`) are
//! `#[no_mangle] pub extern "C"`; a staticlib keeps every such symbol of every crate it links,
//! but rustc links a dependency only if the crate refers to it: the `extern crate` below does.

// Links the glue rlib in; its `msig_*` exports end up in this archive unchanged.
extern crate multisig_glue;

/// Where a client's other Rust code would go: a C-callable function of the bundle itself,
/// declared by hand on the Zig side (`src/main.zig`). Returns the major version of the glue it
/// bundles, so the example can check that both halves of the archive are there.
#[no_mangle]
pub extern "C" fn bundle_glue_version_major() -> u32 {
    multisig_glue::MSIG_VERSION_MAJOR
}

/// Panics and catches the panic, as the glue does at its C boundary, and reports whether the
/// panic was caught (`true`). A panic unwinds through the unwinder the final executable links
/// (`-lunwind` or `-lgcc_s`); with a missing or broken one, the process would abort here
/// instead, so the Zig test calls it to check the link. The default panic hook, which would print
/// a message, is swapped out for the duration.
#[no_mangle]
pub extern "C" fn bundle_unwinder_works() -> bool {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let caught =
        std::panic::catch_unwind(|| panic!("bundle_unwinder_works: a test panic")).is_err();
    std::panic::set_hook(hook);
    caught
}

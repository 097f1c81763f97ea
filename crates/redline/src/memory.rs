//! Gives freed heap back to the system after the daemon's one-off passes (the history scan,
//! the store's replay and compaction, the first rollups). glibc keeps freed memory for
//! reuse unless it sits at the very top of the heap, so a daemon that allocated 20 MB once
//! while starting would otherwise carry it for its whole life; `malloc_trim` returns the
//! free pages. Elsewhere (musl, macOS) there is nothing to do.

/// Returns free heap pages to the system.
#[allow(unsafe_code)]
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer of ours; it walks glibc's own free lists under
    // their locks and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Keeps large allocations (the dedup index's tables, the scan index's bytes) in their
/// own mappings, returned to the system when freed. glibc raises
/// this threshold each time such a mapping is freed, after which blocks of that size come
/// from the heap and stay with the process: a one-shot report's peak then grows by what
/// one pass freed and the next could not reuse.
#[allow(unsafe_code)]
pub fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two integers and only sets glibc's own tunables.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

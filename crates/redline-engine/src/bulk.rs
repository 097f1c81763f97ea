//! Large buffers filled once and read through: the scan index read whole, a report's
//! responses. Each page of a fresh buffer costs a fault when it is first written (3,000
//! for a 12 MB index, 1,800 for 300k report items): a warm report spends milliseconds on
//! them. Where the system offers transparent huge pages on request (Linux's `madvise`
//! setting, the common default), such a buffer asks for them, and 2 MB pages fault 512
//! times less often. Elsewhere, or when the system says no, nothing changes: the advice
//! never changes what the buffer holds.

/// Below this, a buffer is left to the allocator as it is (it would not hold a whole 2 MB
/// page worth asking for).
const WORTH_ASKING: usize = 4 << 20;

/// An empty vector with room for `n` items, its room asked to be backed by huge pages
/// when it is large (see the module docs).
pub fn vec_with_capacity<T>(n: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(n);
    let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
    if bytes >= WORTH_ASKING {
        advise_huge(v.as_ptr().cast::<u8>(), bytes);
    }
    v
}

/// The whole file at `path`, in a buffer from [`vec_with_capacity`]. A file that grows
/// while it is read is read to its end (as [`std::fs::read`] does).
pub fn read(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata().map_or(0, |m| m.len());
    let mut buf = vec_with_capacity(usize::try_from(len).unwrap_or(0));
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// An empty vector with room for `n` items, whose memory the system is asked to put in
/// place at once (Linux's `MADV_POPULATE_WRITE`): one call instead of a fault per page
/// when the items are written, which may be at a moment that costs more (another thread
/// waiting). Where the system cannot, a plain vector: the pages come as they are written.
pub fn vec_in_place<T>(n: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(n);
    let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
    populate(v.as_ptr().cast::<u8>(), bytes);
    v
}

/// The whole pages of `[at, at + len)`, start and end rounded inwards.
#[cfg(target_os = "linux")]
fn whole_pages(at: *const u8, len: usize) -> Option<(usize, usize)> {
    const PAGE: usize = 4096;
    let start = (at as usize).next_multiple_of(PAGE);
    let end = (at as usize).saturating_add(len) / PAGE * PAGE;
    (end > start).then(|| (start, end - start))
}

/// Asks for the whole pages of `[at, at + len)` to be put in place for writing.
fn populate(at: *const u8, len: usize) {
    #[cfg(target_os = "linux")]
    advise(at, len, libc::MADV_POPULATE_WRITE);
    #[cfg(not(target_os = "linux"))]
    let _ = (at, len);
}

/// Asks for huge pages for the whole pages of `[at, at + len)`.
fn advise_huge(at: *const u8, len: usize) {
    #[cfg(target_os = "linux")]
    advise(at, len, libc::MADV_HUGEPAGE);
    #[cfg(not(target_os = "linux"))]
    let _ = (at, len);
}

/// `madvise` on the whole pages of `[at, at + len)`. Advice only: a refusal (no such
/// setting, an older kernel) changes nothing.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise(at: *const u8, len: usize, advice: libc::c_int) {
    let Some((start, len)) = whole_pages(at, len) else {
        return;
    };
    // SAFETY: the range lies within an allocation this process owns and holds; the
    // advice changes how and when its pages are backed, never what they hold.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, advice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_whole_is_its_bytes() {
        let path = std::env::temp_dir().join(format!("redline-bulk-{}", std::process::id()));
        // Large enough to ask for huge pages, and not a whole number of pages.
        let bytes: Vec<u8> = (0..(WORTH_ASKING + 12_345) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        let got = read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got, bytes);
        assert!(read(std::path::Path::new("/nonexistent/redline-bulk")).is_err());
    }

    #[test]
    fn a_large_vector_holds_what_is_put_in_it() {
        let mut v: Vec<u64> = vec_with_capacity(1 << 20);
        assert!(v.capacity() >= 1 << 20);
        v.extend(0..1u64 << 20);
        assert_eq!(v.iter().sum::<u64>(), ((1u64 << 20) - 1) * (1 << 20) / 2);
        let small: Vec<u8> = vec_with_capacity(10);
        assert!(small.capacity() >= 10);
    }

    #[test]
    fn a_vector_in_place_holds_what_is_put_in_it() {
        for n in [0, 1, 3_000, 100_000] {
            let mut v: Vec<u32> = vec_in_place(n);
            assert!(v.capacity() >= n);
            v.extend(0..n as u32);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));
        }
    }
}

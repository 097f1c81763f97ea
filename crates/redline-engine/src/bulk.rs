//! Large buffers filled once and read through: the scan index (mapped from the page cache
//! where the system can, see [`FileBytes`]: no copy and no fresh memory), a report's
//! responses, the ledger's chunks. Each page of a fresh buffer costs a fault when it is
//! first written (1,800 for 300k report items), and on a virtual machine whose host backs
//! its memory lazily, a fault can cost ten times more than on bare metal. Where the
//! system offers transparent huge pages on request (Linux's `madvise` setting, the common
//! default), a large buffer asks for them, and 2 MB pages fault 512 times less often.
//! Elsewhere, or when the system says no, nothing changes: the advice never changes what
//! the buffer holds.

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

/// The rest of `f` (`len` bytes long when it was looked at), in a buffer from
/// [`vec_with_capacity`]. A file that grows while it is read is read to its end (as
/// [`std::fs::read`] does).
fn read_rest(mut f: std::fs::File, len: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = vec_with_capacity(usize::try_from(len).unwrap_or(0));
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// A whole file's bytes, for reading only: mapped from the system's page cache where it
/// can (Linux), else read into a buffer ([`read`]). A mapped file costs no copy and no
/// fresh memory: its pages are the cache's own, already in memory for a file read often.
///
/// Only for files that are replaced whole (written aside, then renamed over), never
/// written in place: the mapping shows the file as it is, and a file cut short under it
/// would fault. The scan index is such a file.
#[derive(Debug)]
pub struct FileBytes(Held);

#[derive(Debug)]
enum Held {
    Read(Vec<u8>),
    #[cfg(target_os = "linux")]
    Mapped {
        at: *const u8,
        len: usize,
    },
}

// SAFETY: the mapping is private and read-only, owned by this value alone, and
// unmapped only when it is dropped: like a `Box<[u8]>`, it can move to and be read from
// any thread.
#[allow(unsafe_code)]
unsafe impl Send for FileBytes {}
// SAFETY: as above; nothing writes through it.
#[allow(unsafe_code)]
unsafe impl Sync for FileBytes {}

impl FileBytes {
    /// The whole file at `path` (see the type's docs).
    pub fn of(path: &std::path::Path) -> std::io::Result<FileBytes> {
        let f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        #[cfg(target_os = "linux")]
        if let Some(held) = map(&f, len) {
            return Ok(FileBytes(held));
        }
        read_rest(f, len).map(|b| FileBytes(Held::Read(b)))
    }

    /// Whether the bytes are the page cache's own (for the tests).
    pub fn is_mapped(&self) -> bool {
        !matches!(self.0, Held::Read(_))
    }
}

impl From<Vec<u8>> for FileBytes {
    fn from(bytes: Vec<u8>) -> FileBytes {
        FileBytes(Held::Read(bytes))
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    #[allow(unsafe_code)]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Held::Read(b) => b,
            // SAFETY: `at` is a live read-only mapping of `len` bytes (made by `map`,
            // unmapped only in `drop`).
            #[cfg(target_os = "linux")]
            Held::Mapped { at, len } => unsafe { std::slice::from_raw_parts(*at, *len) },
        }
    }
}

impl Drop for FileBytes {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Held::Mapped { at, len } = self.0 {
            // SAFETY: the mapping `map` made, unmapped once, here; no slice of it
            // outlives `self`.
            #[allow(unsafe_code)]
            unsafe {
                libc::munmap(at as *mut libc::c_void, len);
            }
        }
    }
}

/// Maps the `len` bytes of `f` read-only, its pages put in place at once (`None` for an
/// empty file, or when the system says no: the caller reads it instead).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn map(f: &std::fs::File, len: u64) -> Option<Held> {
    use std::os::fd::AsRawFd;
    let len = usize::try_from(len).ok().filter(|&l| l > 0)?;
    // SAFETY: a fresh private read-only mapping of an open file; the kernel checks the
    // arguments, and a failure is `MAP_FAILED`, nothing else.
    let at = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_POPULATE,
            f.as_raw_fd(),
            0,
        )
    };
    (at != libc::MAP_FAILED).then_some(Held::Mapped {
        at: at.cast::<u8>().cast_const(),
        len,
    })
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
        let dir = std::env::temp_dir();
        let path = dir.join(format!("redline-bulk-{}", std::process::id()));
        // Large enough to ask for huge pages, and not a whole number of pages.
        let bytes: Vec<u8> = (0..(WORTH_ASKING + 12_345) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        let got = FileBytes::of(&path).unwrap();
        assert_eq!(got.is_mapped(), cfg!(target_os = "linux"));
        // Replaced whole (as the index is) while it is held: what was read stays.
        let aside = dir.join(format!("redline-bulk-{}.new", std::process::id()));
        std::fs::write(&aside, b"another file").unwrap();
        std::fs::rename(&aside, &path).unwrap();
        assert!(*got == *bytes);
        // Moved between threads and read there.
        let sum = std::thread::spawn(move || got.iter().map(|&b| u64::from(b)).sum::<u64>())
            .join()
            .unwrap();
        assert_eq!(sum, bytes.iter().map(|&b| u64::from(b)).sum::<u64>());
        assert_eq!(&*FileBytes::of(&path).unwrap(), b"another file");
        std::fs::write(&path, b"").unwrap();
        let empty = FileBytes::of(&path).unwrap();
        assert!(empty.is_empty() && !empty.is_mapped());
        std::fs::remove_file(&path).unwrap();
        assert!(FileBytes::of(std::path::Path::new("/nonexistent/redline-bulk")).is_err());
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

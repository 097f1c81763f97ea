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

/// Room for items written one after another, which knows how many it holds: the writer
/// [`in_two`] hands each thread.
pub struct Slots<'a, T> {
    room: &'a mut [std::mem::MaybeUninit<T>],
    len: usize,
}

impl<T> Slots<'_, T> {
    /// Puts `x` after the items already here.
    ///
    /// # Panics
    /// When the room is full: a caller is given room for every item it may make.
    pub fn push(&mut self, x: T) {
        self.room[self.len].write(x);
        self.len += 1;
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// At most `n` items made by `fill` into a buffer from [`vec_with_capacity`], and what
/// `fill` gave back.
pub fn made<T: Copy, A>(n: usize, fill: impl FnOnce(&mut Slots<'_, T>) -> A) -> (Vec<T>, A) {
    let mut v: Vec<T> = vec_with_capacity(n);
    let mut slots = Slots {
        room: &mut v.spare_capacity_mut()[..n],
        len: 0,
    };
    let a = fill(&mut slots);
    let made = slots.len;
    #[allow(unsafe_code)]
    // SAFETY: `Slots::push` writes each item before counting it: the first `made`
    // places hold items.
    unsafe {
        v.set_len(made);
    }
    (v, a)
}

/// At most `n` items made in two parts at once, straight into one buffer (from
/// [`vec_with_capacity`]): `first` on this thread, given room for `cut` items, and
/// `second` on a thread of its own, given room for the rest. The second part's items
/// follow the first's (moved down when the first made fewer than `cut`).
///
/// Made apart and then joined, the second part would take fresh memory twice (its own
/// buffer, then its place in the whole), and be copied by one thread while the other
/// waits.
pub fn in_two<T: Copy + Send, A, B: Send>(
    n: usize,
    cut: usize,
    first: impl FnOnce(&mut Slots<'_, T>) -> A,
    second: impl FnOnce(&mut Slots<'_, T>) -> B + Send,
) -> (Vec<T>, A, B) {
    let cut = cut.min(n);
    let mut v: Vec<T> = vec_with_capacity(n);
    let (head, tail) = v.spare_capacity_mut()[..n].split_at_mut(cut);
    let (mut head, mut tail) = (Slots { room: head, len: 0 }, Slots { room: tail, len: 0 });
    let (a, b) = beside(|| first(&mut head), || second(&mut tail));
    let (made_first, made_second) = (head.len, tail.len);
    let room = v.spare_capacity_mut();
    room.copy_within(cut..cut + made_second, made_first);
    #[allow(unsafe_code)]
    // SAFETY: `Slots::push` writes each item before counting it, so the first
    // `made_first` places hold the first part's items and, once moved, the next
    // `made_second` the second's; `T: Copy`, so the moved-from places need no dropping.
    unsafe {
        v.set_len(made_first + made_second);
    }
    (v, a, b)
}

/// `first()` on this thread and `second()` on one of its own, both done when it returns
/// (a panic in either goes on in the caller).
pub fn beside<A, B: Send>(first: impl FnOnce() -> A, second: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|s| {
        let second = s.spawn(second);
        let a = first();
        let b = second
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    })
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
/// can (Linux), else read into a buffer. A mapped file costs no copy and no
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
    fn two_parts_made_at_once_follow_each_other() {
        // Parts that use all their room, leave some, or make nothing.
        for (n, cut, keep_first, keep_second) in [
            (10_000, 5_000, 5_000, 5_000),
            (10_000, 5_000, 1_234, 4_999),
            (10_000, 4_000, 0, 6_000),
            (7, 3, 3, 0),
            (0, 0, 0, 0),
        ] {
            let (v, a, b) = in_two(
                n,
                cut,
                |s: &mut Slots<'_, u32>| {
                    (0..keep_first as u32).for_each(|i| s.push(i));
                    s.len()
                },
                |s: &mut Slots<'_, u32>| {
                    (0..keep_second as u32).for_each(|i| s.push(1_000_000 + i));
                    s.len()
                },
            );
            assert_eq!((a, b), (keep_first, keep_second));
            let want: Vec<u32> = (0..keep_first as u32)
                .chain((0..keep_second as u32).map(|i| 1_000_000 + i))
                .collect();
            assert_eq!(v, want, "{n} {cut}");
        }
        let (v, made_) = made(10, |s: &mut Slots<'_, u8>| {
            (0..4).for_each(|i| s.push(i));
            s.len()
        });
        assert_eq!((v, made_), (vec![0, 1, 2, 3], 4));
    }

    #[test]
    #[should_panic]
    fn a_part_cannot_make_more_than_its_room() {
        in_two(
            4,
            2,
            |s: &mut Slots<'_, u8>| (0..3).for_each(|i| s.push(i)),
            |_| {},
        );
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

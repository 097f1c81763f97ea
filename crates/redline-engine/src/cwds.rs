//! Where a session worked: the working directories (`cwd`) and branches (`gitBranch`)
//! its transcript lines name, for the git correlation ([`crate::git`]). The accounting
//! scan reads only usage and keeps 80 bytes a response, so this is a light pass of its
//! own over the files of the sessions asked about: each line is searched for the two
//! keys (a byte search, no JSON parse of the line), and only the two strings are
//! decoded. A session may move (`cd` into a subdirectory or another repository), so
//! every distinct directory is kept, in the order first seen.
//!
//! A reading can go on where the last one stopped ([`Places::offset`]): the daemon reads
//! an active session's new lines only.

use std::io::{self, Seek, SeekFrom};
use std::path::Path;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use crate::reader::{MAX_LINE_BYTES, Piece, Start, open_regular, read_lines};

static CWD: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"cwd\":"));
static BRANCH: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"gitBranch\":"));

/// The directories and branches of one transcript file, as read so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Places {
    /// Distinct working directories, in the order first seen.
    pub cwds: Vec<String>,
    /// Distinct non-empty branches, in the order first seen.
    pub branches: Vec<String>,
    /// The branch of the last line that named one (empty names passed over).
    pub last_branch: Option<String>,
    /// Bytes read: the next [`Places::read`] starts here.
    pub offset: u64,
}

impl Places {
    /// Reads the complete lines of `path` after [`Places::offset`] (from the start again
    /// when the file is now shorter: it was replaced) and notes what they name.
    pub fn read(&mut self, path: &Path) -> io::Result<()> {
        let mut file = open_regular(path)?;
        let len = file.metadata()?.len();
        if len < self.offset {
            *self = Places::default();
        }
        if len == self.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        let start = Start {
            line: 1,
            skipping: None,
        };
        let end = read_lines(&file, start, false, MAX_LINE_BYTES, &mut buf, |_, piece| {
            if let Piece::Line(line) = piece {
                self.note(line);
            }
        })?;
        self.offset += end.consumed;
        Ok(())
    }

    /// Notes what one line names.
    pub fn note(&mut self, line: &[u8]) {
        if let Some(cwd) = string_after(line, &CWD)
            && !cwd.is_empty()
            && !self.cwds.contains(&cwd)
        {
            self.cwds.push(cwd);
        }
        if let Some(branch) = string_after(line, &BRANCH)
            && !branch.is_empty()
        {
            if !self.branches.contains(&branch) {
                self.branches.push(branch.clone());
            }
            self.last_branch = Some(branch);
        }
    }
}

/// The JSON string after the first occurrence of `key` (a `"name":` pattern), decoded;
/// `None` when the value is not a string.
fn string_after(line: &[u8], key: &Finder<'_>) -> Option<String> {
    let at = key.find(line)? + key.needle().len();
    let rest = line[at..].trim_ascii_start();
    if rest.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < rest.len() {
        match rest[i] {
            b'\\' => i += 2,
            b'"' => return serde_json::from_slice(&rest[..=i]).ok(),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_and_branches_are_kept_once_in_order() {
        let mut p = Places::default();
        for line in [
            br#"{"type":"summary","summary":"x"}"#.as_slice(),
            br#"{"parentUuid":null,"cwd":"/home/me/app","sessionId":"s","gitBranch":"main","type":"user"}"#,
            br#"{"cwd": "/home/me/app/sub", "gitBranch": "feature/x"}"#,
            br#"{"cwd":"/home/me/app","gitBranch":""}"#,
            br#"{"cwd":"C:\\Users\\me\\\"q\"","gitBranch":"main"}"#,
            br#"{"cwd":null}"#,
        ] {
            p.note(line);
        }
        assert_eq!(
            p.cwds,
            ["/home/me/app", "/home/me/app/sub", "C:\\Users\\me\\\"q\""]
        );
        assert_eq!(p.branches, ["main", "feature/x"]);
        assert_eq!(p.last_branch.as_deref(), Some("main"));
    }

    #[test]
    fn a_reading_goes_on_where_the_last_stopped() {
        let d = std::env::temp_dir().join(format!("redline-cwds-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("s.jsonl");
        std::fs::write(&f, "{\"cwd\":\"/a\"}\n{\"cwd\":\"/b\"").unwrap();
        let mut p = Places::default();
        p.read(&f).unwrap();
        // The unfinished last line waits for its newline.
        assert_eq!((p.cwds.clone(), p.offset), (vec!["/a".to_owned()], 13));
        std::fs::write(&f, "{\"cwd\":\"/a\"}\n{\"cwd\":\"/b\"}\n").unwrap();
        p.read(&f).unwrap();
        assert_eq!(p.cwds, ["/a", "/b"]);
        // Replaced by a shorter file: read from its start again.
        std::fs::write(&f, "{\"cwd\":\"/c\"}\n").unwrap();
        p.read(&f).unwrap();
        assert_eq!(p.cwds, ["/c"]);
        let _ = std::fs::remove_dir_all(&d);
    }
}

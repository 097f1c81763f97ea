//! Scenario files as tests, for `scenarios.rs` and `lamp_rules.rs`: one `#[test]` per
//! `tests/<dir>/<name>.scn`, and a test that the directory holds exactly the files
//! listed (a file nobody lists would never run). Included by path, so it is no test
//! target of its own.

/// `scn_files!("dir", run, every_file_is_listed: a, b, c)` declares `fn a()` ... as
/// tests calling `run("a")`, and `every_file_is_listed` comparing the list with the
/// directory.
macro_rules! scn_files {
    ($dir:literal, $run:ident, $check:ident: $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $run(stringify!($name));
            }
        )*

        #[test]
        fn $check() {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/", $dir);
            let mut found: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| {
                    let name = e.unwrap().file_name().into_string().unwrap();
                    name.strip_suffix(".scn").map(str::to_owned)
                })
                .collect();
            found.sort();
            let mut listed: Vec<&str> = vec![$(stringify!($name)),*];
            listed.sort();
            assert_eq!(found, listed, concat!("tests/", $dir, "/*.scn and the list differ"));
        }
    };
}

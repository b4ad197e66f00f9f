//! Azure Resource Manager in tests: the recorded traffic in
//! `tests/fixtures/azure` ([`cassette`]; another folder with
//! `AZLIN_ARM_FIXTURES`, see [`fixtures_dir`]), replayed by a fake ARM
//! server ([`fake`]), which can also emulate ARM ([`emulator`]) beside a
//! strict fake Blob endpoint ([`blob`]).

pub mod azure_env;
pub mod blob;
pub mod boot;
pub mod cassette;
pub mod emulator;
pub mod fake;
pub mod http;
pub mod stand_in;

use std::path::PathBuf;

/// The environment variable that points the fixture-driven tests at
/// another folder of ARM fixtures.
pub const FIXTURES_ENV: &str = "AZLIN_ARM_FIXTURES";

/// The folder of Azure fixtures every fixture-driven test and tool reads
/// (`arm_fixtures`, `arm_client`, `azure-bench`): the one in this
/// repository, `tests/fixtures/azure` (found from this crate's
/// `CARGO_MANIFEST_DIR`, so a clone needs nothing beside it), or the folder
/// named by `AZLIN_ARM_FIXTURES=DIR` when that is set and not empty. Either
/// has the same layout: `recordings/<source>/<module>/*.yaml` (vcrpy
/// cassettes) and `specs-examples/<rp>/…/*.json` (the REST specs'
/// examples); see the bundled folder's `README.md` for its provenance.
///
/// Panics, naming the folder, when it has neither `recordings/` nor
/// `specs-examples/`.
pub fn fixtures_dir() -> PathBuf {
    let (dir, from) = match std::env::var_os(FIXTURES_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => (PathBuf::from(dir), FIXTURES_ENV),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/azure"),
            "the repository's tests/fixtures/azure",
        ),
    };
    assert!(
        dir.join("recordings").is_dir() || dir.join("specs-examples").is_dir(),
        "{} ({from}) holds no Azure fixtures: expected recordings/ and specs-examples/ in it",
        dir.display()
    );
    dir
}

/// A query string's parameters, percent-decoded (`+` is a space), as the
/// fakes read them.
pub fn parse_query(query: &str) -> std::collections::BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `%XX` escapes decoded, `+` as a space; a `%` not followed by two hex
/// digits stays as it is.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

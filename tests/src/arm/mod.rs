//! Azure Resource Manager in tests: the recorded traffic in
//! `tests/fixtures/azure` ([`cassette`]; another folder with
//! `AZLIN_ARM_FIXTURES`, see [`fixtures_dir`]), replayed by a fake ARM
//! server ([`fake`]), which can also emulate ARM ([`emulator`]) beside a
//! strict fake Blob endpoint ([`blob`]).

pub mod blob;
pub mod boot;
pub mod cassette;
pub mod emulator;
pub mod fake;

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

//! Azure Resource Manager in tests: the recorded traffic in
//! `shared/fixtures/azure` ([`cassette`]), replayed by a fake ARM server
//! ([`fake`]).

pub mod boot;
pub mod cassette;
pub mod emulator;
pub mod fake;

use std::path::PathBuf;

/// `shared/fixtures/azure`, beside the repository (as the session and CI
/// lay it out).
pub fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/azure");
    assert!(
        dir.join("README.md").is_file(),
        "{} is missing: the Azure fixtures live in shared/ beside the repository",
        dir.display()
    );
    dir
}
